"""An in-memory Xero: OAuth2, ``/connections``, the Accounting API routes Timebridge uses, webhooks.

Written from Xero's documentation and its official OpenAPI files (``shared/provider-specs``),
not from Timebridge's client. One host plays all of Xero's: ``login.xero.com``
(``/identity/connect/authorize``), ``identity.xero.com`` (``/connect/token``) and
``api.xero.com`` (``/connections``, ``/api.xro/2.0/...``).

Taken from the documentation: the authorization-code flow with Basic client auth on the token
endpoint and ``offline_access`` for a refresh token; 30-minute access tokens; rotating refresh
tokens, the old one still answered for a 30-minute grace period and refused with
``invalid_grant`` after it, unused ones expiring after 60 days; ``/connections`` in Xero's
camelCase; ``xero-tenant-id`` on every Accounting call; JSON only with ``Accept:
application/json`` (Xero would answer XML; the sandbox answers ``406``); PascalCase bodies,
``/Date(ms+0000)/`` dates, ``If-Modified-Since``, ``where``, ``order``, ``Statuses``,
``includeArchived`` (archived contacts are left out without it), ``page``/``pageSize`` (1-1000,
default 100) with a ``pagination`` object, line items only on single or paged reads; drafts
created with ``PUT /Invoices`` (``Type``, ``Contact``, ``LineItems`` required; a number from
``INV-0001`` on when none is given, unique per organisation); ``DELETED`` only from
``DRAFT``/``SUBMITTED``, ``VOIDED`` only from ``AUTHORISED`` without payments, by posting the
status to ``/Invoices/{id}``; ``IsCustomer`` set by the first sales invoice (without moving
``UpdatedDateUTC``); ``Idempotency-Key`` (128 characters at most) replaying the first answer for
6 minutes and refusing the key with another request (``400``); 60 calls a minute, 5000 a day and
5 in progress per tenant (``429`` with ``Retry-After`` and ``X-Rate-Limit-Problem``); validation
errors in Xero's ``ValidationException`` shape; webhooks signed ``x-xero-signature`` =
base64(HMAC-SHA256(key, body)), the intent-to-receive check (a correctly and an incorrectly
signed empty payload, expecting ``200`` without body and ``401``), ``CREATE``/``UPDATE`` events
of ``CONTACT`` and ``INVOICE`` with increasing sequence numbers, undelivered events kept and sent
again with the next delivery.

Assumed where the documentation is silent: authorization codes live 5 minutes; a refresh token
repeated within the grace period gets the same answer as the first time; a bad client is
``401 invalid_client``; a missing scope is ``401``, a tenant not connected ``403``; concurrent
``429`` carry no ``Retry-After``; ``If-Modified-Since`` (ISO-8601, without a zone meaning UTC)
keeps records changed at or after it; ``GET /Invoices`` without ``Statuses`` leaves ``DELETED``
out; lists are in creation order unless ``order`` says otherwise; no tax unless a line carries
``TaxAmount``; line amounts are rounded half-up to cents, and a given ``LineAmount`` must match
quantity times unit amount; approving needs an account or item code on every line with an amount;
an archived contact takes no new invoice; events are sent right after the change, one delivery
per change (Xero batches).

Not simulated: XML, PKCE, ``openid`` ID tokens, disconnecting, purchase invoices, credit notes,
tracking, multi-currency rates, ``summarizeErrors=false``, ``where`` beyond ``Field==value``
joined by ``AND``.

Admin API under ``/_sandbox`` (what a user does in Xero's UI; changes send webhooks like API
ones): ``POST /_sandbox/reset``, ``GET|POST|DELETE /_sandbox/faults``, ``POST /_sandbox/tenants``,
``POST /_sandbox/tenants/{id}/contacts``, ``PATCH /_sandbox/contacts/{id}``, ``PATCH
/_sandbox/invoices/{id}``, ``POST /_sandbox/invoices/{id}/approve|void|delete|payments``, ``PUT
/_sandbox/webhook`` and ``GET /_sandbox/deliveries``.
"""

import asyncio
import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import math
import re
import secrets
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from http import HTTPStatus
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs, urlencode

import httpx
from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from timebridge_sandboxes.faults import ApiError, Faults, RateLimit, error_response, install

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
STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED", "PAID", "VOIDED", "DELETED")
CENT = Decimal("0.01")

Json = dict[str, Any]

_NEVER = dt.datetime.min.replace(tzinfo=dt.UTC)
_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")
_CONDITION = re.compile(r'^(\w+)\s*==\s*(?:"((?:[^"\\]|\\.)*)"|(true|false))$', re.IGNORECASE)


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
        return {
            "ErrorNumber": 10,
            "Type": "ValidationException",
            "Message": "A validation exception occurred",
            "Elements": [{"ValidationErrors": [{"Message": message}]}],
        }
    return {"Type": None, "Title": HTTPStatus(status).phrase, "Status": status, "Detail": message}


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
    date: dt.date
    amount: Decimal


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
        return sum((p.amount for p in self.payments), Decimal(0))


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


class _LineIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    Description: str | None = None
    Quantity: Decimal | None = None
    UnitAmount: Decimal | None = None
    LineAmount: Decimal | None = None
    AccountCode: str | None = None
    ItemCode: str | None = None
    TaxType: str | None = None
    TaxAmount: Decimal | None = None


class _ContactRef(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ContactID: str | None = None


class _InvoiceIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    Type: str | None = None
    Contact: _ContactRef | None = None
    LineItems: list[_LineIn] | None = None
    Date: dt.date | None = None
    DueDate: dt.date | None = None
    Reference: str | None = None
    CurrencyCode: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    LineAmountTypes: Literal["Exclusive", "Inclusive", "NoTax"] | None = None
    InvoiceNumber: str | None = Field(default=None, max_length=255)
    Status: Literal["DRAFT", "SUBMITTED", "AUTHORISED", "VOIDED", "DELETED"] | None = None


class _InvoicesIn(BaseModel):
    Invoices: list[_InvoiceIn] = Field(min_length=1)


class _TenantIn(BaseModel):
    name: str = Field(min_length=1)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")


class _ContactIn(BaseModel):
    """A contact as typed in Xero's UI (the fields the sandbox keeps)."""

    Name: str | None = Field(default=None, min_length=1, max_length=255)
    EmailAddress: str | None = None
    TaxNumber: str | None = Field(default=None, max_length=50)
    ContactNumber: str | None = Field(default=None, max_length=50)
    Addresses: list[Json] | None = None
    IsCustomer: bool = True
    IsSupplier: bool = False
    ContactStatus: Literal["ACTIVE", "ARCHIVED"] | None = None


class _PaymentIn(BaseModel):
    Amount: Decimal | None = Field(default=None, gt=0)
    Date: dt.date | None = None


class _WebhookIn(BaseModel):
    url: str = Field(pattern=r"^https?://")
    key: str = Field(min_length=1)


@dataclass(frozen=True)
class _Caller:
    client_id: str
    tenant_id: str


class _Sandbox:
    """The Xero behaviour behind the routes: tokens, rules, serialisation, webhooks."""

    def __init__(
        self,
        state: XeroState,
        limit: RateLimit,
        daily: RateLimit,
        webhook_transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        self.state = state
        self.limit = limit
        self.daily = daily
        self.webhook_transport = webhook_transport
        self._delivering = asyncio.Lock()

    def reset(self) -> None:
        self.state.reset()
        self.daily.forget()

    def issue_tokens(self, client_id: str, scopes: list[str], auth_event_id: str) -> Json:
        now = self.state.now()
        access = secrets.token_urlsafe(32)
        self.state.access_tokens[access] = _Access(
            client_id, scopes, auth_event_id, now + ACCESS_TOKEN_TTL
        )
        answer: Json = {
            "access_token": access,
            "expires_in": int(ACCESS_TOKEN_TTL.total_seconds()),
            "token_type": "Bearer",
            "scope": " ".join(scopes),
        }
        if "offline_access" in scopes:
            refresh = secrets.token_urlsafe(32)
            self.state.refresh_tokens[refresh] = _Refresh(
                client_id, scopes, auth_event_id, now + REFRESH_TOKEN_TTL
            )
            answer["refresh_token"] = refresh
        return answer

    def exchange_code(self, app: App, given: str, redirect_uri: str | None) -> Json | None:
        """The tokens for a code used once, in time, by its client and redirect URI."""
        code = self.state.codes.get(given)
        if (
            code is None
            or code.used
            or code.expires_at <= self.state.now()
            or code.client_id != app.client_id
            or code.redirect_uri != redirect_uri
        ):
            return None
        code.used = True
        return self.issue_tokens(app.client_id, code.scopes, code.auth_event_id)

    def refresh(self, app: App, given: str) -> Json | None:
        """New tokens for a refresh token used once; the same again within the grace period."""
        now = self.state.now()
        refresh = self.state.refresh_tokens.get(given)
        if refresh is None or refresh.client_id != app.client_id or refresh.expires_at <= now:
            return None
        if refresh.used_at is None:
            refresh.used_at = now
            refresh.answer = self.issue_tokens(app.client_id, refresh.scopes, refresh.auth_event_id)
        elif now - refresh.used_at > REFRESH_GRACE:
            return None
        return refresh.answer

    def bearer(self, authorization: str | None) -> _Access:
        scheme, _, token = (authorization or "").partition(" ")
        access = self.state.access_tokens.get(token) if scheme.lower() == "bearer" else None
        if access is None or access.expires_at <= self.state.now():
            raise ApiError(401, "AuthenticationUnsuccessful")
        return access

    def admit(self, tenant_id: str) -> None:
        """Count the call against the tenant's minute and day limits (``429`` beyond them)."""
        for limit, problem in ((self.limit, "minute"), (self.daily, "day")):
            try:
                limit.admit(tenant_id)
            except ApiError as exc:
                headers = {**(exc.headers or {}), "X-Rate-Limit-Problem": problem}
                raise ApiError(exc.status, exc.message, headers) from None

    def contact(self, contact_id: str, tenant_id: str | None = None) -> _Contact:
        contact = self.state.contacts.get(contact_id)
        if contact is None or tenant_id not in (None, contact.tenant_id):
            raise ApiError(404, "The resource you're looking for cannot be found")
        return contact

    def invoice(self, invoice_id: str, tenant_id: str | None = None) -> _Invoice:
        invoice = self.state.invoices.get(invoice_id)
        if invoice is None or tenant_id not in (None, invoice.tenant_id):
            raise ApiError(404, "The resource you're looking for cannot be found")
        return invoice

    def change_contact(self, contact: _Contact, body: _ContactIn) -> _Contact:
        if body.Name is not None:
            contact.name = body.Name
        if body.EmailAddress is not None:
            contact.email = body.EmailAddress
        if body.TaxNumber is not None:
            contact.tax_number = body.TaxNumber
        if body.ContactNumber is not None:
            contact.contact_number = body.ContactNumber
        if body.Addresses is not None:
            contact.addresses = body.Addresses
        if body.ContactStatus is not None:
            contact.status = body.ContactStatus
        contact.updated_at = self.state.stamp()
        self.state.announce("CONTACT", "UPDATE", contact.id, contact.tenant_id)
        return contact

    def create_invoice(self, tenant_id: str, body: _InvoiceIn) -> _Invoice:
        if body.Type != "ACCREC":
            raise ApiError(400, "Only sales invoices (Type ACCREC) are simulated")
        if body.Contact is None or body.Contact.ContactID is None:
            raise ApiError(400, "A Contact must be specified for this type of transaction")
        contact = self.state.contacts.get(body.Contact.ContactID)
        if contact is None or contact.tenant_id != tenant_id:
            raise ApiError(400, "The contact could not be found")
        if contact.status != "ACTIVE":
            raise ApiError(400, "The contact has been archived and cannot be used")
        if not body.LineItems:
            raise ApiError(400, "At least one line item is required")
        if body.Status in ("VOIDED", "DELETED"):
            raise ApiError(400, f"An invoice cannot be created as {body.Status}")
        tenant = self.state.tenants[tenant_id]
        invoice = _Invoice(
            id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            contact_id=contact.id,
            lines=[self.line(line) for line in body.LineItems],
            number=self.number(tenant, body.InvoiceNumber),
            status="DRAFT",
            date=body.Date or self.state.now().date(),
            due_date=body.DueDate,
            reference=body.Reference or "",
            currency=body.CurrencyCode or tenant.currency,
            line_amount_types=body.LineAmountTypes or "Exclusive",
            updated_at=self.state.stamp(),
        )
        if body.Status in ("SUBMITTED", "AUTHORISED"):
            self.move(invoice, body.Status)
        self.state.invoices[invoice.id] = invoice
        contact.is_customer = True
        self.state.announce("INVOICE", "CREATE", invoice.id, tenant_id)
        return invoice

    @staticmethod
    def line(given: _LineIn) -> _Line:
        amount = given.LineAmount
        if given.Quantity is not None and given.UnitAmount is not None:
            product = (given.Quantity * given.UnitAmount).quantize(CENT, ROUND_HALF_UP)
            if amount is not None and amount.quantize(CENT, ROUND_HALF_UP) != product:
                raise ApiError(400, "The line amount must equal quantity times unit amount")
            amount = product
        if amount is None and not given.Description:
            raise ApiError(400, "Description needs to be at least 1 char long")
        return _Line(
            id=str(uuid.uuid4()),
            description=given.Description,
            quantity=given.Quantity,
            unit_amount=given.UnitAmount,
            line_amount=(amount or Decimal(0)).quantize(CENT, ROUND_HALF_UP),
            account_code=given.AccountCode,
            item_code=given.ItemCode,
            tax_type=given.TaxType,
            tax_amount=(given.TaxAmount or Decimal(0)).quantize(CENT, ROUND_HALF_UP),
        )

    def number(self, tenant: _Tenant, given: str | None, invoice: _Invoice | None = None) -> str:
        taken = {
            i.number
            for i in self.state.invoices.values()
            if i.tenant_id == tenant.id and i is not invoice
        }
        if given:
            if given in taken:
                raise ApiError(400, "Invoice # must be unique.")
            return given
        while f"INV-{tenant.next_number:04d}" in taken:
            tenant.next_number += 1
        return f"INV-{tenant.next_number:04d}"

    @staticmethod
    def move(invoice: _Invoice, status: str) -> None:
        """Change the status as Xero allows (payments make an invoice ``PAID`` elsewhere)."""
        allowed = {
            "SUBMITTED": ("DRAFT",),
            "AUTHORISED": ("DRAFT", "SUBMITTED"),
            "DELETED": ("DRAFT", "SUBMITTED"),
            "VOIDED": ("AUTHORISED",),
        }
        if invoice.status not in allowed.get(status, ()) or (
            status == "VOIDED" and invoice.payments
        ):
            raise ApiError(400, f"A {invoice.status} invoice cannot become {status}")
        if status == "AUTHORISED" and any(
            line.line_amount and not (line.account_code or line.item_code) for line in invoice.lines
        ):
            raise ApiError(400, "Account code must be specified")
        invoice.status = status

    def update_invoice(self, invoice: _Invoice, body: _InvoiceIn) -> _Invoice:
        """Apply the given fields, then the status; every change is an ``UPDATE`` event."""
        editable = invoice.status in ("DRAFT", "SUBMITTED") or (
            invoice.status == "AUTHORISED" and not invoice.payments
        )
        changes_fields = any(
            v is not None
            for v in (body.LineItems, body.Date, body.DueDate, body.Reference, body.InvoiceNumber)
        )
        if changes_fields and not editable:
            raise ApiError(400, f"A {invoice.status} invoice cannot be edited")
        if body.LineItems is not None:
            invoice.lines = [self.line(line) for line in body.LineItems]
        if body.InvoiceNumber is not None:
            invoice.number = self.number(
                self.state.tenants[invoice.tenant_id], body.InvoiceNumber, invoice
            )
        invoice.date = body.Date or invoice.date
        invoice.due_date = body.DueDate or invoice.due_date
        invoice.reference = invoice.reference if body.Reference is None else body.Reference
        if body.Status is not None and body.Status != invoice.status:
            self.move(invoice, body.Status)
        invoice.updated_at = self.state.stamp()
        self.state.announce("INVOICE", "UPDATE", invoice.id, invoice.tenant_id)
        return invoice

    def pay(self, invoice: _Invoice, body: _PaymentIn) -> _Invoice:
        due = invoice.total - invoice.amount_paid
        amount = due if body.Amount is None else body.Amount.quantize(CENT, ROUND_HALF_UP)
        if invoice.status != "AUTHORISED" or amount > due:
            raise ApiError(400, "Payments go to approved invoices, up to the amount due")
        date = body.Date or self.state.now().date()
        invoice.payments.append(_Payment(str(uuid.uuid4()), date, amount))
        if amount == due:
            invoice.status = "PAID"
        invoice.updated_at = self.state.stamp()
        self.state.announce("INVOICE", "UPDATE", invoice.id, invoice.tenant_id)
        return invoice

    @staticmethod
    def contact_json(contact: _Contact) -> Json:
        body: Json = {
            "ContactID": contact.id,
            "ContactStatus": contact.status,
            "Name": contact.name,
            "EmailAddress": contact.email,
            "TaxNumber": contact.tax_number,
            "Addresses": contact.addresses,
            "Phones": [],
            "UpdatedDateUTC": _ms(contact.updated_at),
            "ContactGroups": [],
            "IsSupplier": contact.is_supplier,
            "IsCustomer": contact.is_customer,
            "HasAttachments": False,
            "HasValidationErrors": False,
        }
        if contact.contact_number is not None:
            body["ContactNumber"] = contact.contact_number
        return body

    def invoice_json(self, invoice: _Invoice, *, lines: bool = True) -> Json:
        contact = self.state.contacts[invoice.contact_id]
        body: Json = {
            "Type": "ACCREC",
            "InvoiceID": invoice.id,
            "InvoiceNumber": invoice.number,
            "Reference": invoice.reference,
            "Payments": [
                {"PaymentID": p.id, "Date": _ms_day(p.date), "Amount": _money(p.amount)}
                for p in invoice.payments
            ],
            "CreditNotes": [],
            "Prepayments": [],
            "Overpayments": [],
            "AmountDue": _money(invoice.total - invoice.amount_paid),
            "AmountPaid": _money(invoice.amount_paid),
            "AmountCredited": 0.0,
            "CurrencyRate": 1.0,
            "IsDiscounted": False,
            "HasAttachments": False,
            "HasErrors": False,
            "Contact": {
                "ContactID": contact.id,
                "Name": contact.name,
                "Addresses": [],
                "Phones": [],
                "ContactGroups": [],
                "ContactPersons": [],
                "HasValidationErrors": False,
            },
            "DateString": f"{invoice.date.isoformat()}T00:00:00",
            "Date": _ms_day(invoice.date),
            "Status": invoice.status,
            "LineAmountTypes": invoice.line_amount_types,
            "SubTotal": _money(invoice.sub_total),
            "TotalTax": _money(invoice.total_tax),
            "Total": _money(invoice.total),
            "UpdatedDateUTC": _ms(invoice.updated_at),
            "CurrencyCode": invoice.currency,
        }
        if invoice.due_date is not None:
            body["DueDateString"] = f"{invoice.due_date.isoformat()}T00:00:00"
            body["DueDate"] = _ms_day(invoice.due_date)
        if invoice.status == "PAID":
            body["FullyPaidOnDate"] = _ms_day(invoice.payments[-1].date)
        if lines:
            body["LineItems"] = [self.line_json(line) for line in invoice.lines]
        return body

    @staticmethod
    def line_json(line: _Line) -> Json:
        body: Json = {
            "LineItemID": line.id,
            "LineAmount": _money(line.line_amount),
            "TaxAmount": _money(line.tax_amount),
            "Tracking": [],
        }
        for name, value in (
            ("Description", line.description),
            ("AccountCode", line.account_code),
            ("ItemCode", line.item_code),
            ("TaxType", line.tax_type),
        ):
            if value is not None:
                body[name] = value
        for name, amount in (("Quantity", line.quantity), ("UnitAmount", line.unit_amount)):
            if amount is not None:
                body[name] = _money(amount)
        return body

    def envelope(
        self, caller: _Caller, key: str, records: list[Json], page: int | None, size: int
    ) -> Json:
        body: Json = {
            "Id": str(uuid.uuid4()),
            "Status": "OK",
            "ProviderName": self.state.apps[caller.client_id].name,
            "DateTimeUTC": _ms(self.state.now()),
        }
        if page is not None:
            body["pagination"] = {
                "page": page,
                "pageSize": size,
                "pageCount": math.ceil(len(records) / size),
                "itemCount": len(records),
            }
            records = records[(page - 1) * size : page * size]
        body[key] = records
        return body

    async def idempotent(
        self, caller: _Caller, request: Request, key: str | None, run: Callable[[], Json]
    ) -> JSONResponse:
        """Run the write once per key: the same request again gets the first answer."""
        if key is None:
            return JSONResponse(run())
        if len(key) > IDEMPOTENCY_KEY_MAX:
            raise ApiError(400, f"Idempotency-Key is longer than {IDEMPOTENCY_KEY_MAX}")
        parts = (request.method, request.url.path, caller.tenant_id)
        fingerprint = hashlib.sha256("\n".join(parts).encode() + await request.body()).hexdigest()
        now = self.state.now()
        stored = self.state.idempotency.get((caller.client_id, key))
        if stored is not None and stored.expires_at > now:
            if stored.fingerprint != fingerprint:
                raise ApiError(400, f"Idempotency key {key} is used with a different request")
            return JSONResponse(stored.body, status_code=stored.status)
        try:
            status, body = 200, run()
        except ApiError as exc:
            status, body = exc.status, _error_body(exc.status, exc.message)
        self.state.idempotency[(caller.client_id, key)] = _Stored(
            fingerprint, status, body, now + IDEMPOTENCY_TTL
        )
        return JSONResponse(body, status_code=status)

    async def deliver(self) -> None:
        """Send the queued events in one signed payload; on failure they wait for the next."""
        async with self._delivering:
            subscription, queued = self.state.webhook, list(self.state.pending_events)
            if subscription is None or not subscription.active or not queued:
                return
            payload = {
                "events": [event for _, event in queued],
                "firstEventSequence": queued[0][0],
                "lastEventSequence": queued[-1][0],
                "entropy": _entropy(),
            }
            delivery = await self.post("events", subscription, payload, signed_correctly=True)
            if delivery.status == 200:
                del self.state.pending_events[: len(queued)]

    async def intent_to_receive(self, subscription: Subscription) -> bool:
        """Xero's check: ``200`` and no body when signed right, ``401`` when signed wrong."""
        outcomes = []
        for signed_correctly in (True, False):
            payload = {
                "events": [],
                "firstEventSequence": 0,
                "lastEventSequence": 0,
                "entropy": _entropy(),
            }
            delivery = await self.post(
                "intent_to_receive", subscription, payload, signed_correctly=signed_correctly
            )
            expected = 200 if signed_correctly else 401
            outcomes.append(delivery.status == expected and not delivery.body)
        return all(outcomes)

    async def post(
        self,
        kind: Literal["intent_to_receive", "events"],
        subscription: Subscription,
        payload: Json,
        *,
        signed_correctly: bool,
    ) -> Delivery:
        body = json.dumps(payload).encode()
        key = subscription.key if signed_correctly else secrets.token_urlsafe(32)
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: _sign(key, body)}
        try:
            async with httpx.AsyncClient(transport=self.webhook_transport, timeout=5) as client:
                answer = await client.post(subscription.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            delivery = Delivery(kind, payload, signed_correctly, None, error=type(exc).__name__)
        else:
            delivery = Delivery(kind, payload, signed_correctly, answer.status_code, answer.content)
        self.state.deliveries.append(delivery)
        return delivery


def _entropy() -> str:
    return "".join(secrets.choice(string.ascii_uppercase) for _ in range(20))


def _oauth_refusal(error: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=status)


def _client_credentials(sandbox: _Sandbox, authorization: str | None) -> App | None:
    scheme, _, encoded = (authorization or "").partition(" ")
    try:
        client_id, _, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    app = sandbox.state.apps.get(client_id)
    if scheme.lower() != "basic" or app is None:
        return None
    return app if hmac.compare_digest(app.client_secret, secret) else None


def _since(value: str | None) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"If-Modified-Since is not a timestamp: {value}") from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment


def _where(expression: str | None) -> list[tuple[str, Any]]:
    conditions: list[tuple[str, Any]] = []
    for part in re.split(r"\s+AND\s+", expression.strip()) if expression else []:
        match = _CONDITION.match(part.strip())
        if match is None:
            raise ApiError(400, f"The sandbox does not understand the where clause {part!r}")
        name, text, flag = match.groups()
        value = flag.lower() == "true" if text is None else re.sub(r"\\(.)", r"\1", text)
        conditions.append((name, value))
    return conditions


def _sortable(value: Any) -> Any:
    match = _MS_DATE.match(value) if isinstance(value, str) else None
    return int(match[1]) if match else value


@dataclass(frozen=True)
class _Listing:
    """What a ``GET`` of a collection asks for: changes since, filter, order, page."""

    since: dt.datetime | None
    where: str | None
    order: str | None
    page: int | None
    page_size: int

    def answer(
        self, sandbox: _Sandbox, caller: _Caller, key: str, found: list[tuple[dt.datetime, Json]]
    ) -> Json:
        conditions = _where(self.where)
        records = [
            record
            for updated_at, record in found
            if (self.since is None or updated_at >= self.since)
            and all(record.get(name) == value for name, value in conditions)
        ]
        if self.order:
            name, _, direction = self.order.strip().partition(" ")
            if direction.strip().upper() not in ("", "ASC", "DESC"):
                raise ApiError(400, f"The order {self.order!r} is not understood")
            records.sort(
                key=lambda r: (r.get(name) is None, _sortable(r.get(name))),
                reverse=direction.strip().upper() == "DESC",
            )
        return sandbox.envelope(caller, key, records, self.page, self.page_size)


def _listing(
    where: str | None = None,
    order: str | None = None,
    page: Annotated[int | None, Query(ge=1)] = None,
    page_size: Annotated[int, Query(alias="pageSize", ge=1, le=1000)] = 100,
    if_modified_since: Annotated[str | None, Header()] = None,
) -> _Listing:
    return _Listing(_since(if_modified_since), where, order, page, page_size)


class _InFlight:
    """Xero's limit of calls in progress per tenant: one more is answered ``429`` at once."""

    def __init__(self, app: ASGIApp, state: XeroState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        tenant = headers.get(b"xero-tenant-id", b"").decode()
        if scope["type"] != "http" or not scope["path"].startswith(API) or not tenant:
            await self.app(scope, receive, send)
            return
        busy = self.state.in_flight.get(tenant, 0)
        if busy >= CONCURRENT_LIMIT:
            refusal = ApiError(
                429, "Too many calls in progress", {"X-Rate-Limit-Problem": "concurrent"}
            )
            await error_response(_error_body, refusal)(scope, receive, send)
            return
        self.state.in_flight[tenant] = busy + 1
        self.state.peak_in_flight[tenant] = max(busy + 1, self.state.peak_in_flight.get(tenant, 0))
        try:
            await self.app(scope, receive, send)
        finally:
            self.state.in_flight[tenant] = self.state.in_flight.get(tenant, 1) - 1


def _sandbox(request: Request) -> _Sandbox:
    sandbox: _Sandbox = request.app.state.sandbox
    return sandbox


Sandbox = Annotated[_Sandbox, Depends(_sandbox)]


def _changing(sandbox: Sandbox, background: BackgroundTasks) -> _Sandbox:
    """The sandbox of a route that changes data: webhook events go out after its answer."""
    background.add_task(sandbox.deliver)
    return sandbox


Changing = Annotated[_Sandbox, Depends(_changing)]


def _scoped(scope: str) -> Callable[..., _Caller]:
    """The dependency authenticating an Accounting call that needs ``scope`` (or its read-only
    variant) and counting it against the tenant's limits."""

    def caller(
        sandbox: Sandbox,
        authorization: Annotated[str | None, Header()] = None,
        tenant_id: Annotated[str | None, Header(alias="xero-tenant-id")] = None,
        accept: Annotated[str | None, Header()] = None,
    ) -> _Caller:
        access = sandbox.bearer(authorization)
        if tenant_id is None or (access.client_id, tenant_id) not in sandbox.state.connections:
            raise ApiError(403, "AuthenticationUnsuccessful")
        if not ({scope, f"{scope}.read"} & set(access.scopes)):
            raise ApiError(401, "AuthorizationUnsuccessful")
        if "application/json" not in (accept or ""):
            raise ApiError(406, "The sandbox answers JSON only; Xero would answer XML")
        sandbox.admit(tenant_id)
        return _Caller(access.client_id, tenant_id)

    return caller


ContactsCaller = Annotated[_Caller, Depends(_scoped(CONTACTS_SCOPE))]
InvoicesCaller = Annotated[_Caller, Depends(_scoped(INVOICES_SCOPE))]
Listing = Annotated[_Listing, Depends(_listing)]
IdempotencyKey = Annotated[str | None, Header()]

identity = APIRouter(tags=["identity"])
api = APIRouter(prefix=API, tags=["accounting"])
admin = APIRouter(prefix="/_sandbox", tags=["sandbox"])


@identity.get("/identity/connect/authorize")
async def authorize(
    sandbox: Sandbox,
    *,
    response_type: str,
    client_id: str,
    redirect_uri: str,
    scope: str,
    state: str | None = None,
) -> Response:
    """The user logs in and connects the organisations (all, or ``XeroState.consent``)."""
    app = sandbox.state.apps.get(client_id)
    if app is None or redirect_uri not in app.redirect_uris:
        raise ApiError(400, "Unknown client or redirect URI")
    separator = "&" if "?" in redirect_uri else "?"
    extra = {} if state is None else {"state": state}
    if response_type != "code":
        query = urlencode({"error": "unsupported_response_type", **extra})
        return RedirectResponse(f"{redirect_uri}{separator}{query}", status_code=302)
    now, auth_event = sandbox.state.now(), str(uuid.uuid4())
    code = secrets.token_urlsafe(24)
    sandbox.state.codes[code] = _Code(
        client_id, redirect_uri, scope.split(), auth_event, now + CODE_TTL
    )
    for tenant_id in sandbox.state.consent or list(sandbox.state.tenants):
        known = sandbox.state.connections.get((client_id, tenant_id))
        sandbox.state.connections[(client_id, tenant_id)] = _Connection(
            known.id if known else str(uuid.uuid4()),
            client_id,
            tenant_id,
            auth_event,
            known.created_at if known else now,
            now,
        )
    query = urlencode({"code": code, "scope": scope, **extra})
    return RedirectResponse(f"{redirect_uri}{separator}{query}", status_code=302)


@identity.post("/connect/token")
async def token(
    sandbox: Sandbox, request: Request, authorization: Annotated[str | None, Header()] = None
) -> JSONResponse:
    """Exchange a code or a refresh token (form body, client id and secret as Basic auth)."""
    app = _client_credentials(sandbox, authorization)
    if app is None:
        return _oauth_refusal("invalid_client", 401)
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
    grant = form.get("grant_type")
    if grant == "authorization_code":
        answer = sandbox.exchange_code(app, form.get("code", ""), form.get("redirect_uri"))
    elif grant == "refresh_token":
        answer = sandbox.refresh(app, form.get("refresh_token", ""))
    else:
        return _oauth_refusal("unsupported_grant_type")
    return JSONResponse(answer) if answer is not None else _oauth_refusal("invalid_grant")


@identity.get("/connections")
async def connections(
    sandbox: Sandbox, authorization: Annotated[str | None, Header()] = None
) -> list[Json]:
    access = sandbox.bearer(authorization)
    return [
        {
            "id": c.id,
            "authEventId": c.auth_event_id,
            "tenantId": c.tenant_id,
            "tenantType": "ORGANISATION",
            "tenantName": sandbox.state.tenants[c.tenant_id].name,
            "createdDateUtc": c.created_at.replace(tzinfo=None).isoformat(),
            "updatedDateUtc": c.updated_at.replace(tzinfo=None).isoformat(),
        }
        for c in sandbox.state.connections.values()
        if c.client_id == access.client_id
    ]


@api.get("/Contacts")
async def list_contacts(
    sandbox: Sandbox,
    caller: ContactsCaller,
    listing: Listing,
    include_archived: Annotated[bool, Query(alias="includeArchived")] = False,
) -> Json:
    found = [
        (c.updated_at, sandbox.contact_json(c))
        for c in sandbox.state.contacts.values()
        if c.tenant_id == caller.tenant_id and (include_archived or c.status != "ARCHIVED")
    ]
    return listing.answer(sandbox, caller, "Contacts", found)


@api.get("/Contacts/{contact_id}")
async def get_contact(sandbox: Sandbox, caller: ContactsCaller, contact_id: str) -> Json:
    found = [sandbox.contact_json(sandbox.contact(contact_id, caller.tenant_id))]
    return sandbox.envelope(caller, "Contacts", found, None, 1)


@api.get("/Invoices")
async def list_invoices(
    sandbox: Sandbox,
    caller: InvoicesCaller,
    listing: Listing,
    statuses: Annotated[str | None, Query(alias="Statuses")] = None,
) -> Json:
    wanted = set(STATUSES[:-1] if statuses is None else statuses.split(","))
    found = [
        (i.updated_at, sandbox.invoice_json(i, lines=listing.page is not None))
        for i in sandbox.state.invoices.values()
        if i.tenant_id == caller.tenant_id and i.status in wanted
    ]
    return listing.answer(sandbox, caller, "Invoices", found)


@api.put("/Invoices")
async def create_invoices(
    sandbox: Changing,
    caller: InvoicesCaller,
    *,
    request: Request,
    body: _InvoicesIn,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    def run() -> Json:
        created = [sandbox.create_invoice(caller.tenant_id, i) for i in body.Invoices]
        records = [sandbox.invoice_json(i) for i in created]
        return sandbox.envelope(caller, "Invoices", records, None, 1)

    return await sandbox.idempotent(caller, request, idempotency_key, run)


@api.get("/Invoices/{invoice_id}")
async def get_invoice(sandbox: Sandbox, caller: InvoicesCaller, invoice_id: str) -> Json:
    found = [sandbox.invoice_json(sandbox.invoice(invoice_id, caller.tenant_id))]
    return sandbox.envelope(caller, "Invoices", found, None, 1)


@api.post("/Invoices/{invoice_id}")
async def update_invoice(
    sandbox: Changing,
    caller: InvoicesCaller,
    *,
    request: Request,
    invoice_id: str,
    body: _InvoicesIn,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    def run() -> Json:
        invoice = sandbox.invoice(invoice_id, caller.tenant_id)
        updated = sandbox.update_invoice(invoice, body.Invoices[0])
        return sandbox.envelope(caller, "Invoices", [sandbox.invoice_json(updated)], None, 1)

    return await sandbox.idempotent(caller, request, idempotency_key, run)


@admin.post("/tenants", status_code=201)
async def add_tenant(sandbox: Sandbox, body: _TenantIn) -> Json:
    return {"tenantId": sandbox.state.add_tenant(body.name, currency=body.currency)}


@admin.post("/tenants/{tenant_id}/contacts", status_code=201)
async def ui_add_contact(sandbox: Changing, tenant_id: str, body: _ContactIn) -> Json:
    if tenant_id not in sandbox.state.tenants or body.Name is None:
        raise ApiError(400, "A contact needs a Name and a known tenant")
    contact_id = sandbox.state.add_contact(
        tenant_id,
        body.Name,
        is_customer=body.IsCustomer,
        is_supplier=body.IsSupplier,
        email=body.EmailAddress or "",
        tax_number=body.TaxNumber or "",
        addresses=body.Addresses,
        contact_number=body.ContactNumber,
    )
    return sandbox.contact_json(sandbox.contact(contact_id))


@admin.patch("/contacts/{contact_id}")
async def ui_change_contact(sandbox: Changing, contact_id: str, body: _ContactIn) -> Json:
    """Rename, archive, change the tax number or addresses as a user would."""
    return sandbox.contact_json(sandbox.change_contact(sandbox.contact(contact_id), body))


@admin.patch("/invoices/{invoice_id}")
async def ui_change_invoice(sandbox: Changing, invoice_id: str, body: _InvoiceIn) -> Json:
    """Edit lines (the amount), number, dates or reference as a user would."""
    fields = body.model_copy(update={"Status": None})
    return sandbox.invoice_json(sandbox.update_invoice(sandbox.invoice(invoice_id), fields))


@admin.post("/invoices/{invoice_id}/payments")
async def ui_pay(sandbox: Changing, invoice_id: str, body: _PaymentIn) -> Json:
    """A payment of ``Amount`` (the amount due when left out)."""
    return sandbox.invoice_json(sandbox.pay(sandbox.invoice(invoice_id), body))


@admin.post("/invoices/{invoice_id}/{action}")
async def ui_invoice_action(
    sandbox: Changing, invoice_id: str, action: Literal["approve", "void", "delete"]
) -> Json:
    status = {"approve": "AUTHORISED", "void": "VOIDED", "delete": "DELETED"}[action]
    invoice = sandbox.update_invoice(sandbox.invoice(invoice_id), _InvoiceIn(Status=status))
    return sandbox.invoice_json(invoice)


@admin.put("/webhook")
async def subscribe(sandbox: Sandbox, body: _WebhookIn) -> Json:
    """Set the app's webhook; it is active once the intent-to-receive check passed."""
    subscription = Subscription(body.url, body.key)
    subscription.active = await sandbox.intent_to_receive(subscription)
    sandbox.state.webhook = subscription
    return {"url": body.url, "status": "OK" if subscription.active else "INTENT_TO_RECEIVE_FAILED"}


@admin.get("/deliveries")
async def deliveries(sandbox: Sandbox) -> list[Delivery]:
    return sandbox.state.deliveries


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    """A malformed request is Xero's ``400`` ``ValidationException``."""
    assert isinstance(exc, RequestValidationError)
    message = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    return error_response(_error_body, ApiError(400, message))


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error_response(_error_body, ApiError(exc.status_code, str(exc.detail)))


def create_xero_sandbox(
    state: XeroState | None = None,
    faults: Faults | None = None,
    *,
    rate_limit: RateLimit | None = None,
    daily_limit: RateLimit | None = None,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The sandbox app; ``webhook_transport`` is how webhooks reach the receiver in tests."""
    sandbox = _Sandbox(
        state if state is not None else XeroState(),
        rate_limit if rate_limit is not None else RateLimit(*RATE_LIMIT),
        daily_limit if daily_limit is not None else RateLimit(*DAILY_LIMIT),
        webhook_transport,
    )
    app = FastAPI(title="Xero sandbox")
    app.state.sandbox = sandbox
    install(app, faults or Faults(), sandbox.limit, sandbox.reset, _error_body)
    app.add_middleware(_InFlight, state=sandbox.state)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http_error)
    for router in (identity, api, admin):
        app.include_router(router)
    return app
