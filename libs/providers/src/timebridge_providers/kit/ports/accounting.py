"""The accounting tool: clients, draft invoices created once, their status and payments,
webhooks, consent.

What a service knows of an accounting tool, in its own words (not any tool's): a provider
package translates its customers into :class:`ToolClient`, its invoices into
:class:`ToolInvoice`, an :class:`ExportDraft` into its draft invoice, and its webhook deliveries
into :class:`Notice`. Everything here is plain data and protocols.

An accounting provider's ``PROVIDER.accounting`` is an :class:`Accounting`: callable on a
:class:`~timebridge_providers.kit.session.Session` like every capability factory (the tool of
one company), and carrying what comes before a session (the OAuth consent, which finds the
companies) and beside it (how the tool's webhooks are signed and read).
"""

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, Protocol

import httpx

from timebridge_common.outbound.http import DEFAULT_RETRY, RetryPolicy
from timebridge_common.outbound.oauth import TokenEndpoint, Tokens
from timebridge_providers.kit.session import Session

if TYPE_CHECKING:
    from timebridge_providers.kit.registry import Provider

ToolInvoiceStatus = Literal[
    "draft", "submitted", "sent", "partially_paid", "paid", "voided", "deleted"
]
"""Where an exported invoice stands in the tool. ``deleted``: gone from the tool."""

Entity = Literal["client", "invoice", "payment"]
"""What a webhook notice names."""

# Keys of ``Access.extra`` an accounting tool reads.
TENANT = "tenant"
"""The company the session acts in (QuickBooks realm, Xero tenant, FreshBooks account id)."""
TIME_ITEM = "time_item"
"""The item time lines are booked on, where the tool needs one."""
EXPENSE_ITEM = "expense_item"
"""The item expense lines are booked on, where the tool needs one."""
ACCOUNT_CODE = "account_code"
"""The sales account code put on every line, where the tool takes one."""


@dataclass(frozen=True, slots=True)
class Address:
    """A business (billing) address."""

    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None


@dataclass(frozen=True, slots=True)
class TaxDetails:
    """The client's tax settings, as far as the tool has them."""

    tax_number: str | None = None
    """VAT/GST/ABN/EIN."""
    taxable: bool | None = None
    tax_code: str | None = None


@dataclass(frozen=True, slots=True)
class ToolClient:
    """A customer as the tool has it now."""

    external_id: str
    name: str
    email: str | None
    address: Address | None
    tax: TaxDetails
    currency: str | None
    """ISO 4217; None when the tool leaves it to the organisation's base currency."""
    active: bool
    """False: archived. Tools delete no customers that have invoices; Timebridge never
    deletes them."""
    updated_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class ToolInvoice:
    """An invoice as the tool has it now."""

    external_id: str
    client_external_id: str | None
    number: str | None
    issue_date: dt.date | None
    due_date: dt.date | None
    status: ToolInvoiceStatus
    total: Decimal
    """The amount before tax (the sum of the lines), comparable with what Timebridge exported:
    a tool adding its sales tax is not "the amount changed", an edited line is."""
    currency: str | None
    updated_at: dt.datetime | None
    gross_total: Decimal | None = None
    """What the customer owes in all, tax included, as the tool reports it (QuickBooks
    ``TotalAmt``, Xero ``Total``, FreshBooks ``amount``): payments settle this."""


def gone_invoice(external_id: str) -> ToolInvoice:
    """What Timebridge knows of an invoice the tool no longer has: only that it is deleted."""
    return ToolInvoice(
        external_id=external_id,
        client_external_id=None,
        number=None,
        issue_date=None,
        due_date=None,
        status="deleted",
        total=Decimal(0),
        currency=None,
        updated_at=None,
    )


@dataclass(frozen=True, slots=True)
class ExportLine:
    description: str
    quantity: Decimal
    """Hours (two decimals) for time, 1 for an expense."""
    unit_price: Decimal
    amount: Decimal
    """``quantity`` x ``unit_price`` rounded to the currency's minor unit: what the tool
    computes, so both agree."""
    kind: Literal["time", "expense"]
    service_date: dt.date | None = None


@dataclass(frozen=True, slots=True)
class ExportDraft:
    """The invoice to copy into the tool as a draft, created at most once per ``invoice_id``.

    ``invoice_id`` is the idempotency key and the reference the tool keeps, so a repeat after a
    timeout or a redelivery finds the first copy instead of making a second.
    """

    invoice_id: str
    client_external_id: str
    issue_date: dt.date
    due_date: dt.date | None
    currency: str
    lines: tuple[ExportLine, ...]
    total: Decimal
    note: str


ToolPaymentState = Literal["recorded", "voided", "deleted"]
"""A payment as the tool has it: standing, voided (kept, settling nothing) or gone."""


@dataclass(frozen=True, slots=True)
class PaymentApplication:
    """What one payment settles of one invoice."""

    invoice_external_id: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class ToolPayment:
    """A customer payment as the tool has it now, with the invoices it settles (QuickBooks
    Online ``Payment.Line[].LinkedTxn``, Xero ``Payments``, FreshBooks ``payments``)."""

    external_id: str
    state: ToolPaymentState
    paid_on: dt.date
    currency: str | None
    amount: Decimal
    """The whole payment."""
    applications: tuple[PaymentApplication, ...]
    """Every invoice it settles; a voided or deleted payment still names them (what it settled
    before), with their amounts."""
    unapplied: Decimal = Decimal(0)
    """An overpayment: what it left unapplied (a credit)."""
    updated_at: dt.datetime | None = None


def gone_payment(external_id: str) -> ToolPayment:
    """What a tool says of a deleted payment: only its id (the amounts it had are held)."""
    return ToolPayment(
        external_id=external_id,
        state="deleted",
        paid_on=dt.date(1970, 1, 1),
        currency=None,
        amount=Decimal(0),
        applications=(),
    )


@dataclass(frozen=True, slots=True)
class ToolChanges:
    """What changed in the tool since a cursor: clients (archived ones too), invoices and the
    payments of invoices (voided and deleted ones too)."""

    clients: tuple[ToolClient, ...]
    invoices: tuple[ToolInvoice, ...]
    deleted_invoice_ids: tuple[str, ...]
    """Invoices the tool reports gone without a record (e.g. a change data capture)."""
    cursor: dt.datetime | None
    """The next ``since``, in the tool's clock; None keeps the previous one."""
    payments: tuple[ToolPayment, ...] = ()
    """Payments changed since the cursor (a provider that does not read them yet: none)."""


@dataclass(frozen=True, slots=True)
class Tenant:
    """A company the admin may connect (``id`` is what the API calls need)."""

    id: str
    name: str


class AccountingTool(Protocol):
    """One connected company. Errors: ``AuthenticationError`` (token refused),
    ``ProviderError`` (refusals, with the tool's answer), ``TransientError`` (unreachable,
    rate limited beyond the client's patience), ``InvalidMessageError`` (a draft the tool
    cannot hold)."""

    async def active_clients(self) -> list[ToolClient]:
        """Every active customer: the first mirror after connecting."""
        ...

    async def client(self, external_id: str) -> ToolClient | None:
        """The customer now; None if the tool no longer has it at all."""
        ...

    async def changes(self, since: dt.datetime) -> ToolChanges:
        """Customers (archived ones too) and invoices changed since ``since``."""
        ...

    async def invoice(self, external_id: str) -> ToolInvoice:
        """The invoice now; a deleted one comes back with status ``deleted``."""
        ...

    async def payment(self, external_id: str) -> ToolPayment | None:
        """The payment now, for a webhook naming it; a deleted one comes back as
        :func:`gone_payment`; None: not a customer payment of a sales invoice."""
        ...

    async def invoice_payments(self, invoice_external_id: str) -> list[ToolPayment]:
        """Every payment of one invoice as the tool lists them (deleted ones where it still
        lists them): what a webhook naming only the invoice (Xero's) makes re-read."""
        ...

    async def export(self, draft: ExportDraft) -> ToolInvoice:
        """Create ``draft`` as a draft invoice, at most once per ``draft.invoice_id``: a repeat
        (after a timeout, a crash, a redelivery) returns the invoice made the first time."""
        ...

    async def ensure_webhooks(self, url: str) -> list[str]:
        """Register the tool's webhooks for this company at ``url`` if the tool registers them
        per company (``Accounting.webhooks.scope == "connection"``); tools that configure them
        per app return ``[]``. Returns the ids of the registrations now awaiting their
        verification."""
        ...

    async def verify_webhook_registration(self, registration_id: str, verifier: str) -> None:
        """Confirm a registration with the verifier the tool posted."""
        ...

    async def aclose(self) -> None: ...


# ---- consent ---------------------------------------------------------------------------------


class NotConfiguredError(Exception):
    """The platform has no (usable) app registered at that tool."""


@dataclass(frozen=True, slots=True)
class AppRegistration:
    """Timebridge's registered app at one tool (its developer portal gives these)."""

    client_id: str
    client_secret: str
    api_url: str
    authorize_url: str
    token_url: str


@dataclass(frozen=True, slots=True)
class ConsentContext:
    """What a consent flow is built with."""

    app: AppRegistration
    redirect_uri: str
    http: httpx.AsyncClient
    retry: RetryPolicy
    clock: Callable[[], dt.datetime]
    timeout_s: float = 30.0


class Consent(Protocol):
    """One tool's OAuth 2.0 authorization-code flow."""

    endpoint: TokenEndpoint
    """Exchanges codes and refreshes tokens (for a ``TokenManager``)."""

    def authorize_url(self, redirect_uri: str, state: str) -> str: ...

    async def tenants(self, tokens: Tokens, callback: Mapping[str, str]) -> list[Tenant]:
        """The companies the consent gave access to (from the callback or the tool's API)."""
        ...


# ---- webhooks --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Notice:
    """One change a delivery announced: ids only, so the record is read before acting."""

    tenant_id: str | None
    """The company; None when the delivery's URL names the connection."""
    entity: Entity
    external_id: str
    operation: str
    occurred_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class RegistrationCheck:
    """An unsigned request to confirm a registration (a per-connection callback)."""

    registration_id: str
    verifier: str
    tenant_id: str | None


@dataclass(frozen=True, slots=True)
class WebhookSpec:
    """How a tool delivers webhooks.

    ``scope="app"``: one endpoint per app, signed with the app's secret, each notice naming its
    company and the time of its change (so stale ones can be dropped and a delivery is keyed by
    its body). ``scope="connection"``: one endpoint per connection, signed with the verifier of
    each registration (learned when it is confirmed), carrying no time.
    """

    scope: Literal["app", "connection"]
    signature_header: str
    verify: Callable[[str, bytes, str | None], bool]
    """(secret or verifier, raw body, signature header) -> whether the signature signs it."""
    parse: Callable[[bytes], "list[Notice] | RegistrationCheck"]
    """The delivery's notices (only the entities followed), or a registration check; raises
    ``InvalidMessageError`` for a body that is not the tool's format."""
    form: bool = False
    """The body is ``application/x-www-form-urlencoded``."""
    bare_answers: bool = False
    """Answer ``200``/``401`` with empty bodies (a tool checking "intent to receive")."""
    signed: Callable[[bytes], bytes] = bytes
    """What of the body the signature covers: the replay key's input."""
    invoice_notices_cover_payments: bool = False
    """The tool sends no webhook of its own for payments, only an invoice change (Xero): an
    invoice notice then re-reads the invoice's payments too."""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class ToolOptions:
    """How a tool's requests are sent and timed (tests: fewer retries, their own clock)."""

    retry: RetryPolicy = DEFAULT_RETRY
    timeout_s: float = 30.0
    clock: Callable[[], dt.datetime] = _utcnow
    """Now, in UTC: where change cursors start."""


@dataclass(frozen=True, slots=True)
class Accounting:
    """An accounting provider's capability: the tool of a session, its consent, its webhooks."""

    open: Callable[[Session, ToolOptions], AccountingTool]
    consent: Callable[[ConsentContext], Consent]
    webhooks: WebhookSpec | None = None

    def __call__(self, session: Session) -> AccountingTool:
        """The tool with default options (the registry's capability factory)."""
        return self.open(session, ToolOptions())


def accounting_of(provider: "Provider") -> Accounting | None:
    """The provider's accounting capability, if it is an accounting tool."""
    found = provider.accounting
    return found if isinstance(found, Accounting) else None
