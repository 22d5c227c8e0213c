"""One FreshBooks accounting account behind the accounting port.

- **One draft per Timebridge invoice**: FreshBooks has no idempotency key, so ``po_number``
  carries the invoice id and :meth:`~timebridge_providers.freshbooks.client.FreshBooksClient.
  ensure_invoice` looks it up before creating and after an unknown outcome.
- **Changes**: active and archived clients, deleted ones (as archived), invoices and payments
  (deleted ones too) updated since; the cursor is the latest change seen, never later than the
  read's start less a minute of clock skew.
- **Webhooks are per account**: a callback per followed noun, verified with the verifier
  FreshBooks posts to it.
"""

import datetime as dt
from collections.abc import Callable

from pydantic import ValidationError

from timebridge_common.outbound.http import NotFoundError, OutcomeUnknownError
from timebridge_providers.freshbooks.client import FreshBooksClient
from timebridge_providers.freshbooks.translate import (
    draft_line,
    tool_client,
    tool_invoice,
    tool_payment,
)
from timebridge_providers.freshbooks.wire import InvoiceDraft, VisState
from timebridge_providers.kit.accounting import cursor, latest, number_id, refused
from timebridge_providers.kit.ports.accounting import (
    ExportDraft,
    ToolChanges,
    ToolClient,
    ToolInvoice,
    ToolPayment,
    gone_invoice,
    gone_payment,
)

EVENTS = ("client", "invoice", "payment")
"""FreshBooks callbacks registered per account: a noun gets all its events (create, update,
delete, sendByEmail...)."""


class FreshBooksTool:
    """One FreshBooks accounting account."""

    def __init__(self, client: FreshBooksClient, *, clock: Callable[[], dt.datetime]) -> None:
        self._client = client
        self._clock = clock

    async def active_clients(self) -> list[ToolClient]:
        return [tool_client(c) async for c in self._client.clients()]

    async def client(self, external_id: str) -> ToolClient | None:
        try:
            return tool_client(await self._client.client(int(external_id)))
        except (ValueError, NotFoundError):
            return None

    async def changes(self, since: dt.datetime) -> ToolChanges:
        """Active and archived clients, deleted ones (as archived), invoices and payments
        (deleted ones too)."""
        started = self._clock()
        clients = [c async for c in self._client.clients(vis_state=None, updated_since=since)]
        deleted = self._client.clients(vis_state=VisState.DELETED, updated_since=since)
        clients += [c async for c in deleted]
        invoices = [i async for i in self._client.invoices(updated_since=since)]
        payments = [p async for p in self._client.payments(updated_since=since)]
        last = latest(
            [
                *(c.updated for c in clients),
                *(i.updated for i in invoices),
                *(p.updated for p in payments),
            ]
        )
        return ToolChanges(
            clients=tuple(tool_client(c) for c in clients),
            invoices=tuple(tool_invoice(i) for i in invoices),
            deleted_invoice_ids=(),
            cursor=cursor(last, started),
            payments=tuple(tool_payment(p) for p in payments),
        )

    async def invoice(self, external_id: str) -> ToolInvoice:
        try:
            return tool_invoice(await self._client.invoice(int(external_id)))
        except (ValueError, NotFoundError):
            return gone_invoice(external_id)

    async def payment(self, external_id: str) -> ToolPayment | None:
        try:
            return tool_payment(await self._client.payment(int(external_id)))
        except (ValueError, NotFoundError):
            return gone_payment(external_id)

    async def invoice_payments(self, invoice_external_id: str) -> list[ToolPayment]:
        try:
            invoice_id = int(invoice_external_id)
        except ValueError:
            return []
        return [tool_payment(p) async for p in self._client.payments(invoice_id=invoice_id)]

    async def export(self, draft: ExportDraft) -> ToolInvoice:
        customer = number_id("FreshBooks", "client", draft.client_external_id)
        offset = 0 if draft.due_date is None else (draft.due_date - draft.issue_date).days
        try:
            invoice = InvoiceDraft(
                customerid=customer,
                create_date=draft.issue_date,
                currency_code=draft.currency,
                po_number=draft.invoice_id,
                lines=tuple(draft_line(line, draft.currency) for line in draft.lines),
                notes=draft.note,
                due_offset_days=max(0, offset),
            )
        except ValidationError as exc:
            raise refused("FreshBooks", draft, exc) from exc
        return tool_invoice(await self._client.ensure_invoice(invoice))

    async def ensure_webhooks(self, url: str) -> list[str]:
        """A callback per :data:`EVENTS` at ``url``, unless one is there: a verified one is
        kept, an unverified one gets its verification posted again (the first may have been
        lost). Returns the ids of the callbacks now awaiting verification, as FreshBooks'
        answers name them (only those may be confirmed)."""
        existing = await self._client.callbacks()
        awaiting: list[str] = []
        for event in EVENTS:
            mine = [c for c in existing if c.uri == url and c.event == event]
            if any(c.verified for c in mine):
                continue
            if mine:
                await self._client.resend_verification(mine[0].callbackid)
                awaiting.append(str(mine[0].callbackid))
                continue
            try:
                created = await self._client.create_callback(event, url)
            except OutcomeUnknownError:
                again = await self._client.callbacks()
                found = [c for c in again if c.uri == url and c.event == event]
                if not found:
                    raise
                created = found[0]
            awaiting.append(str(created.callbackid))
        return awaiting

    async def verify_webhook_registration(self, registration_id: str, verifier: str) -> None:
        callback_id = number_id("FreshBooks", "callback", registration_id)
        await self._client.verify_callback(callback_id, verifier)

    async def aclose(self) -> None:
        await self._client.aclose()
