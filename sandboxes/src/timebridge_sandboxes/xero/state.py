"""Xero's data: the organisations, contacts, invoices, tokens and webhook queue the sandbox keeps,
and the constants and small formats (``/Date(ms+0000)/``, error bodies) everything shares.
"""

import base64
import datetime as dt
import hashlib
import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from http import HTTPStatus
from typing import Any, Literal

RATE_LIMIT = (60, 60.0)
"""Calls per seconds Xero allows one tenant."""
DAILY_LIMIT = (5000, 86_400.0)
CONCURRENT_LIMIT = 5
XERO_API_URL = "https://api.xero.com"
API = "/api.xro/2.0"
ACCESS_TOKEN_TTL = dt.timedelta(minutes=30)
REFRESH_GRACE = dt.timedelta(minutes=30)
REFRESH_TOKEN_TTL = dt.timedelta(days=60)
CODE_TTL = dt.timedelta(minutes=5)
IDEMPOTENCY_TTL = dt.timedelta(minutes=6)
IDEMPOTENCY_KEY_MAX = 128
SIGNATURE_HEADER = "x-xero-signature"
CONTACTS_SCOPE = "accounting.contacts"
INVOICES_SCOPE = "accounting.transactions"
SETTINGS_SCOPE = "accounting.settings"
STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED", "PAID", "VOIDED", "DELETED")
CENT = Decimal("0.01")

Json = dict[str, Any]
CHART_UPDATED = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
"""When the demo chart of accounts last changed (before anything a test does)."""
CHART = {
    "090": {"Name": "Business Bank Account", "Type": "BANK", "Class": "ASSET"},
    "200": {"Name": "Sales", "Type": "REVENUE", "Class": "REVENUE"},
}

_NEVER = dt.datetime.min.replace(tzinfo=dt.UTC)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _ms(moment: dt.datetime) -> str:
    return f"/Date({int(moment.timestamp() * 1000)}+0000)/"


def _ms_day(day: dt.date) -> str:
    return _ms(dt.datetime.combine(day, dt.time(), dt.UTC))


def _money(amount: Decimal) -> float:
    return float(amount)


def _sign(key: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def _error_body(status: int, message: str) -> Json:
    """Xero's ``ValidationException`` for ``400``; a problem document for the others."""
    if status == 400:
        return _validation_error(message)
    return _problem(status, message)


def _validation_error(message: str, element: Json | None = None) -> Json:
    """Xero's ``ValidationException``: the element as sent, with its ``ValidationErrors``."""
    return {
        "ErrorNumber": 10,
        "Type": "ValidationException",
        "Message": "A validation exception occurred",
        "Elements": [{**(element or {}), "ValidationErrors": [{"Message": message}]}],
    }


def _problem(status: int, detail: str) -> Json:
    """The problem document Xero answers ``401``/``403``/``404``/``429`` and ``5xx`` with."""
    return {
        "Type": None,
        "Title": HTTPStatus(status).phrase,
        "Status": status,
        "Detail": detail,
        "Instance": str(uuid.uuid4()),
        "Extensions": {},
    }


class Invalid(Exception):
    """A ``400`` ``ValidationException`` about one element of the request (echoed back)."""

    def __init__(self, message: str, element: Json | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.element = element or {}


@dataclass
class App:
    """A Xero app: its credentials and the redirect URIs registered for it."""

    client_id: str
    client_secret: str
    redirect_uris: list[str]
    name: str = "Timebridge"


@dataclass
class _Tenant:
    id: str
    name: str
    currency: str
    next_number: int = 1
    sales_tax_rate: Decimal = Decimal(0)
    """The rate of the sales account's tax (0.10: 10 %); Xero adds it to lines sent without a
    ``TaxAmount`` (tests set it; the demo company's default is no tax)."""
    accounts: dict[str, str] = field(
        default_factory=lambda: {"090": str(uuid.uuid4()), "200": str(uuid.uuid4())}
    )
    """Account code -> AccountID: the demo chart's bank account (090) and sales (200), as
    :data:`CHART` describes them."""


@dataclass
class _Contact:
    id: str
    tenant_id: str
    name: str
    updated_at: dt.datetime
    status: str = "ACTIVE"
    is_customer: bool = False
    is_supplier: bool = False
    email: str = ""
    tax_number: str = ""
    contact_number: str | None = None
    addresses: list[Json] = field(
        default_factory=lambda: [{"AddressType": "POBOX"}, {"AddressType": "STREET"}]
    )


@dataclass
class _Line:
    id: str
    description: str | None
    quantity: Decimal | None
    unit_amount: Decimal | None
    line_amount: Decimal
    account_code: str | None
    item_code: str | None
    tax_type: str | None
    tax_amount: Decimal


@dataclass
class _Payment:
    id: str
    tenant_id: str
    invoice_id: str
    account_code: str
    date: dt.date
    amount: Decimal
    updated_at: dt.datetime
    reference: str = ""
    status: str = "AUTHORISED"


@dataclass
class _Allocation:
    """Part of an overpayment's credit applied to an invoice (deleted ones stay, flagged)."""

    id: str
    overpayment_id: str
    invoice_id: str
    amount: Decimal
    date: dt.date
    deleted: bool = False


@dataclass
class _Overpayment:
    """A customer's money beyond what was due, received into a bank account
    (``RECEIVE-OVERPAYMENT``): a credit that allocations apply to the contact's invoices."""

    id: str
    bank_transaction_id: str
    tenant_id: str
    contact_id: str
    account_code: str
    date: dt.date
    total: Decimal
    currency: str
    updated_at: dt.datetime
    reference: str = ""
    allocations: list[_Allocation] = field(default_factory=list)

    @property
    def live_allocations(self) -> list[_Allocation]:
        return [a for a in self.allocations if not a.deleted]

    @property
    def remaining_credit(self) -> Decimal:
        return self.total - sum((a.amount for a in self.live_allocations), Decimal(0))

    @property
    def status(self) -> str:
        """``PAID`` once the whole credit is allocated, ``AUTHORISED`` before."""
        return "PAID" if self.remaining_credit == 0 else "AUTHORISED"


@dataclass
class _Invoice:
    id: str
    tenant_id: str
    contact_id: str
    lines: list[_Line]
    number: str
    status: str
    date: dt.date
    due_date: dt.date | None
    reference: str
    currency: str
    line_amount_types: str
    updated_at: dt.datetime
    payments: list[_Payment] = field(default_factory=list)
    allocations: list[_Allocation] = field(default_factory=list)
    """Overpayment credit applied to it (``AmountCredited``, not ``AmountPaid``)."""

    @property
    def total_tax(self) -> Decimal:
        if self.line_amount_types == "NoTax":
            return Decimal(0)
        return sum((line.tax_amount for line in self.lines), Decimal(0))

    @property
    def sub_total(self) -> Decimal:
        lines = sum((line.line_amount for line in self.lines), Decimal(0))
        return lines - self.total_tax if self.line_amount_types == "Inclusive" else lines

    @property
    def total(self) -> Decimal:
        return self.sub_total + self.total_tax

    @property
    def amount_paid(self) -> Decimal:
        return sum((p.amount for p in self.live_payments), Decimal(0))

    @property
    def amount_credited(self) -> Decimal:
        return sum((a.amount for a in self.allocations if not a.deleted), Decimal(0))

    @property
    def amount_due(self) -> Decimal:
        return self.total - self.amount_paid - self.amount_credited

    @property
    def settled_on(self) -> dt.date | None:
        """The day of the latest payment or allocation standing (``FullyPaidOnDate`` once paid)."""
        days = [p.date for p in self.live_payments]
        days += [a.date for a in self.allocations if not a.deleted]
        return max(days, default=None)

    @property
    def live_payments(self) -> list["_Payment"]:
        """The payments not deleted (a deleted one stays readable by id, as in Xero)."""
        return [p for p in self.payments if p.status != "DELETED"]


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    scopes: list[str]
    auth_event_id: str
    expires_at: dt.datetime
    used: bool = False


@dataclass
class _Access:
    client_id: str
    scopes: list[str]
    auth_event_id: str
    expires_at: dt.datetime


@dataclass
class _Refresh:
    client_id: str
    scopes: list[str]
    auth_event_id: str
    expires_at: dt.datetime
    used_at: dt.datetime | None = None
    answer: Json | None = None


@dataclass
class _Connection:
    id: str
    client_id: str
    tenant_id: str
    auth_event_id: str
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass
class _Stored:
    """The first answer to an idempotency key and what the request was."""

    fingerprint: str
    status: int
    body: Json
    expires_at: dt.datetime


@dataclass
class Subscription:
    """The app's webhook: active once the intent-to-receive check passed."""

    url: str
    key: str
    active: bool = False


@dataclass(frozen=True)
class Delivery:
    """One webhook call the sandbox made: the payload, how it was signed, what came back."""

    kind: Literal["intent_to_receive", "events"]
    payload: Json
    signed_correctly: bool
    status: int | None
    body: bytes = b""
    error: str | None = None


@dataclass
class XeroState:
    """The sandbox's data. Timestamps strictly increase even on a clock that stands still, so
    ``If-Modified-Since`` and ordering by ``UpdatedDateUTC`` are exact."""

    now: Callable[[], dt.datetime] = _utcnow
    apps: dict[str, App] = field(default_factory=dict)
    tenants: dict[str, _Tenant] = field(default_factory=dict)
    consent: list[str] | None = None
    """The tenants a user connects when authorising (all when None)."""
    contacts: dict[str, _Contact] = field(default_factory=dict)
    invoices: dict[str, _Invoice] = field(default_factory=dict)
    payments: dict[str, _Payment] = field(default_factory=dict)
    overpayments: dict[str, _Overpayment] = field(default_factory=dict)
    codes: dict[str, _Code] = field(default_factory=dict)
    access_tokens: dict[str, _Access] = field(default_factory=dict)
    refresh_tokens: dict[str, _Refresh] = field(default_factory=dict)
    connections: dict[tuple[str, str], _Connection] = field(default_factory=dict)
    """(client id, tenant id) -> the connection."""
    idempotency: dict[tuple[str, str], _Stored] = field(default_factory=dict)
    """(client id, key) -> the first answer."""
    webhook: Subscription | None = None
    pending_events: list[tuple[int, Json]] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=dict)
    peak_in_flight: dict[str, int] = field(default_factory=dict)
    _sequence: int = 0
    _last_stamp: dt.datetime = _NEVER

    def stamp(self) -> dt.datetime:
        """Now to the millisecond (Xero's precision), always later than the previous change."""
        now = self.now()
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        self._last_stamp = max(now, self._last_stamp + dt.timedelta(milliseconds=1))
        return self._last_stamp

    def reset(self) -> None:
        for collection in (
            self.apps,
            self.tenants,
            self.contacts,
            self.invoices,
            self.payments,
            self.overpayments,
            self.codes,
            self.access_tokens,
            self.refresh_tokens,
            self.connections,
            self.idempotency,
            self.peak_in_flight,
        ):
            collection.clear()
        self.consent = self.webhook = None
        self.pending_events.clear()
        self.deliveries.clear()
        self._sequence = 0

    def add_app(self, client_id: str, client_secret: str, redirect_uris: list[str]) -> App:
        app = self.apps[client_id] = App(client_id, client_secret, redirect_uris)
        return app

    def add_tenant(self, name: str, *, currency: str = "USD") -> str:
        tenant = _Tenant(str(uuid.uuid4()), name, currency)
        self.tenants[tenant.id] = tenant
        return tenant.id

    def add_contact(
        self,
        tenant_id: str,
        name: str,
        *,
        is_customer: bool = True,
        is_supplier: bool = False,
        email: str = "",
        tax_number: str = "",
        addresses: list[Json] | None = None,
        contact_number: str | None = None,
    ) -> str:
        contact = _Contact(
            str(uuid.uuid4()),
            tenant_id,
            name,
            self.stamp(),
            is_customer=is_customer,
            is_supplier=is_supplier,
            email=email,
            tax_number=tax_number,
            contact_number=contact_number,
        )
        if addresses is not None:
            contact.addresses = addresses
        self.contacts[contact.id] = contact
        self.announce("CONTACT", "CREATE", contact.id, tenant_id)
        return contact.id

    def announce(self, category: str, kind: str, resource_id: str, tenant_id: str) -> None:
        """Queue the event for the app's webhook (kept until delivered, as Xero does)."""
        if self.webhook is None or not self.webhook.active:
            return
        self._sequence += 1
        path = "Contacts" if category == "CONTACT" else "Invoices"
        event = {
            "resourceUrl": f"{XERO_API_URL}{API}/{path}/{resource_id}",
            "resourceId": resource_id,
            "tenantId": tenant_id,
            "tenantType": "ORGANISATION",
            "eventCategory": category,
            "eventType": kind,
            "eventDateUtc": self.now()
            .astimezone(dt.UTC)
            .replace(tzinfo=None)
            .isoformat("T", "milliseconds"),
        }
        self.pending_events.append((self._sequence, event))
