"""FreshBooks API client: OAuth tokens, identity, clients, draft invoices and webhook callbacks.

What each fact rests on (V = verified in FreshBooks' documentation, freshbooks.com/api/...;
S = seen in FreshBooks' SDKs: freshbooks/freshbooks-nodejs-sdk and the Python, PHP and Java SDKs
by a FreshBooks engineer (amcintosh/freshbooks-*-sdk, docs at freshbooks.github.io), their test
fixtures, and FreshBooks' Postman collection; A = assumed):

- V OAuth2 authorization-code flow. The user is sent to
  ``https://auth.freshbooks.com/oauth/authorize/?response_type=code&client_id=..&redirect_uri=..``
  (optional ``state``, ``scope``); the redirect URI must be HTTPS without a query string; the code
  expires after 5 minutes. ``POST https://api.freshbooks.com/auth/oauth/token`` with
  ``grant_type``, ``client_id``, ``client_secret``, ``code``/``refresh_token``, ``redirect_uri``.
  Access tokens last 12 h; a refresh token never expires but works **once**, each refresh answers
  a new one (api/get-authenticated-on-the-freshbooks-api, developers/authentication).
- S The token answer: ``access_token``, ``refresh_token``, ``token_type``, ``expires_in``,
  ``scope``, ``created_at`` (epoch seconds). A A used, unknown or expired code or refresh token is
  refused ``400``/``401`` with ``{"error": "invalid_grant"}`` (standard OAuth2, which FreshBooks'
  Doorkeeper-shaped answers follow): :class:`ReauthorizationNeededError`.
- A A refresh whose answer is lost may have consumed the refresh token: it surfaces as
  :class:`~timebridge_common.outbound.http.OutcomeUnknownError`; retrying with the same token
  either works or is ``invalid_grant`` (re-authorisation), which is all that can be known.
- S ``GET /auth/api/v1/users/me`` answers ``{"response": identity}`` with ``business_memberships``;
  each ``business`` has an ``id`` (the **business_id** of the projects and time-tracking APIs) and
  an ``account_id`` (the accounting API's ``/accounting/account/{account_id}/...``).
- V Accounting answers are ``{"response": {"result": {...}}}``; lists add ``page``, ``pages``,
  ``per_page``, ``total``; ``per_page`` is silently capped at 100, a page past the last is empty
  (api/parameters). Errors are ``{"response": {"errors": [{"errno", "message", ...}]}}`` (S) with a
  ``4xx``; only the status matters here.
- V Filters are ``search[<name>]=<value>``; betweens on date-times such as ``updated`` have
  **day** granularity and take ``YYYY-MM-DD`` (``updated_min`` inclusive, api/parameters,
  api/clients). "Updated since" therefore asks for the whole day and filters the rest here.
- S Accounting date-times (``updated``, ``created_at``) are ``YYYY-MM-DD HH:MM:SS`` in US/Eastern
  without a zone (all SDKs convert them); read here as aware UTC datetimes.
- V ``vis_state`` 0 active, 1 deleted, 2 archived; lists return active and archived unless
  ``search[vis_state]`` says otherwise; a PUT carrying ``vis_state`` applies only that and
  silently drops every other field (api/active_deleted). S Delete is
  ``PUT {"invoice": {"vis_state": 1}}`` (the official Node SDK; an idempotent write).
- V Invoices are created as drafts; ``status`` codes 0 disputed, 1 draft, 2 sent, 3 viewed, 4 paid,
  5 auto-paid, 6 retry, 7 failed, 8 partial; ``v3_status`` names them (api/invoices).
  S Fields ``customerid``, ``create_date``, ``due_offset_days``, ``invoice_number``,
  ``po_number``, ``notes``, ``currency_code``, money as ``{"amount": "<decimal>", "code"}``
  (``amount``, ``outstanding``, ``paid``), ``lines`` (with ``include[]=lines``) of ``name``,
  ``description``, ``qty``, ``unit_cost``, ``amount``; clients ``fname``, ``lname``,
  ``organization``, ``email``, ``p_street``/``p_street2``/``p_city``/``p_code``/``p_province``/
  ``p_country``, ``currency_code``, ``vat_name``, ``vat_number``, ``vis_state``, ``updated``.
  S ``search[customerid]``.
- A FreshBooks documents no idempotency key. A create whose answer is lost is found again by its
  ``po_number`` (the "Reference" of the invoice), which carries Timebridge's invoice id; no
  ``po_number`` filter is documented, so the client's invoices are listed and matched here
  (:meth:`FreshBooksClient.ensure_invoice`).
- V Webhooks: ``POST /events/account/{account_id}/events/callbacks`` with
  ``{"callback": {"event", "uri"}}``; FreshBooks then POSTs a verification code and the callback
  id to the URI; ``PUT {"callback": {"verifier"}}`` activates the callback, ``{"resend": true}``
  sends the code again; deliveries are form-encoded ``name``, ``object_id``, ``account_id``,
  ``business_id``, ``identity_id``, ``user_id`` and may take minutes (api/webhooks, SDK docs).
  S The verification carries ``verifier`` and ``object_id`` (receivers in the wild); callbacks
  are ``callbackid``, ``event``, ``uri``, ``verified``, ``updated_at``; a DELETE answers ``204``.
- V ``X-FreshBooks-Hmac-SHA256`` = base64(HMAC-SHA256(verifier, ``json.dumps`` of the form fields
  as strings)): Python's defaults, so the fields in the order sent, ``", "`` and ``": "``
  separators, non-ASCII escaped (FreshBooks' snippet, quoted by the Python and PHP SDK docs).
- S FreshBooks answers ``429`` when rate limited (the Node SDK retries it). A The limit is not
  published: :data:`RATE_LIMIT` is a conservative guess; ``Retry-After`` is honoured when sent.
"""

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import IntEnum
from typing import Annotated, Any, TypeVar

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict

FRESHBOOKS_API_URL = "https://api.freshbooks.com"
FRESHBOOKS_AUTHORIZE_URL = "https://auth.freshbooks.com/oauth/authorize/"
TOKEN_PATH = "/auth/oauth/token"  # noqa: S105 - a path
RATE_LIMIT = (60, 60.0)
"""Requests per seconds one connection allows itself (FreshBooks publishes no limit)."""
PAGE_SIZE = 100
"""FreshBooks' cap on ``per_page``."""
SIGNATURE_HEADER = "X-FreshBooks-Hmac-SHA256"
ACCOUNTING_ZONE = zoneinfo.ZoneInfo("America/New_York")
"""The zone of the accounting API's date-times (US/Eastern)."""

T = TypeVar("T")


def _accounting_datetime(value: Any) -> Any:
    """``YYYY-MM-DD HH:MM:SS`` in US/Eastern, as FreshBooks' accounting API writes it."""
    if isinstance(value, str) and value:
        local = dt.datetime.fromisoformat(value)
        if local.tzinfo is None:
            local = local.replace(tzinfo=ACCOUNTING_ZONE)
        return local.astimezone(dt.UTC)
    return value or None


AccountingDatetime = Annotated[AwareDatetime, BeforeValidator(_accounting_datetime)]


class _Model(BaseModel):
    """FreshBooks' field names as they are; unknown fields are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class VisState(IntEnum):
    ACTIVE = 0
    DELETED = 1
    ARCHIVED = 2


class InvoiceStatus(IntEnum):
    """The documented ``status`` codes (``Invoice.status`` stays an int: a new code must not
    make an invoice unreadable)."""

    DISPUTED = 0
    DRAFT = 1
    SENT = 2
    VIEWED = 3
    PAID = 4
    AUTO_PAID = 5
    RETRY = 6
    FAILED = 7
    PARTIAL = 8


class Money(_Model):
    amount: Decimal
    code: str


class Line(_Model):
    """An invoice line; ``amount`` and ``lineid`` are FreshBooks' (ignored when writing)."""

    name: str
    description: str = ""
    qty: Decimal = Decimal(1)
    unit_cost: Money
    amount: Money | None = None
    lineid: int | None = None


class Business(_Model):
    id: int
    """The business_id of the projects and time-tracking APIs."""
    name: str
    account_id: str | None = None
    """The accounting API's account id (``/accounting/account/{account_id}``)."""
    business_uuid: str | None = None


class BusinessMembership(_Model):
    id: int
    role: str
    business: Business


class Identity(_Model):
    """The token's user and the businesses they may act in."""

    identity_id: int
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    business_memberships: tuple[BusinessMembership, ...] = ()

    def business(self, account_id: str) -> Business | None:
        """The business behind an accounting ``account_id``, if the user belongs to it."""
        return next(
            (m.business for m in self.business_memberships if m.business.account_id == account_id),
            None,
        )


class Client(_Model):
    id: int
    fname: str | None = None
    lname: str | None = None
    organization: str | None = None
    email: str | None = None
    p_street: str | None = None
    p_street2: str | None = None
    p_city: str | None = None
    p_code: str | None = None
    p_province: str | None = None
    p_country: str | None = None
    currency_code: str | None = None
    vat_name: str | None = None
    """The client's tax name (e.g. "VAT", "GST")."""
    vat_number: str | None = None
    """The client's tax registration number."""
    vis_state: VisState = VisState.ACTIVE
    updated: AccountingDatetime | None = None

    @property
    def name(self) -> str:
        """What FreshBooks shows: the organization, else the person."""
        person = " ".join(part for part in (self.fname, self.lname) if part)
        return self.organization or person


class Invoice(_Model):
    id: int
    customerid: int
    create_date: dt.date
    due_date: dt.date | None = None
    invoice_number: str | None = None
    po_number: str | None = None
    notes: str | None = None
    currency_code: str
    status: int
    v3_status: str | None = None
    payment_status: str | None = None
    amount: Money
    outstanding: Money | None = None
    paid: Money | None = None
    vis_state: VisState = VisState.ACTIVE
    updated: AccountingDatetime | None = None
    lines: tuple[Line, ...] = ()

    @property
    def deleted(self) -> bool:
        return self.vis_state == VisState.DELETED


class Payment(_Model):
    """A payment of one invoice; deleting one sets ``vis_state`` 1 (FreshBooks voids none)."""

    id: int
    invoiceid: int
    amount: Money
    date: dt.date | None = None
    vis_state: VisState = VisState.ACTIVE
    updated: AccountingDatetime | None = None


class InvoiceDraft(_Model):
    """What Timebridge exports: a draft whose ``po_number`` is our invoice id (the lookup key)."""

    customerid: int
    create_date: dt.date
    currency_code: str
    po_number: str
    lines: tuple[Line, ...]
    notes: str = ""
    due_offset_days: int = 0

    def body(self) -> dict[str, Any]:
        lines = [
            {
                "name": line.name,
                "description": line.description,
                "qty": float(line.qty),
                "unit_cost": line.unit_cost.model_dump(mode="json"),
            }
            for line in self.lines
        ]
        return {
            "invoice": {
                "customerid": self.customerid,
                "create_date": self.create_date.isoformat(),
                "currency_code": self.currency_code,
                "po_number": self.po_number,
                "notes": self.notes,
                "due_offset_days": self.due_offset_days,
                "status": InvoiceStatus.DRAFT.value,
                "lines": lines,
            }
        }


class Callback(_Model):
    callbackid: int
    event: str
    uri: str
    verified: bool = False
    updated_at: AwareDatetime | None = None


class WebhookDelivery(_Model):
    """A form FreshBooks posted: a verification (``verifier`` set) or an event about an object."""

    name: str
    object_id: int
    account_id: str | None = None
    business_id: int | None = None
    identity_id: int | None = None
    user_id: int | None = None
    verifier: str | None = None


FormFields = Mapping[str, str] | Iterable[tuple[str, str]]
"""Form fields in the order they were received."""
