"""One Xero organisation (tenant) behind the accounting port.

- **One draft per Timebridge invoice**: the invoice id is the ``Reference`` (looked up first, so
  a repeat hours later finds the first copy) and the ``Idempotency-Key`` (which covers the
  client's own retries for the few minutes Xero keeps it).
- Lines carry the configured sales account code if any (drafts need none) and
  ``LineAmountTypes`` ``Exclusive``, so Xero adds the tax as the organisation set it up. Xero
  invoices have no note.
- **Changes**: contacts (archived ones too), invoices, payments (deleted ones too) and customers'
  overpayments (as payments of the invoices they are allocated to) modified since; the cursor
  is the latest change seen, never later than when the read began less a minute of clock skew.
- Webhooks are one subscription per app, set in Xero's developer portal: nothing per company.
"""

import datetime as dt
from collections.abc import Callable

from pydantic import ValidationError

from timebridge_common.outbound.http import NotFoundError
from timebridge_providers.kit.accounting import (
    PerAppWebhooks,
    cursor,
    idempotency_key,
    latest,
    refused,
)
from timebridge_providers.kit.ports.accounting import (
    ExportDraft,
    ExportLine,
    ToolChanges,
    ToolClient,
    ToolInvoice,
    ToolPayment,
    gone_invoice,
    gone_payment,
)
from timebridge_providers.xero.client import XeroClient
from timebridge_providers.xero.translate import (
    billable,
    tool_client,
    tool_invoice,
    tool_overpayment,
    tool_payment,
)
from timebridge_providers.xero.wire import IDEMPOTENCY_KEY_MAX, DraftInvoice, LineItem


class XeroTool(PerAppWebhooks):
    """One Xero organisation (tenant). Its webhooks are one subscription per app, set in Xero's
    developer portal."""

    def __init__(
        self, client: XeroClient, *, account_code: str | None, clock: Callable[[], dt.datetime]
    ) -> None:
        self._client = client
        self._account_code = account_code
        self._clock = clock
        self._customers: dict[str, str] = {}
        """Invoice id -> its contact, as last read (spares a read in :meth:`invoice_payments`,
        which callers make right after :meth:`invoice`)."""

    async def active_clients(self) -> list[ToolClient]:
        contacts = self._client.contacts(customers_only=False)
        return [tool_client(c) async for c in contacts if billable(c)]

    async def client(self, external_id: str) -> ToolClient | None:
        try:
            return tool_client(await self._client.contact(external_id))
        except NotFoundError:
            return None

    async def changes(self, since: dt.datetime) -> ToolChanges:
        started = self._clock()
        contacts = [
            c
            async for c in self._client.contacts(
                customers_only=False, include_archived=True, modified_since=since
            )
        ]
        invoices = [i async for i in self._client.invoices(modified_since=since)]
        payments = [p async for p in self._client.payments(modified_since=since)]
        overpayments = [o async for o in self._client.overpayments(modified_since=since)]
        last = latest(
            [
                *(c.updated_date_utc for c in contacts),
                *(i.updated_date_utc for i in invoices),
                *(p.updated_date_utc for p in payments),
                *(o.updated_date_utc for o in overpayments),
            ]
        )
        seen = [*map(tool_payment, payments), *map(tool_overpayment, overpayments)]
        return ToolChanges(
            clients=tuple(tool_client(c) for c in contacts if billable(c)),
            invoices=tuple(tool_invoice(i) for i in invoices),
            deleted_invoice_ids=(),
            cursor=cursor(last, started),
            payments=tuple(p for p in seen if p is not None),
        )

    async def invoice(self, external_id: str) -> ToolInvoice:
        try:
            found = await self._client.invoice(external_id)
        except NotFoundError:
            return gone_invoice(external_id)
        self._customers[found.invoice_id] = found.contact.contact_id
        return tool_invoice(found)

    async def payment(self, external_id: str) -> ToolPayment | None:
        """A payment, else an overpayment of that id (Xero's ids are GUIDs: never both)."""
        try:
            return tool_payment(await self._client.payment(external_id))
        except NotFoundError:
            pass
        try:
            return tool_overpayment(await self._client.overpayment(external_id))
        except NotFoundError:
            return gone_payment(external_id)

    async def invoice_payments(self, invoice_external_id: str) -> list[ToolPayment]:
        """Xero's webhooks name invoices, not payments: a payment made or deleted, or an
        overpayment allocated or de-allocated, shows as an invoice ``UPDATE``, after which the
        invoice's payments (deleted ones too) and its customer's overpayments are read (a
        de-allocated one no longer names the invoice, and must still be seen)."""
        found = [p async for p in self._client.payments(invoice_id=invoice_external_id)]
        seen = [tool_payment(p) for p in found]
        contact_id = self._customers.get(invoice_external_id)
        if contact_id is None:
            try:
                contact_id = (await self._client.invoice(invoice_external_id)).contact.contact_id
            except NotFoundError:
                contact_id = None
        if contact_id is not None:
            credits = self._client.overpayments(contact_id=contact_id)
            seen += [tool_overpayment(o) async for o in credits]
        return [p for p in seen if p is not None]

    async def export(self, draft: ExportDraft) -> ToolInvoice:
        """Look the reference up first (Xero keeps an idempotency key minutes only), then create
        with the key, which covers the client's retries of a lost answer."""
        earlier = [i async for i in self._client.invoices(reference=draft.invoice_id)]
        if earlier:
            return tool_invoice(earlier[0])
        try:
            invoice = DraftInvoice(
                contact_id=draft.client_external_id,
                line_items=tuple(self._line(line) for line in draft.lines),
                date=draft.issue_date,
                due_date=draft.due_date,
                reference=draft.invoice_id,
                currency_code=draft.currency,
            )
        except ValidationError as exc:
            raise refused("Xero", draft, exc) from exc
        key = idempotency_key(draft.invoice_id, IDEMPOTENCY_KEY_MAX)
        return tool_invoice(await self._client.create_invoice(invoice, idempotency_key=key))

    async def aclose(self) -> None:
        await self._client.aclose()

    def _line(self, line: ExportLine) -> LineItem:
        return LineItem(
            description=line.description,
            quantity=line.quantity,
            unit_amount=line.unit_price,
            line_amount=line.amount,
            account_code=self._account_code,
        )
