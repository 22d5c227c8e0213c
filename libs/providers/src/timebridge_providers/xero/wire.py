"""Xero Accounting API client: OAuth2 tokens, tenant selection, customers, draft invoices, webhooks.

What each fact rests on (V = verified in Xero's own material: the official OpenAPI files in
XeroAPI/Xero-OpenAPI, ``xero_accounting.yaml`` and ``xero-webhooks.yaml`` as copied to
``shared/provider-specs`` and ``xero-identity.yaml``, or developer.xero.com pages; S = secondary
sources quoting developer.xero.com; A = assumed):

- V Authorization-code flow: users go to ``https://login.xero.com/identity/connect/authorize``
  with ``response_type=code``, ``client_id``, ``redirect_uri``, space-separated ``scope`` and
  ``state``; the code is exchanged at ``https://identity.xero.com/connect/token`` with the client
  id and secret as HTTP Basic auth and a form body (``grant_type``, ``code``, ``redirect_uri``);
  the answer has ``access_token``, ``refresh_token``, ``expires_in`` (1800 s: access tokens live
  30 minutes), ``token_type``. ``offline_access`` is the scope that yields a refresh token
  (developer.xero.com/documentation/oauth2/auth-flow, xero-identity.yaml).
- V Refresh tokens rotate: a refresh answers a new one, which must replace the old. The old one
  may be used again for a **30-minute grace period** (for an answer that was lost), then it is
  refused with ``invalid_grant``; unused refresh tokens expire after 60 days
  (developer.xero.com/faq/oauth2). So :meth:`XeroTokens.refresh` may be repeated after a lost
  answer, and ``invalid_grant`` means the connection must be authorised again.
- V ``GET https://api.xero.com/connections`` lists the tenants the user connected: ``id``,
  ``authEventId``, ``tenantId``, ``tenantType`` (``ORGANISATION``, ``PRACTICE``, ...),
  ``tenantName``, ``createdDateUtc``, ``updatedDateUtc`` (xero-identity.yaml). Every Accounting
  call carries the chosen tenant in ``xero-tenant-id`` (xero_accounting.yaml ``requiredHeader``).
- V Accounting API under ``/api.xro/2.0``: ``GET /Contacts`` and ``GET /Invoices`` take
  ``If-Modified-Since``, ``where``, ``order``, ``page``, ``pageSize``, ``includeArchived``;
  ``GET /Invoices`` also ``Statuses``; ``GET /Contacts/{ContactID}``, ``GET|POST
  /Invoices/{InvoiceID}``; ``PUT /Invoices`` creates. Bodies and answers are ``{"Invoices":
  [...]}`` / ``{"Contacts": [...]}`` with PascalCase fields, answers add ``pagination``
  (``page``, ``pageSize``, ``pageCount``, ``itemCount``) when paged (xero_accounting.yaml).
- V JSON dates are ``/Date(1518685950940+0000)/`` (milliseconds since the epoch, UTC, with an
  informative offset) in answers; writes take ``YYYY-MM-DD`` (xero_accounting.yaml examples).
  Answers are XML unless ``Accept: application/json`` is sent (developer.xero.com Invoices page).
- V Invoices: Type ``ACCREC`` for sales; ``Type``, ``Contact`` and ``LineItems`` are required for
  a draft; Status ``DRAFT`` (the default), ``SUBMITTED``, ``AUTHORISED``, ``PAID``, ``VOIDED``,
  ``DELETED``; drafts (and submitted ones) can be deleted and approved ones voided by posting the
  new ``Status`` (developer.xero.com/documentation/api/Invoices). ``IsCustomer`` cannot be set,
  Xero sets it when a sales invoice is raised for the contact (xero_accounting.yaml).
- V ``Idempotency-Key`` header on PUT/POST, 128 characters at most (xero_accounting.yaml). S Xero
  keeps the first answer for 6 minutes and refuses the key with another request (``400``); so it
  covers retries, not a repeat hours later: then look the invoice up (:meth:`XeroClient.invoices`
  with ``reference``) before creating it again.
- V Limits per tenant: 5 calls in progress, 60 per minute, 5000 per day; ``429`` beyond them
  (developer.xero.com/faq/limits). S The ``429`` carries ``Retry-After`` (seconds) and
  ``X-Rate-Limit-Problem`` naming the limit (``minute``, ``day``; A ``concurrent``, without
  ``Retry-After``, so the HTTP layer backs off exponentially). A day-limit ``Retry-After`` is
  hours: the HTTP layer gives up at once with a :class:`~timebridge_common.errors.TransientError`
  carrying it, so the caller reschedules.
- V Webhooks: ``x-xero-signature`` = base64(HMAC-SHA256(webhook key, raw body)); the receiver
  answers ``200`` (no body) to a correct signature and ``401`` to a wrong one, within 5 s; the
  intent-to-receive check posts ``{"events": [], "firstEventSequence": 0, "lastEventSequence":
  0, "entropy": ...}`` signed correctly and incorrectly; events carry ``resourceUrl``,
  ``resourceId``, ``eventDateUtc`` (no zone: UTC), ``eventType`` (``CREATE``/``UPDATE``),
  ``eventCategory`` (``CONTACT``, ``INVOICE``, ...), ``tenantId``, ``tenantType``
  (xero-webhooks.yaml; developer.xero.com/documentation/webhooks/configuring-your-server). The
  intent-to-receive sequences of 0 contradict the spec's ``minimum: 1``; the models accept both.
- S ``GET /Contacts`` leaves archived contacts out unless ``includeArchived=true``; archiving is
  an update (webhook ``UPDATE``), so polling for changes asks for archived contacts too.
- A ``If-Modified-Since`` is sent as UTC ``YYYY-MM-DDTHH:MM:SSZ`` (the spec's RFC 3339 date-time;
  a zone-less value is not one) rounded down to the second and
  compares "modified at or after", so a change is seen at least once. Not every change moves
  ``UpdatedDateUTC`` (S: ``IsCustomer`` does not), so a full read now and then is still needed.
- A ``GET /Invoices`` might leave ``DELETED`` invoices out by default; the client lists every
  status in ``Statuses`` so deletions are seen either way.
- V Overpayments: Xero refuses a payment beyond an invoice's amount due; money received beyond
  it is a ``RECEIVE-OVERPAYMENT`` bank transaction creating an overpayment (``GET /Overpayments``
  with ``If-Modified-Since``, ``where``, ``order``, ``page``, ``pageSize``; ``GET
  /Overpayments/{OverpaymentID}``): ``Total``, ``RemainingCredit``, ``Allocations`` (``Amount``,
  ``Date``, ``Invoice``), ``Status``; an allocation counts in the invoice's ``AmountCredited``
  and ``Overpayments`` (xero_accounting.yaml). A An allocation made or deleted moves the
  overpayment's ``UpdatedDateUTC`` (its ``RemainingCredit`` changes) as well as the invoice's,
  and ``GET /Overpayments`` lists deleted allocations not at all or with ``IsDeleted``.
- A Token endpoint errors are OAuth2 JSON (``{"error": "invalid_grant"}``) with ``400``.
"""

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
)
from pydantic.alias_generators import to_camel, to_pascal

from timebridge_common.errors import InvalidMessageError

XERO_API_URL = "https://api.xero.com"
ACCOUNTING_PATH = "/api.xro/2.0"
AUTHORIZE_URL = "https://login.xero.com/identity/connect/authorize"
TOKEN_URL = "https://identity.xero.com/connect/token"  # noqa: S105 - a URL
SCOPES = ("offline_access", "accounting.transactions", "accounting.contacts")
RATE_LIMIT = (60, 60.0)
"""Calls per seconds Xero allows one tenant."""
CONCURRENT_LIMIT = 5
"""Calls one tenant may have in progress."""
SIGNATURE_HEADER = "x-xero-signature"
IDEMPOTENCY_KEY_MAX = 128
INVOICE_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED", "PAID", "VOIDED", "DELETED")
PAGE_SIZE = 100

_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")

T = TypeVar("T")


def _ms_instant(value: Any) -> Any:
    """``/Date(ms±hhmm)/`` as an aware UTC datetime (the offset only says where it was shown)."""
    if isinstance(value, str) and (match := _MS_DATE.match(value)):
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=int(match[1]))
    return value


def _ms_day(value: Any) -> Any:
    """A date given as ``/Date(ms)/`` (midnight UTC) or an ISO datetime at midnight."""
    value = _ms_instant(value)
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, str) and "T" in value:
        return value.partition("T")[0]
    return value


def _as_utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


XeroDatetime = Annotated[dt.datetime, BeforeValidator(_ms_instant), AfterValidator(_as_utc)]
"""A Xero timestamp (``/Date(ms)/``, or ISO without a zone meaning UTC) as aware UTC."""
XeroDate = Annotated[dt.date, BeforeValidator(_ms_day)]
Money = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
"""Amounts are decimals here and JSON numbers on the wire (Xero's schema types them ``number``)."""


class _Model(BaseModel):
    """Xero's PascalCase fields as snake_case attributes; unknown fields are ignored."""

    model_config = ConfigDict(
        frozen=True, extra="ignore", alias_generator=to_pascal, populate_by_name=True
    )


class _CamelModel(BaseModel):
    """The identity and webhook APIs' camelCase fields as snake_case attributes."""

    model_config = ConfigDict(
        frozen=True, extra="ignore", alias_generator=to_camel, populate_by_name=True
    )


class Connection(_CamelModel):
    """A tenant the user connected to the app (``GET /connections``)."""

    id: str
    tenant_id: str
    tenant_type: str
    tenant_name: str | None = None
    auth_event_id: str | None = None
    created_date_utc: XeroDatetime | None = None
    updated_date_utc: XeroDatetime | None = None


class Address(_Model):
    address_type: Literal["POBOX", "STREET"] | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    address_line3: str | None = None
    address_line4: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None
    attention_to: str | None = None


class Contact(_Model):
    contact_id: str = Field(alias="ContactID")
    name: str
    contact_status: str | None = None
    """``ACTIVE``, ``ARCHIVED`` or ``GDPRREQUEST``."""
    contact_number: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email_address: str | None = None
    tax_number: str | None = None
    is_customer: bool = False
    is_supplier: bool = False
    default_currency: str | None = None
    addresses: tuple[Address, ...] = ()
    updated_date_utc: XeroDatetime | None = Field(default=None, alias="UpdatedDateUTC")

    @property
    def active(self) -> bool:
        return self.contact_status in (None, "ACTIVE")


class LineItem(_Model):
    """One invoice line; only the fields given are sent (amounts as decimals)."""

    description: str | None = None
    quantity: Money | None = None
    unit_amount: Money | None = None
    line_amount: Money | None = None
    account_code: str | None = None
    item_code: str | None = None
    tax_type: str | None = None
    tax_amount: Money | None = None
    line_item_id: str | None = Field(default=None, alias="LineItemID")


class Invoice(_Model):
    invoice_id: str = Field(alias="InvoiceID")
    type: str
    status: str
    """One of :data:`INVOICE_STATUSES`."""
    contact: Contact
    invoice_number: str | None = None
    reference: str | None = None
    date: XeroDate | None = None
    due_date: XeroDate | None = None
    line_amount_types: str | None = None
    line_items: tuple[LineItem, ...] = ()
    currency_code: str | None = None
    sub_total: Money | None = None
    total_tax: Money | None = None
    total: Money | None = None
    amount_due: Money | None = None
    amount_paid: Money | None = None
    amount_credited: Money | None = None
    fully_paid_on_date: XeroDate | None = None
    updated_date_utc: XeroDatetime | None = Field(default=None, alias="UpdatedDateUTC")


class PaymentInvoice(_Model):
    """The invoice a payment settles, as the payment names it."""

    invoice_id: str = Field(alias="InvoiceID")
    type: str | None = None
    currency_code: str | None = None


class Payment(_Model):
    """A payment of one invoice; ``Status`` ``AUTHORISED``, or ``DELETED`` once deleted (Xero
    voids no payments: it deletes them, and keeps the record)."""

    payment_id: str = Field(alias="PaymentID")
    date: XeroDate | None = None
    amount: Money
    status: str
    payment_type: str | None = None
    invoice: PaymentInvoice | None = None
    updated_date_utc: XeroDatetime | None = Field(default=None, alias="UpdatedDateUTC")


class Allocation(_Model):
    """Part of an overpayment's credit applied to one invoice."""

    amount: Money
    invoice: PaymentInvoice
    allocation_id: str | None = Field(default=None, alias="AllocationID")
    date: XeroDate | None = None
    is_deleted: bool = False


class Overpayment(_Model):
    """Money received beyond what was due (``RECEIVE-OVERPAYMENT``; ``SPEND-OVERPAYMENT`` is a
    supplier's): ``Total`` received, ``Allocations`` applied to invoices (each up to the
    invoice's amount due), ``RemainingCredit`` the rest. ``Status`` ``AUTHORISED``, ``PAID`` once
    fully allocated, ``VOIDED``."""

    overpayment_id: str = Field(alias="OverpaymentID")
    type: str | None = None
    status: str
    date: XeroDate | None = None
    total: Money
    remaining_credit: Money | None = None
    currency_code: str | None = None
    contact: Contact | None = None
    allocations: tuple[Allocation, ...] = ()
    updated_date_utc: XeroDatetime | None = Field(default=None, alias="UpdatedDateUTC")


class DraftInvoice(_Model):
    """A sales invoice to create as a draft for an existing contact."""

    contact_id: str = Field(exclude=True)
    line_items: tuple[LineItem, ...] = Field(min_length=1)
    date: dt.date | None = None
    due_date: dt.date | None = None
    reference: str | None = None
    currency_code: str | None = None
    line_amount_types: Literal["Exclusive", "Inclusive", "NoTax"] = "Exclusive"
    invoice_number: str | None = None
    """Left out, Xero numbers the invoice from the organisation's settings."""

    def body(self) -> dict[str, Any]:
        """The invoice as Xero takes it: the contact by id alone (other contact fields sent
        along would update the contact)."""
        head = {"Type": "ACCREC", "Status": "DRAFT", "Contact": {"ContactID": self.contact_id}}
        return head | self.model_dump(mode="json", by_alias=True, exclude_none=True)


class WebhookEvent(_CamelModel):
    resource_url: str
    resource_id: str
    event_date_utc: XeroDatetime
    event_type: str
    """``CREATE`` or ``UPDATE`` (archiving and deleting are updates)."""
    event_category: str
    """``CONTACT``, ``INVOICE``, ...: re-read the resource, the event carries no fields."""
    tenant_id: str
    tenant_type: str | None = None


class WebhookPayload(_CamelModel):
    events: tuple[WebhookEvent, ...]
    first_event_sequence: int
    last_event_sequence: int
    entropy: str

    @property
    def intent_to_receive(self) -> bool:
        """Xero's check of a new or changed subscription: no events, sequences 0."""
        return not self.events and self.last_event_sequence == 0


class TenantSelectionError(InvalidMessageError):
    """No organisation, several to choose from, or the chosen one is not connected."""
