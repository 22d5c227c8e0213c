"""The accounting tools in production: QuickBooks Online, Xero and FreshBooks behind one port.

:class:`ProductionTools` builds, per connection, an :class:`~timebridge_invoice_export.handlers.
ports.AccountingTool` on the provider client of ``adapters/{quickbooks,xero,freshbooks}.py`` and,
per tool, the :class:`~timebridge_invoice_export.handlers.ports.OAuthFlow` of its consent screen.
Everything the handlers see is translated into ``domain.accounting`` types here. Why it is built
the way it is:

- **Exactly one draft per Timebridge invoice.** An export is repeated after a timeout, a crash or
  a redelivery, so each tool's own idempotency mechanism carries ``draft.invoice_id``:
  QuickBooks' ``requestid`` (Intuit answers a repeat with the first answer; ids longer than its
  50 characters are replaced by a digest, still one per invoice); Xero's ``Idempotency-Key``
  *and* ``Reference`` (the key covers the client's own retries for the few minutes Xero keeps
  it, the reference is looked up first so a repeat hours later finds the first copy);
  FreshBooks has no key, so ``po_number`` carries the id and
  :meth:`~timebridge_invoice_export.adapters.freshbooks.FreshBooksClient.ensure_invoice` looks it
  up before creating and after an unknown outcome.
- **Rate limits are the tool's, per company, whatever the number of clients.** Every client built
  in this process for one company draws from one :class:`~timebridge_common.outbound.http.
  RequestBudget` of the shared :class:`~timebridge_common.outbound.http.Budgets`: QuickBooks
  500 a minute per realm, Xero 60 a minute per tenant plus one ``asyncio.Semaphore(5)`` per
  tenant (Xero's five calls in progress), FreshBooks its (assumed) 60 a minute per account.
- **Invoice status, from what each tool records** (module docstrings of the clients):
  QuickBooks has no status field, so :attr:`~timebridge_invoice_export.adapters.quickbooks.
  Invoice.lifecycle` reads it from amounts, balance, delivery state and the "Voided" note; a
  deleted invoice is not found (Fault 610) or a change data capture tombstone. Xero: ``DRAFT``
  draft, ``SUBMITTED`` submitted, ``AUTHORISED`` sent (partially_paid once ``AmountPaid`` > 0),
  ``PAID``, ``VOIDED``, ``DELETED``. FreshBooks: ``vis_state`` 1 deleted, else ``status`` 1 draft,
  4/5 (paid, auto-paid) paid, 8 partial; 2/3 (sent, viewed), 0 (disputed), 6/7 (auto-bill retry,
  failed) and any new code are an invoice in the client's hands: sent, or partially_paid when
  part of it is paid. A 404 for an invoice Timebridge exported means it is gone: ``deleted``.
- **Changes are read at least once.** QuickBooks: one change data capture call for customers and
  invoices, the answer's time as the cursor; when it is truncated (1000 objects) the live records
  are listed again page by page, and a ``since`` beyond its 30 days is served by queries alone
  (without deletions). Xero and FreshBooks list each kind changed since (archived and deleted
  customers included) and the cursor is the latest change seen, but never later than when the
  read began, less a minute of clock skew: a change made between two listings is read again
  next time instead of being skipped.
- **Customers.** Xero marks a contact ``IsCustomer`` only once it has a sales invoice, so the
  mirror takes every contact but supplier-only ones (a new client must be mirrored before its
  first export). Empty strings are "not set". Xero's postal (``POBOX``) address is its billing
  address, the street address the fallback.
- **Draft lines.** QuickBooks lines need a service item: time on ``quickbooks_hours_item``,
  expenses on ``quickbooks_expenses_item``, created (or reactivated) on the company's first income
  account. Xero lines carry ``xero_sales_account_code`` if configured (drafts need none) and
  ``LineAmountTypes`` ``Exclusive``, so Xero adds the account's tax as the organisation set it up.
  FreshBooks lines are named ``Hours`` or ``Expenses`` with the text as description. The note is
  QuickBooks' internal ``PrivateNote`` and FreshBooks' ``notes``; Xero invoices have no note.
"""

import asyncio
import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import ClassVar

import httpx
from pydantic import ValidationError

from timebridge_common.errors import InvalidMessageError
from timebridge_common.outbound.http import (
    DEFAULT_RETRY,
    Budgets,
    NotFoundError,
    OutcomeUnknownError,
    ProviderError,
    RetryPolicy,
)
from timebridge_common.outbound.oauth import TokenEndpoint, Tokens
from timebridge_invoice_export.adapters import freshbooks as fb
from timebridge_invoice_export.adapters import quickbooks as qbo
from timebridge_invoice_export.adapters import xero as xro
from timebridge_invoice_export.config import AccountingApp, Settings
from timebridge_invoice_export.domain.accounting import (
    PROVIDER_NAMES,
    Address,
    ExportDraft,
    ExportLine,
    Provider,
    TaxDetails,
    Tenant,
    ToolChanges,
    ToolClient,
    ToolInvoice,
    ToolInvoiceStatus,
    gone_invoice,
)
from timebridge_invoice_export.handlers.ports import (
    AccessToken,
    AccountingTool,
    Clock,
    NotConfiguredError,
    OAuthFlow,
    ToolConnection,
)

HttpFactory = Callable[[Provider], httpx.AsyncClient]

CLOCK_SKEW = dt.timedelta(minutes=1)
"""How far a tool's clock may be ahead of ours (cursors stay this far behind our start)."""
CDC_LOOKBACK = dt.timedelta(days=29)
"""How far back QuickBooks' change data capture is asked (it refuses beyond 30 days)."""
NOTE_LIMIT = 4000
"""Characters of ``PrivateNote`` QuickBooks keeps."""
FRESHBOOKS_EVENTS = ("client", "invoice")
"""FreshBooks callbacks registered per account: a noun gets all its events (create, update,
delete, sendByEmail...)."""
FRESHBOOKS_LINE_NAMES = {"time": "Hours", "expense": "Expenses"}

_HOURS: str = Settings.model_fields["quickbooks_hours_item"].default
_EXPENSES: str = Settings.model_fields["quickbooks_expenses_item"].default


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---- translation helpers ---------------------------------------------------------------------


def _text(value: str | None) -> str | None:
    """A tool's text, with empty and blank meaning "not set"."""
    stripped = value.strip() if value else ""
    return stripped or None


def _joined(*parts: str | None) -> str | None:
    return _text(", ".join(p for p in (_text(part) for part in parts) if p))


def _address(
    *,
    line1: str | None,
    line2: str | None,
    city: str | None,
    region: str | None,
    postal_code: str | None,
    country: str | None,
) -> Address | None:
    address = Address(
        line1=_text(line1),
        line2=_text(line2),
        city=_text(city),
        region=_text(region),
        postal_code=_text(postal_code),
        country=_text(country),
    )
    return None if address == Address() else address


def _latest(moments: Iterable[dt.datetime | None]) -> dt.datetime | None:
    found = [moment for moment in moments if moment is not None]
    return max(found) if found else None


def _cursor(latest: dt.datetime | None, started: dt.datetime) -> dt.datetime | None:
    """The next ``since`` after a read begun at ``started``: the latest change seen, but no later
    than the start less :data:`CLOCK_SKEW`, so that a change made while one kind was being listed
    and older than a change of a kind listed after it is read again, not skipped."""
    return None if latest is None else min(latest, started - CLOCK_SKEW)


def _idempotency_key(invoice_id: str, limit: int) -> str:
    """``invoice_id`` as a key of at most ``limit`` characters (a digest if longer: still one
    per invoice)."""
    if 0 < len(invoice_id) <= limit:
        return invoice_id
    return hashlib.sha256(invoice_id.encode()).hexdigest()[:limit]


def _refused(provider: Provider, draft: ExportDraft, exc: ValidationError) -> InvalidMessageError:
    name = PROVIDER_NAMES[provider]
    return InvalidMessageError(f"invoice {draft.invoice_id} cannot be made in {name}: {exc}"[:500])


def _number_id(provider: Provider, kind: str, external_id: str) -> int:
    try:
        return int(external_id)
    except ValueError:
        name = PROVIDER_NAMES[provider]
        raise InvalidMessageError(f"{external_id!r} is not a {name} {kind} id") from None


# ---- QuickBooks Online -----------------------------------------------------------------------


def _qbo_client(customer: qbo.Customer) -> ToolClient:
    bill = customer.bill_addr
    address = (
        None
        if bill is None
        else _address(
            line1=bill.line1,
            line2=_joined(bill.line2, bill.line3),
            city=bill.city,
            region=bill.country_sub_division_code,
            postal_code=bill.postal_code,
            country=bill.country,
        )
    )
    email = customer.primary_email_addr.address if customer.primary_email_addr else None
    tax_code = customer.default_tax_code_ref.value if customer.default_tax_code_ref else None
    return ToolClient(
        external_id=customer.id,
        name=customer.display_name,
        email=_text(email),
        address=address,
        tax=TaxDetails(
            tax_number=_text(customer.primary_tax_identifier),
            taxable=customer.taxable,
            tax_code=_text(tax_code),
        ),
        currency=customer.currency_ref.value if customer.currency_ref else None,
        active=customer.active,
        updated_at=customer.changed_at,
    )


def _qbo_invoice(invoice: qbo.Invoice) -> ToolInvoice:
    return ToolInvoice(
        external_id=invoice.id,
        client_external_id=invoice.customer_ref.value,
        number=_text(invoice.doc_number),
        issue_date=invoice.txn_date,
        due_date=invoice.due_date,
        status=invoice.lifecycle,
        total=sum(
            (line.amount for line in invoice.line if line.detail_type == "SalesItemLineDetail"),
            Decimal(0),
        ),
        currency=invoice.currency_ref.value if invoice.currency_ref else None,
        updated_at=invoice.changed_at,
    )


class QuickBooksTool:
    """One QuickBooks Online company (realm)."""

    def __init__(
        self,
        client: qbo.QuickBooksClient,
        *,
        hours_item: str,
        expenses_item: str,
        clock: Clock,
    ) -> None:
        self._client = client
        self._items = {"time": hours_item, "expense": expenses_item}
        self._clock = clock

    async def active_clients(self) -> list[ToolClient]:
        return [_qbo_client(customer) async for customer in self._client.customers()]

    async def client(self, external_id: str) -> ToolClient | None:
        try:
            return _qbo_client(await self._client.customer(external_id))
        except NotFoundError:
            return None

    async def changes(self, since: dt.datetime) -> ToolChanges:
        started = self._clock()
        if since < started - CDC_LOOKBACK:
            customers, invoices = await self._listed(since)
            latest = _latest(r.changed_at for r in (*customers, *invoices))
            return self._changes(customers, invoices, (), _cursor(latest, started))
        found = await self._client.changes(["Customer", "Invoice"], since)
        deleted = tuple(tomb.id for name, tomb in found.deleted if name == "Invoice")
        customers, invoices = list(found.customers), list(found.invoices)
        if len(customers) + len(invoices) + len(found.deleted) >= qbo.PAGE_LIMIT:
            customers, invoices = await self._listed(since)  # the answer was truncated
        latest = _latest(r.changed_at for r in (*customers, *invoices))
        return self._changes(customers, invoices, deleted, found.time or _cursor(latest, started))

    async def invoice(self, external_id: str) -> ToolInvoice:
        try:
            return _qbo_invoice(await self._client.invoice(external_id))
        except NotFoundError:
            return gone_invoice(external_id)

    async def export(self, draft: ExportDraft) -> ToolInvoice:
        kinds = {line.kind for line in draft.lines}
        items = {kind: await self._item(self._items[kind]) for kind in kinds}
        try:
            invoice = qbo.DraftInvoice(
                customer_id=draft.client_external_id,
                lines=tuple(_qbo_line(line, items[line.kind]) for line in draft.lines),
                txn_date=draft.issue_date,
                due_date=draft.due_date,
                currency=draft.currency,
                note=_text(draft.note[:NOTE_LIMIT]),
            )
        except ValidationError as exc:
            raise _refused("quickbooks", draft, exc) from exc
        request_id = _idempotency_key(draft.invoice_id, qbo.REQUEST_ID_LIMIT)
        return _qbo_invoice(await self._client.create_invoice(invoice, request_id=request_id))

    async def ensure_webhooks(self, url: str) -> list[str]:  # noqa: ARG002 - per app
        """QuickBooks webhooks are one endpoint per app, set in Intuit's developer portal."""
        return []

    async def verify_webhook_registration(self, registration_id: str, verifier: str) -> None:
        """Nothing to confirm: QuickBooks registers no webhooks per company."""

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

    async def _listed(self, since: dt.datetime) -> tuple[list[qbo.Customer], list[qbo.Invoice]]:
        customers = [c async for c in self._client.customers(changed_since=since)]
        invoices = [i async for i in self._client.invoices(changed_since=since)]
        return customers, invoices

    @staticmethod
    def _changes(
        customers: Sequence[qbo.Customer],
        invoices: Sequence[qbo.Invoice],
        deleted: tuple[str, ...],
        cursor: dt.datetime | None,
    ) -> ToolChanges:
        return ToolChanges(
            clients=tuple(_qbo_client(c) for c in customers),
            invoices=tuple(_qbo_invoice(i) for i in invoices),
            deleted_invoice_ids=deleted,
            cursor=cursor,
        )


def _qbo_line(line: ExportLine, item_id: str) -> qbo.DraftLine:
    return qbo.DraftLine(
        item_id=item_id,
        description=line.description,
        qty=line.quantity,
        unit_price=line.unit_price,
        service_date=line.service_date,
    )


# ---- Xero ------------------------------------------------------------------------------------

_XERO_STATUSES: dict[str, ToolInvoiceStatus] = {
    "DRAFT": "draft",
    "SUBMITTED": "submitted",
    "AUTHORISED": "sent",
    "PAID": "paid",
    "VOIDED": "voided",
    "DELETED": "deleted",
}


def _billable(contact: xro.Contact) -> bool:
    """A customer, or a contact that is neither customer nor supplier yet (Xero sets
    ``IsCustomer`` with the first sales invoice only)."""
    return contact.is_customer or not contact.is_supplier


def _xero_address(addresses: Sequence[xro.Address]) -> Address | None:
    ranked = sorted(addresses, key=lambda a: {"POBOX": 0, "STREET": 1}.get(a.address_type or "", 2))
    for found in ranked:
        address = _address(
            line1=found.address_line1,
            line2=_joined(found.address_line2, found.address_line3, found.address_line4),
            city=found.city,
            region=found.region,
            postal_code=found.postal_code,
            country=found.country,
        )
        if address is not None:
            return address
    return None


def _xero_client(contact: xro.Contact) -> ToolClient:
    return ToolClient(
        external_id=contact.contact_id,
        name=contact.name,
        email=_text(contact.email_address),
        address=_xero_address(contact.addresses),
        tax=TaxDetails(tax_number=_text(contact.tax_number)),
        currency=_text(contact.default_currency),
        active=contact.active,
        updated_at=contact.updated_date_utc,
    )


def _xero_status(invoice: xro.Invoice) -> ToolInvoiceStatus:
    status = _XERO_STATUSES.get(invoice.status, "sent")
    if status == "sent" and (invoice.amount_paid or Decimal(0)) > 0:
        return "partially_paid"
    return status


def _xero_invoice(invoice: xro.Invoice) -> ToolInvoice:
    total = invoice.sub_total if invoice.sub_total is not None else invoice.total
    return ToolInvoice(
        external_id=invoice.invoice_id,
        client_external_id=invoice.contact.contact_id,
        number=_text(invoice.invoice_number),
        issue_date=invoice.date,
        due_date=invoice.due_date,
        status=_xero_status(invoice),
        total=total if total is not None else Decimal(0),
        currency=invoice.currency_code,
        updated_at=invoice.updated_date_utc,
    )


class XeroTool:
    """One Xero organisation (tenant)."""

    def __init__(self, client: xro.XeroClient, *, account_code: str | None, clock: Clock) -> None:
        self._client = client
        self._account_code = account_code
        self._clock = clock

    async def active_clients(self) -> list[ToolClient]:
        contacts = self._client.contacts(customers_only=False)
        return [_xero_client(c) async for c in contacts if _billable(c)]

    async def client(self, external_id: str) -> ToolClient | None:
        try:
            return _xero_client(await self._client.contact(external_id))
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
        latest = _latest(
            [*(c.updated_date_utc for c in contacts), *(i.updated_date_utc for i in invoices)]
        )
        return ToolChanges(
            clients=tuple(_xero_client(c) for c in contacts if _billable(c)),
            invoices=tuple(_xero_invoice(i) for i in invoices),
            deleted_invoice_ids=(),
            cursor=_cursor(latest, started),
        )

    async def invoice(self, external_id: str) -> ToolInvoice:
        try:
            return _xero_invoice(await self._client.invoice(external_id))
        except NotFoundError:
            return gone_invoice(external_id)

    async def export(self, draft: ExportDraft) -> ToolInvoice:
        """Look the reference up first (Xero keeps an idempotency key minutes only), then create
        with the key, which covers the client's retries of a lost answer."""
        earlier = [i async for i in self._client.invoices(reference=draft.invoice_id)]
        if earlier:
            return _xero_invoice(earlier[0])
        try:
            invoice = xro.DraftInvoice(
                contact_id=draft.client_external_id,
                line_items=tuple(self._line(line) for line in draft.lines),
                date=draft.issue_date,
                due_date=draft.due_date,
                reference=draft.invoice_id,
                currency_code=draft.currency,
            )
        except ValidationError as exc:
            raise _refused("xero", draft, exc) from exc
        key = _idempotency_key(draft.invoice_id, xro.IDEMPOTENCY_KEY_MAX)
        return _xero_invoice(await self._client.create_invoice(invoice, idempotency_key=key))

    async def ensure_webhooks(self, url: str) -> list[str]:  # noqa: ARG002 - per app
        """Xero webhooks are one subscription per app, set in Xero's developer portal."""
        return []

    async def verify_webhook_registration(self, registration_id: str, verifier: str) -> None:
        """Nothing to confirm: Xero registers no webhooks per organisation."""

    async def aclose(self) -> None:
        await self._client.aclose()

    def _line(self, line: ExportLine) -> xro.LineItem:
        return xro.LineItem(
            description=line.description,
            quantity=line.quantity,
            unit_amount=line.unit_price,
            line_amount=line.amount,
            account_code=self._account_code,
        )


# ---- FreshBooks ------------------------------------------------------------------------------


def _fb_client(client: fb.Client) -> ToolClient:
    return ToolClient(
        external_id=str(client.id),
        name=_text(client.name) or _text(client.email) or f"FreshBooks client {client.id}",
        email=_text(client.email),
        address=_address(
            line1=client.p_street,
            line2=client.p_street2,
            city=client.p_city,
            region=client.p_province,
            postal_code=client.p_code,
            country=client.p_country,
        ),
        tax=TaxDetails(tax_number=_text(client.vat_number), tax_code=_text(client.vat_name)),
        currency=_text(client.currency_code),
        active=client.vis_state == fb.VisState.ACTIVE,
        updated_at=client.updated,
    )


def _fb_status(invoice: fb.Invoice) -> ToolInvoiceStatus:
    if invoice.deleted:
        return "deleted"
    if invoice.status == fb.InvoiceStatus.DRAFT:
        return "draft"
    if invoice.status in (fb.InvoiceStatus.PAID, fb.InvoiceStatus.AUTO_PAID):
        return "paid"
    paid = invoice.paid.amount if invoice.paid is not None else Decimal(0)
    if invoice.status == fb.InvoiceStatus.PARTIAL or paid > 0:
        return "partially_paid"
    return "sent"


def _fb_invoice(invoice: fb.Invoice) -> ToolInvoice:
    return ToolInvoice(
        external_id=str(invoice.id),
        client_external_id=str(invoice.customerid),
        number=_text(invoice.invoice_number),
        issue_date=invoice.create_date,
        due_date=invoice.due_date,
        status=_fb_status(invoice),
        total=sum((line.amount.amount for line in invoice.lines if line.amount), Decimal(0))
        if invoice.lines
        else invoice.amount.amount,
        currency=invoice.currency_code,
        updated_at=invoice.updated,
    )


class FreshBooksTool:
    """One FreshBooks accounting account."""

    def __init__(self, client: fb.FreshBooksClient, *, clock: Clock) -> None:
        self._client = client
        self._clock = clock

    async def active_clients(self) -> list[ToolClient]:
        return [_fb_client(c) async for c in self._client.clients()]

    async def client(self, external_id: str) -> ToolClient | None:
        try:
            return _fb_client(await self._client.client(int(external_id)))
        except (ValueError, NotFoundError):
            return None

    async def changes(self, since: dt.datetime) -> ToolChanges:
        """Active and archived clients, deleted ones (as archived), invoices (deleted too)."""
        started = self._clock()
        clients = [c async for c in self._client.clients(vis_state=None, updated_since=since)]
        deleted = self._client.clients(vis_state=fb.VisState.DELETED, updated_since=since)
        clients += [c async for c in deleted]
        invoices = [i async for i in self._client.invoices(updated_since=since)]
        latest = _latest([*(c.updated for c in clients), *(i.updated for i in invoices)])
        return ToolChanges(
            clients=tuple(_fb_client(c) for c in clients),
            invoices=tuple(_fb_invoice(i) for i in invoices),
            deleted_invoice_ids=(),
            cursor=_cursor(latest, started),
        )

    async def invoice(self, external_id: str) -> ToolInvoice:
        try:
            return _fb_invoice(await self._client.invoice(int(external_id)))
        except (ValueError, NotFoundError):
            return gone_invoice(external_id)

    async def export(self, draft: ExportDraft) -> ToolInvoice:
        customer = _number_id("freshbooks", "client", draft.client_external_id)
        offset = 0 if draft.due_date is None else (draft.due_date - draft.issue_date).days
        try:
            invoice = fb.InvoiceDraft(
                customerid=customer,
                create_date=draft.issue_date,
                currency_code=draft.currency,
                po_number=draft.invoice_id,
                lines=tuple(_fb_line(line, draft.currency) for line in draft.lines),
                notes=draft.note,
                due_offset_days=max(0, offset),
            )
        except ValidationError as exc:
            raise _refused("freshbooks", draft, exc) from exc
        return _fb_invoice(await self._client.ensure_invoice(invoice))

    async def ensure_webhooks(self, url: str) -> list[str]:
        """A callback per :data:`FRESHBOOKS_EVENTS` at ``url``, unless one is there: a verified
        one is kept, an unverified one gets its verification posted again (the first may have
        been lost). Returns the ids of the callbacks now awaiting verification, as FreshBooks'
        answers name them (only those may be confirmed: see handlers/verifications.py)."""
        existing = await self._client.callbacks()
        awaiting: list[str] = []
        for event in FRESHBOOKS_EVENTS:
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
        callback_id = _number_id("freshbooks", "callback", registration_id)
        await self._client.verify_callback(callback_id, verifier)

    async def aclose(self) -> None:
        await self._client.aclose()


def _fb_line(line: ExportLine, currency: str) -> fb.Line:
    return fb.Line(
        name=FRESHBOOKS_LINE_NAMES[line.kind],
        description=line.description,
        qty=line.quantity,
        unit_cost=fb.Money(amount=line.unit_price, code=currency),
    )


# ---- OAuth -----------------------------------------------------------------------------------


class QuickBooksOAuth:
    """Intuit's consent: the company chosen comes back as ``realmId`` on the callback."""

    def __init__(self, app: AccountingApp, endpoint: TokenEndpoint) -> None:
        self.provider: Provider = "quickbooks"
        self.endpoint: TokenEndpoint = endpoint
        self._app = app

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        return qbo.authorize_url(
            self._app.client_id, redirect_uri, state, base_url=self._app.authorize_url
        )

    async def tenants(
        self,
        tokens: Tokens,  # noqa: ARG002 - the port's signature; the callback names the company
        callback: Mapping[str, str],
    ) -> list[Tenant]:
        realm = _text(callback.get("realmId"))
        if realm is None:
            raise ProviderError(
                "quickbooks", "GET", "callback", 400, "the consent came back without a realmId"
            )
        return [Tenant(id=realm, name=realm)]


class _ListingOAuth:
    """A consent whose companies are read from the tool's API with the new access token."""

    tool: ClassVar[Provider]

    def __init__(
        self,
        app: AccountingApp,
        endpoint: TokenEndpoint,
        *,
        http: httpx.AsyncClient,
        retry: RetryPolicy,
        timeout_s: float,
    ) -> None:
        self.provider: Provider = self.tool
        self.endpoint: TokenEndpoint = endpoint
        self._app = app
        self._http = http
        self._retry = retry
        self._timeout_s = timeout_s


class XeroOAuth(_ListingOAuth):
    """Xero's consent: the organisations connected are listed by ``GET /connections``."""

    tool = "xero"

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        return xro.authorize_url(
            self._app.client_id, redirect_uri, state, base=self._app.authorize_url
        )

    async def tenants(
        self,
        tokens: Tokens,
        callback: Mapping[str, str],  # noqa: ARG002 - the port's signature; the API tells
    ) -> list[Tenant]:
        """Every organisation the user has connected to the app (practices and other tenant
        types are left out: the Accounting API works on organisations)."""
        connected = await xro.connections(
            self._app.api_url,
            tokens.access_token,
            http=self._http,
            retry=self._retry,
            timeout_s=self._timeout_s,
        )
        return [
            Tenant(id=c.tenant_id, name=c.tenant_name or c.tenant_id)
            for c in connected
            if c.tenant_type == "ORGANISATION"
        ]


class FreshBooksOAuth(_ListingOAuth):
    """FreshBooks' consent: the accounts are the identity's businesses with an accounting
    account (``GET /auth/api/v1/users/me``)."""

    tool = "freshbooks"

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        return fb.authorize_url(
            self._app.client_id, redirect_uri, state=state, base_url=self._app.authorize_url
        )

    async def tenants(
        self,
        tokens: Tokens,
        callback: Mapping[str, str],  # noqa: ARG002 - the port's signature; the API tells
    ) -> list[Tenant]:
        async def bearer() -> str:
            return tokens.access_token

        async with fb.FreshBooksClient(
            self._app.api_url,
            None,
            bearer,
            http=self._http,
            retry=self._retry,
            timeout_s=self._timeout_s,
        ) as client:
            identity = await client.me()
        tenants: dict[str, Tenant] = {}
        for membership in identity.business_memberships:
            business = membership.business
            if business.account_id is not None:
                tenants.setdefault(business.account_id, Tenant(business.account_id, business.name))
        return list(tenants.values())


def _freshbooks_base(app: AccountingApp) -> str:
    """FreshBooks' token endpoint is a path of its API host: the host of ``token_url``."""
    if not app.token_url.endswith(fb.TOKEN_PATH):
        raise NotConfiguredError(
            f"TB_FRESHBOOKS__TOKEN_URL must end with {fb.TOKEN_PATH} (got {app.token_url})"
        )
    return app.token_url.removesuffix(fb.TOKEN_PATH)


# ---- the factory -----------------------------------------------------------------------------


class ProductionTools:
    """The :class:`~timebridge_invoice_export.handlers.ports.AccountingTools` of the service.

    Built from the :class:`~timebridge_invoice_export.config.Settings` (``ProductionTools(
    settings)``: apps, item names and account code as configured, keywords overriding them) or
    from the three apps. ``http`` gives the HTTP client of a provider's requests (tests: an ASGI
    transport to a sandbox); without it every client shares one connection pool, closed by
    :meth:`aclose`. ``budgets`` should be the process's one
    :class:`~timebridge_common.outbound.http.Budgets`, so that every client of a company draws
    from the same request budget.
    """

    def __init__(
        self,
        config: Settings | AccountingApp,
        xero: AccountingApp | None = None,
        freshbooks: AccountingApp | None = None,
        *,
        http: HttpFactory | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock = _utcnow,
        budgets: Budgets | None = None,
        quickbooks_hours_item: str | None = None,
        quickbooks_expenses_item: str | None = None,
        xero_sales_account_code: str | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        if isinstance(config, Settings):
            apps = (config.quickbooks, config.xero, config.freshbooks)
            hours, expenses = config.quickbooks_hours_item, config.quickbooks_expenses_item
            account_code = config.xero_sales_account_code
        elif xero is None or freshbooks is None:
            raise TypeError("ProductionTools takes the Settings or all three AccountingApps")
        else:
            apps, hours, expenses, account_code = (
                (config, xero, freshbooks),
                _HOURS,
                _EXPENSES,
                None,
            )
        self._apps: dict[Provider, AccountingApp] = {
            "quickbooks": apps[0],
            "xero": apps[1],
            "freshbooks": apps[2],
        }
        self._http = http
        self._shared: httpx.AsyncClient | None = None
        self._retry = retry or DEFAULT_RETRY
        self._clock = clock
        self._budgets = budgets or Budgets()
        self._xero_slots: dict[tuple[str, str], asyncio.Semaphore] = {}
        self._hours_item = quickbooks_hours_item or hours
        self._expenses_item = quickbooks_expenses_item or expenses
        self._account_code = xero_sales_account_code or account_code
        self._timeout_s = timeout_s

    def oauth(self, provider: Provider, redirect_uri: str) -> OAuthFlow:
        app = self._apps[provider]
        if not app.configured:
            prefix = f"TB_{provider.upper()}"
            raise NotConfiguredError(
                f"{PROVIDER_NAMES[provider]} is not configured: set {prefix}__CLIENT_ID and"
                f" {prefix}__CLIENT_SECRET to the app registered at {PROVIDER_NAMES[provider]}"
            )
        secret = app.client_secret.get_secret_value()
        http = self._client(provider)
        if provider == "quickbooks":
            endpoint = qbo.QuickBooksTokens(
                app.client_id,
                secret,
                token_url=app.token_url,
                http=http,
                clock=self._clock,
                timeout_s=self._timeout_s,
            )
            return QuickBooksOAuth(app, endpoint)
        if provider == "xero":
            tokens = xro.XeroTokens(
                app.client_id,
                secret,
                token_url=app.token_url,
                http=http,
                clock=self._clock,
                timeout_s=self._timeout_s,
            )
            return XeroOAuth(app, tokens, http=http, retry=self._retry, timeout_s=self._timeout_s)
        fb_tokens = fb.FreshBooksTokens(
            app.client_id,
            secret,
            redirect_uri=redirect_uri,
            base_url=_freshbooks_base(app),
            http=http,
            retry=self._retry,
            clock=self._clock,
        )
        return FreshBooksOAuth(
            app, fb_tokens, http=http, retry=self._retry, timeout_s=self._timeout_s
        )

    def tool(self, connection: ToolConnection, access_token: AccessToken) -> AccountingTool:
        provider, tenant = connection.provider, connection.tenant_id
        base = self._apps[provider].api_url
        http = self._client(provider)
        if provider == "quickbooks":
            qbo_client = qbo.QuickBooksClient(
                base,
                tenant,
                access_token,
                http=http,
                budget=self._budgets.get(provider, base, tenant, qbo.RATE_LIMIT),
                retry=self._retry,
                timeout_s=self._timeout_s,
            )
            return QuickBooksTool(
                qbo_client,
                hours_item=self._hours_item,
                expenses_item=self._expenses_item,
                clock=self._clock,
            )
        if provider == "xero":
            slots = self._xero_slots.setdefault(
                (base, tenant), asyncio.Semaphore(xro.CONCURRENT_LIMIT)
            )
            xero_client = xro.XeroClient(
                base,
                tenant,
                access_token,
                http=http,
                budget=self._budgets.get(provider, base, tenant, xro.RATE_LIMIT),
                slots=slots,
                retry=self._retry,
                timeout_s=self._timeout_s,
            )
            return XeroTool(xero_client, account_code=self._account_code, clock=self._clock)
        fb_client = fb.FreshBooksClient(
            base,
            tenant,
            access_token,
            http=http,
            budget=self._budgets.get(provider, base, tenant, fb.RATE_LIMIT),
            retry=self._retry,
            timeout_s=self._timeout_s,
        )
        return FreshBooksTool(fb_client, clock=self._clock)

    async def aclose(self) -> None:
        """Close the shared connection pool (clients given by ``http`` are the caller's)."""
        if self._shared is not None:
            await self._shared.aclose()
            self._shared = None

    def _client(self, provider: Provider) -> httpx.AsyncClient:
        if self._http is not None:
            return self._http(provider)
        if self._shared is None:
            self._shared = httpx.AsyncClient()
        return self._shared
