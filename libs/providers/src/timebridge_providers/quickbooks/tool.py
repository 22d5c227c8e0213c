"""One QuickBooks Online company (realm) behind the accounting port.

- **One draft per Timebridge invoice**: the create carries ``requestid`` = the invoice id (Intuit
  answers a repeat with the first answer; ids longer than its 50 characters are replaced by a
  digest, still one per invoice).
- **Lines need a service item**: time on the configured time item, expenses on the expense item,
  created (or reactivated) on the company's first income account.
- **Changes**: one change data capture call for customers, invoices and payments (with the
  invoices their lines link; voided: zeroed, "Voided" note), the answer's time as the cursor;
  when it is truncated (1000 objects) the live records are listed again page by page, and a
  ``since`` beyond its 30 days is served by queries alone (without deletions). A deleted invoice
  or payment is not found (Fault 610) or a change data capture tombstone.
- Webhooks are one endpoint per app, set in Intuit's developer portal: nothing per company.
"""

import datetime as dt
from collections.abc import Callable, Sequence

from pydantic import ValidationError

from timebridge_common.errors import InvalidMessageError
from timebridge_common.outbound.http import NotFoundError
from timebridge_providers.kit.accounting import (
    PerAppWebhooks,
    cursor,
    idempotency_key,
    latest,
    refused,
    text,
)
from timebridge_providers.kit.ports.accounting import (
    ExportDraft,
    ToolChanges,
    ToolClient,
    ToolInvoice,
    ToolPayment,
    gone_invoice,
    gone_payment,
)
from timebridge_providers.quickbooks.client import QuickBooksClient
from timebridge_providers.quickbooks.translate import (
    draft_line,
    tool_client,
    tool_invoice,
    tool_payment,
)
from timebridge_providers.quickbooks.wire import (
    PAGE_LIMIT,
    REQUEST_ID_LIMIT,
    Customer,
    DraftInvoice,
    Invoice,
    Payment,
)

CDC_LOOKBACK = dt.timedelta(days=29)
"""How far back QuickBooks' change data capture is asked (it refuses beyond 30 days)."""
NOTE_LIMIT = 4000
"""Characters of ``PrivateNote`` QuickBooks keeps."""
TIME_ITEM = "Hours"
EXPENSE_ITEM = "Billable expenses"


class QuickBooksTool(PerAppWebhooks):
    """One QuickBooks Online company (realm). Its webhooks are one endpoint per app, set in
    Intuit's developer portal."""

    def __init__(
        self,
        client: QuickBooksClient,
        *,
        hours_item: str = TIME_ITEM,
        expenses_item: str = EXPENSE_ITEM,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._client = client
        self._items = {"time": hours_item, "expense": expenses_item}
        self._clock = clock

    async def active_clients(self) -> list[ToolClient]:
        return [tool_client(customer) async for customer in self._client.customers()]

    async def client(self, external_id: str) -> ToolClient | None:
        try:
            return tool_client(await self._client.customer(external_id))
        except NotFoundError:
            return None

    async def changes(self, since: dt.datetime) -> ToolChanges:
        started = self._clock()
        if since < started - CDC_LOOKBACK:
            listed = await self._listed(since)
            last = latest(r.changed_at for kind in listed for r in kind)
            return self._changes(listed, (), cursor(last, started))
        found = await self._client.changes(["Customer", "Invoice", "Payment"], since)
        deleted = tuple((name, tomb.id) for name, tomb in found.deleted)
        listed = (found.customers, found.invoices, found.payments)
        if sum(map(len, listed)) + len(found.deleted) >= PAGE_LIMIT:
            listed = await self._listed(since)  # the answer was truncated
        last = latest(r.changed_at for kind in listed for r in kind)
        return self._changes(listed, deleted, found.time or cursor(last, started))

    async def invoice(self, external_id: str) -> ToolInvoice:
        try:
            return tool_invoice(await self._client.invoice(external_id))
        except NotFoundError:
            return gone_invoice(external_id)

    async def payment(self, external_id: str) -> ToolPayment | None:
        try:
            return tool_payment(await self._client.payment(external_id))
        except NotFoundError:
            return gone_payment(external_id)

    async def invoice_payments(self, invoice_external_id: str) -> list[ToolPayment]:
        """The payments the invoice's ``LinkedTxn`` names, each read (QuickBooks also sends a
        ``Payment`` webhook of its own)."""
        try:
            invoice = await self._client.invoice(invoice_external_id)
        except NotFoundError:
            return []
        linked = [t.txn_id for t in invoice.linked_txn if t.txn_type == "Payment"]
        found = [await self.payment(payment_id) for payment_id in linked]
        return [p for p in found if p is not None]

    async def export(self, draft: ExportDraft) -> ToolInvoice:
        kinds = {line.kind for line in draft.lines}
        items = {kind: await self._item(self._items[kind]) for kind in kinds}
        try:
            invoice = DraftInvoice(
                customer_id=draft.client_external_id,
                lines=tuple(draft_line(line, items[line.kind]) for line in draft.lines),
                txn_date=draft.issue_date,
                due_date=draft.due_date,
                currency=draft.currency,
                note=text(draft.note[:NOTE_LIMIT]),
            )
        except ValidationError as exc:
            raise refused("QuickBooks Online", draft, exc) from exc
        request_id = idempotency_key(draft.invoice_id, REQUEST_ID_LIMIT)
        return tool_invoice(await self._client.create_invoice(invoice, request_id=request_id))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _item(self, name: str) -> str:
        """The id of the active service item ``name``, made on the first income account if it
        does not exist (or reactivated)."""
        item = await self._client.find_item(name)
        if item is not None and item.active:
            return item.id
        accounts = await self._client.income_accounts()
        if not accounts:
            raise InvalidMessageError(
                f"the QuickBooks company has no income account to book the item {name!r} on"
            )
        created = await self._client.find_or_create_service_item(
            name, income_account_id=accounts[0].id
        )
        return created.id

    async def _listed(self, since: dt.datetime) -> "_Listed":
        customers = tuple([c async for c in self._client.customers(changed_since=since)])
        invoices = tuple([i async for i in self._client.invoices(changed_since=since)])
        payments = tuple([p async for p in self._client.payments(changed_since=since)])
        return customers, invoices, payments

    @staticmethod
    def _changes(
        listed: "_Listed",
        deleted: Sequence[tuple[str, str]],
        next_since: dt.datetime | None,
    ) -> ToolChanges:
        customers, invoices, payments = listed
        return ToolChanges(
            clients=tuple(tool_client(c) for c in customers),
            invoices=tuple(tool_invoice(i) for i in invoices),
            deleted_invoice_ids=tuple(i for name, i in deleted if name == "Invoice"),
            cursor=next_since,
            payments=(
                *(tool_payment(p) for p in payments),
                *(gone_payment(i) for name, i in deleted if name == "Payment"),
            ),
        )


_Listed = tuple[tuple[Customer, ...], tuple[Invoice, ...], tuple[Payment, ...]]
