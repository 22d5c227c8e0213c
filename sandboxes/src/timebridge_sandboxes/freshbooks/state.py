"""FreshBooks' data: businesses, identities, clients, invoices, tokens, callbacks; shared formats
(US/Eastern date-times, money as decimal strings) and error bodies.
"""

import datetime as dt
import json
import secrets
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel

from timebridge_sandboxes.faults import ApiError

RATE_LIMIT = (60, 60.0)
"""Requests per seconds the sandbox allows one user (FreshBooks publishes no limit)."""
ACCESS_TOKEN_S = 12 * 3600
CODE_TTL = dt.timedelta(minutes=5)
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 15
EASTERN = zoneinfo.ZoneInfo("America/New_York")
SIGNATURE_HEADER = "X-FreshBooks-Hmac-SHA256"
SCOPES = "user:profile:read user:clients:read user:invoices:read user:invoices:write"
EVENTS = frozenset(
    {
        "client",
        "client.create",
        "client.update",
        "client.delete",
        "invoice",
        "invoice.create",
        "invoice.update",
        "invoice.delete",
        "invoice.sendByEmail",
        "payment",
        "payment.create",
    }
)
_STATUSES = {1: "draft", 2: "sent", 3: "viewed", 4: "paid", 8: "partial"}
"""The status codes the sandbox produces and their ``v3_status``."""

Json = dict[str, Any]
M = TypeVar("M", bound=BaseModel)
_CENT = Decimal("0.01")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _eastern(moment: dt.datetime) -> str:
    return moment.astimezone(EASTERN).strftime("%Y-%m-%d %H:%M:%S")


def _money(amount: Decimal, code: str) -> Json:
    return {"amount": str(amount.quantize(_CENT)), "code": code}


ERRNO = {400: 1004, 403: 1003, 404: 1012}
"""FreshBooks' error numbers (api/errors) for a status when no more precise one is known:
1004 InvalidValue, 1003 AccessDenied, 1012 UnknownResource; others carry the status."""
REQUIRED_FIELD, INVALID_VALUE, PARSE_ERROR, DELETED_RESOURCE, UNKNOWN_RESOURCE = (
    1001,
    1004,
    1005,
    1011,
    1012,
)


def _error_body(status: int, message: str) -> Json:
    return {"response": {"errors": [{"errno": ERRNO.get(status, status), "message": message}]}}


class Refused(ApiError):
    """An accounting refusal as FreshBooks words it: ``errno``, ``field``, ``message``,
    ``object`` and ``value`` (the SDKs expose ``errno`` as ``error_code``)."""

    def __init__(
        self,
        status: int,
        errno: int,
        message: str,
        *,
        field: str | None = None,
        object: str | None = None,
        value: Any = None,
    ) -> None:
        super().__init__(status, message)
        self.error: Json = {"errno": errno, "message": message}
        for name, given in (("field", field), ("object", object), ("value", value)):
            if given is not None:
                self.error[name] = str(given)

    @property
    def body(self) -> Json:
        return {"response": {"errors": [self.error]}}


def not_found(kind: str, field: str, value: Any) -> Refused:
    """``404`` with errno 1012, as FreshBooks answers an unknown id (its SDKs' fixtures)."""
    return Refused(
        404,
        UNKNOWN_RESOURCE,
        f"{kind.capitalize()} not found.",
        field=field,
        object=kind,
        value=value,
    )


class _Refusal(ApiError):
    """A refusal whose body is not the accounting envelope (token endpoint, webhook API)."""

    def __init__(self, status: int, body: Json) -> None:
        super().__init__(status, json.dumps(body))
        self.body = body


def _oauth_error(status: int, code: str, description: str) -> _Refusal:
    return _Refusal(status, {"error": code, "error_description": description})


def _events_error(status: int, message: str, details: list[str] | None = None) -> _Refusal:
    return _Refusal(status, {"errno": status, "message": message, "details": details or []})


@dataclass
class _Business:
    id: int
    account_id: str
    name: str


@dataclass
class _Identity:
    id: int
    first_name: str
    last_name: str
    email: str
    memberships: dict[str, str]
    """account_id -> role."""


@dataclass
class _Client:
    id: int
    account_id: str
    updated: dt.datetime
    fname: str = ""
    lname: str = ""
    organization: str = ""
    email: str = ""
    p_street: str = ""
    p_street2: str = ""
    p_city: str = ""
    p_code: str = ""
    p_province: str = ""
    p_country: str = ""
    currency_code: str = "USD"
    vat_name: str = ""
    vat_number: str = ""
    vis_state: int = 0


@dataclass
class _Line:
    name: str
    description: str
    qty: Decimal
    unit_cost: Decimal

    @property
    def amount(self) -> Decimal:
        return (self.qty * self.unit_cost).quantize(_CENT)


@dataclass
class _Invoice:
    id: int
    account_id: str
    customerid: int
    create_date: dt.date
    invoice_number: str
    currency_code: str
    lines: list[_Line]
    created_at: dt.datetime
    updated: dt.datetime
    po_number: str | None = None
    notes: str = ""
    due_offset_days: int = 0
    status: int = 1
    paid: Decimal = Decimal(0)
    date_paid: dt.date | None = None
    vis_state: int = 0

    @property
    def amount(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))


@dataclass
class _Payment:
    id: int
    account_id: str
    invoiceid: int
    amount: Decimal
    date: dt.date
    type: str
    note: str
    updated: dt.datetime
    vis_state: int = 0
    overpaymentid: int | None = None
    """The credit FreshBooks keeps for what the payment paid beyond the invoice."""


@dataclass
class _Callback:
    id: int
    account_id: str
    event: str
    uri: str
    verifier: str
    updated_at: dt.datetime
    verified: bool = False


@dataclass(frozen=True)
class Delivery:
    """One POST the sandbox made to a callback URI, and its answer (a status or an error)."""

    callback_id: int
    form: tuple[tuple[str, str], ...]
    signature: str | None
    status: int | None
    error: str | None = None


def _next_id(records: dict[int, Any], first: int) -> int:
    """Sequential ids (the same setup always yields the same ids), never reused."""
    return max(records, default=first - 1) + 1


@dataclass
class FreshBooksState:
    """The sandbox's data; ids are sequential, so the same setup always yields the same ids."""

    client_id: str = "sandbox-freshbooks-client"
    client_secret: str = "sandbox-freshbooks-secret"  # noqa: S105 - a demo app's secret
    now: Callable[[], dt.datetime] = _utcnow
    businesses: dict[str, _Business] = field(default_factory=dict)
    """account_id -> business."""
    identities: dict[int, _Identity] = field(default_factory=dict)
    signed_in: int | None = None
    """The identity that consents at ``/oauth/authorize`` (the first one added)."""
    codes: dict[str, tuple[int, str, dt.datetime]] = field(default_factory=dict)
    """Code -> (identity, redirect_uri, expiry)."""
    access_tokens: dict[str, tuple[int, dt.datetime]] = field(default_factory=dict)
    refresh_tokens: dict[str, tuple[int, str]] = field(default_factory=dict)
    """Refresh token -> (identity, the access token issued with it)."""
    clients: dict[int, _Client] = field(default_factory=dict)
    invoices: dict[int, _Invoice] = field(default_factory=dict)
    payments: dict[int, _Payment] = field(default_factory=dict)
    callbacks: dict[int, _Callback] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)

    def reset(self) -> None:
        """Everything but the app's credentials, which are configuration."""
        for data in (self.businesses, self.identities, self.codes, self.access_tokens):
            data.clear()
        for records in (self.refresh_tokens, self.clients, self.invoices, self.callbacks):
            records.clear()
        self.payments.clear()
        self.deliveries.clear()
        self.signed_in = None

    def add_business(self, name: str) -> str:
        """A business with its accounting account; returns the account_id."""
        number = 77001 + len(self.businesses)
        business = _Business(number, f"Acc{number:x}", name)
        self.businesses[business.account_id] = business
        return business.account_id

    def add_identity(
        self, first_name: str, last_name: str, email: str, memberships: dict[str, str]
    ) -> int:
        """A user with a role (``owner``, ``business_employee``, ...) per account_id."""
        identity = _Identity(
            _next_id(self.identities, 501), first_name, last_name, email, dict(memberships)
        )
        self.identities[identity.id] = identity
        if self.signed_in is None:
            self.signed_in = identity.id
        return identity.id

    def add_client(self, account_id: str, **fields: Any) -> int:
        client = _Client(_next_id(self.clients, 101), account_id, self.now(), **fields)
        self.clients[client.id] = client
        return client.id

    def owner(self, account_id: str) -> int | None:
        """Who a change in FreshBooks' UI is attributed to: the account's first member."""
        return next((i.id for i in self.identities.values() if account_id in i.memberships), None)

    def issue_tokens(self, identity_id: int) -> Json:
        access, refresh = secrets.token_hex(32), secrets.token_hex(32)
        now = self.now()
        self.access_tokens[access] = (identity_id, now + dt.timedelta(seconds=ACCESS_TOKEN_S))
        self.refresh_tokens[refresh] = (identity_id, access)
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_S,
            "refresh_token": refresh,
            "scope": SCOPES,
            "created_at": int(now.timestamp()),
        }
