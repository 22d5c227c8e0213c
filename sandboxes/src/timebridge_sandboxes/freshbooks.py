"""An in-memory FreshBooks: OAuth, identity, the accounting and webhook routes Timebridge uses.

Built from FreshBooks' documentation (freshbooks.com/api: authentication, parameters,
active_deleted, clients, invoices, webhooks) and what its SDKs show of real answers, not from
Timebridge's client: the webhook signature is computed here again. Documented behaviour:

- OAuth2 code grant: ``GET /oauth/authorize`` (served here although FreshBooks serves it from
  auth.freshbooks.com) redirects to ``redirect_uri`` with ``code`` and ``state``, as if the
  signed-in user (:attr:`FreshBooksState.signed_in`) clicked "Allow"; codes live 5 minutes, once.
  ``POST /auth/oauth/token`` (JSON or form) answers 12-hour access tokens and single-use refresh
  tokens: a refresh answers a new pair and the old refresh token is refused from then on.
- ``GET /auth/api/v1/users/me``: the identity and its business memberships, each business with
  its ``id`` (business_id) and ``account_id``.
- ``/accounting/account/{account_id}/...`` answers ``{"response": {"result": ...}}``, lists with
  ``page``, ``pages``, ``per_page`` (capped at 100), ``total``, page 0 read as 1, a page past the
  last empty; ``search[vis_state]``, ``search[updated_min|max]`` (``YYYY-MM-DD``, day granularity
  in US/Eastern), ``search[customerid]``, ``include[]=lines``; deleted records hidden from lists
  unless asked for; date-times ``YYYY-MM-DD HH:MM:SS`` in US/Eastern; money as decimal strings.
- Invoices are created as drafts with FreshBooks' status codes and ``v3_status``; a PUT with
  ``vis_state`` changes only that (the rest of the body is dropped), ``action_mark_as_sent`` sends.
- Webhook callbacks: registering one POSTs a form with the ``verifier`` and the callback id
  (``object_id``) to its URI; ``PUT {"callback": {"verifier"}}`` activates it, ``{"resend":
  true}`` posts the verifier again. Verified callbacks get form-encoded deliveries ``name``,
  ``object_id``, ``account_id``, ``business_id``, ``identity_id``, ``user_id``, signed
  ``X-FreshBooks-Hmac-SHA256`` = base64(HMAC-SHA256(verifier, Python ``json.dumps`` of the fields
  as strings)); a callback for ``invoice`` also gets ``invoice.*`` events.

Assumed where FreshBooks is silent: a limit of 60 requests per minute per user (``429`` with
``Retry-After``); a refresh also revokes the previous access token; ``invalid_grant`` answers
``400``; an account the user does not belong to is ``403``; accounting errors are
``{"response": {"errors": [{"errno", "message"}]}}`` with ``errno`` the status, webhook-API errors
``{"errno", "message", "details"}``; validation errors are ``400`` (``422`` on the webhook API);
a deleted invoice can still be read by id and is only changed back through ``vis_state``; the
verification form is unsigned and named ``callback.verify``; ``user_id`` is 1 (the owner);
deliveries are tried once, after the answer; payments are not modelled: "paid" sets the invoice's
paid amount and status.

Admin API (no auth, no rate limit, no faults), for tests and demos: ``POST /_sandbox/reset``,
``GET|POST|DELETE /_sandbox/faults``, ``POST /_sandbox/accounts/{account_id}/clients``,
``PATCH /_sandbox/clients/{id}`` (rename, archive: ``vis_state``), ``PATCH /_sandbox/invoices/{id}``
(``invoice_number``, ``create_date``, ``lines``, ...), ``POST /_sandbox/invoices/{id}/{sent|viewed|
paid}``, ``DELETE /_sandbox/invoices/{id}`` and ``GET /_sandbox/deliveries``.
"""

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import parse_qsl, urlencode

import httpx
from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from timebridge_sandboxes.faults import ApiError, Faults, RateLimit, error_response, install

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


def _error_body(status: int, message: str) -> Json:
    return {"response": {"errors": [{"errno": status, "message": message}]}}


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
    callbacks: dict[int, _Callback] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)

    def reset(self) -> None:
        """Everything but the app's credentials, which are configuration."""
        for data in (self.businesses, self.identities, self.codes, self.access_tokens):
            data.clear()
        for records in (self.refresh_tokens, self.clients, self.invoices, self.callbacks):
            records.clear()
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


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _ClientFields(_In):
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
    vat_number: str | None = None
    vis_state: Literal[0, 1, 2] | None = None


class _MoneyIn(_In):
    amount: Decimal
    code: str | None = None


class _LineIn(_In):
    name: str = ""
    description: str = ""
    qty: Decimal = Decimal(1)
    unit_cost: _MoneyIn


class _InvoiceChanges(_In):
    """The regular fields a PUT (or a user in FreshBooks' UI) may change."""

    invoice_number: str | None = None
    create_date: dt.date | None = None
    due_offset_days: int | None = Field(default=None, ge=0)
    po_number: str | None = None
    notes: str | None = None
    lines: list[_LineIn] | None = None


class _InvoiceIn(_InvoiceChanges):
    customerid: int
    create_date: dt.date
    currency_code: str | None = None
    status: Literal[1, 2] = 1


class _Body(_In):
    invoice: Json


class _CallbackIn(_In):
    event: str
    uri: str


class _CallbackBody(_In):
    callback: Json


@dataclass
class _Sandbox:
    """FreshBooks' rules behind the routes: lookups, changes, serialisation, webhooks."""

    state: FreshBooksState
    faults: Faults
    limit: RateLimit
    webhook_transport: httpx.AsyncBaseTransport | None

    def client(self, account_id: str, client_id: int) -> _Client:
        client = self.state.clients.get(client_id)
        if client is None or client.account_id != account_id:
            raise ApiError(404, "Client not found.")
        return client

    def invoice(self, account_id: str, invoice_id: int) -> _Invoice:
        invoice = self.state.invoices.get(invoice_id)
        if invoice is None or invoice.account_id != account_id:
            raise ApiError(404, "Invoice not found.")
        return invoice

    def identity_json(self, identity: _Identity) -> Json:
        memberships = []
        for account_id, role in identity.memberships.items():
            business = self.state.businesses[account_id]
            memberships.append(
                {
                    "id": identity.id * 1000 + business.id % 1000,
                    "role": role,
                    "business": {
                        "id": business.id,
                        "business_uuid": f"uuid-{business.id}",
                        "name": business.name,
                        "account_id": business.account_id,
                    },
                }
            )
        return {
            "id": identity.id,
            "identity_id": identity.id,
            "first_name": identity.first_name,
            "last_name": identity.last_name,
            "email": identity.email,
            "business_memberships": memberships,
        }

    @staticmethod
    def client_json(client: _Client) -> Json:
        body = {name: getattr(client, name) for name in _ClientFields.model_fields}
        return {**body, "id": client.id, "userid": client.id, "updated": _eastern(client.updated)}

    def invoice_json(self, invoice: _Invoice, *, lines: bool) -> Json:
        client = self.state.clients[invoice.customerid]
        code = invoice.currency_code
        amount = invoice.amount
        payment = "unpaid" if not invoice.paid else "paid" if invoice.paid >= amount else "partial"
        body: Json = {
            "id": invoice.id,
            "invoiceid": invoice.id,
            "accountid": invoice.account_id,
            "accounting_systemid": invoice.account_id,
            "customerid": invoice.customerid,
            "fname": client.fname,
            "lname": client.lname,
            "organization": client.organization,
            "create_date": invoice.create_date.isoformat(),
            "due_offset_days": invoice.due_offset_days,
            "due_date": (
                invoice.create_date + dt.timedelta(days=invoice.due_offset_days)
            ).isoformat(),
            "invoice_number": invoice.invoice_number,
            "po_number": invoice.po_number,
            "notes": invoice.notes,
            "currency_code": code,
            "status": invoice.status,
            "v3_status": _STATUSES[invoice.status],
            "payment_status": payment,
            "amount": _money(amount, code),
            "paid": _money(invoice.paid, code),
            "outstanding": _money(max(amount - invoice.paid, Decimal(0)), code),
            "date_paid": invoice.date_paid.isoformat() if invoice.date_paid else None,
            "vis_state": invoice.vis_state,
            "created_at": _eastern(invoice.created_at),
            "updated": _eastern(invoice.updated),
        }
        if lines:
            body["lines"] = [
                {
                    "lineid": number,
                    "invoiceid": invoice.id,
                    "type": 0,
                    "name": line.name,
                    "description": line.description,
                    "qty": str(line.qty),
                    "unit_cost": _money(line.unit_cost, code),
                    "amount": _money(line.amount, code),
                }
                for number, line in enumerate(invoice.lines, start=1)
            ]
        return body

    @staticmethod
    def callback_json(callback: _Callback) -> Json:
        return {
            "callbackid": callback.id,
            "event": callback.event,
            "uri": callback.uri,
            "verified": callback.verified,
            "updated_at": callback.updated_at.isoformat().replace("+00:00", "Z"),
        }

    def create_invoice(self, account_id: str, fields: _InvoiceIn) -> _Invoice:
        customer = self.state.clients.get(fields.customerid)
        if customer is None or customer.account_id != account_id or customer.vis_state == 1:
            raise ApiError(400, "Client not found.")
        now = self.state.now()
        number = 1 + sum(i.account_id == account_id for i in self.state.invoices.values())
        invoice = _Invoice(
            _next_id(self.state.invoices, 2001),
            account_id,
            fields.customerid,
            fields.create_date,
            fields.invoice_number or f"{number:07d}",
            fields.currency_code or customer.currency_code,
            [],
            now,
            now,
            status=fields.status,
        )
        self.change_invoice(invoice, fields)
        self.state.invoices[invoice.id] = invoice
        return invoice

    def change_invoice(self, invoice: _Invoice, changes: _InvoiceChanges) -> None:
        for name in ("invoice_number", "create_date", "due_offset_days", "po_number", "notes"):
            value = getattr(changes, name)
            if value is not None:
                setattr(invoice, name, value)
        if changes.lines is not None:
            invoice.lines = [
                _Line(line.name, line.description, line.qty, line.unit_cost.amount)
                for line in changes.lines
            ]
        invoice.updated = self.state.now()

    def announce(
        self,
        background: BackgroundTasks,
        account_id: str,
        event: str,
        object_id: int,
        identity_id: int | None,
    ) -> None:
        """Queue the deliveries of ``event`` to the account's verified callbacks."""
        business = self.state.businesses[account_id]
        form = (
            ("name", event),
            ("object_id", str(object_id)),
            ("account_id", account_id),
            ("business_id", str(business.id)),
            ("identity_id", str(identity_id or "")),
            ("user_id", "1"),
        )
        for callback in self.state.callbacks.values():
            matches = event == callback.event or event.startswith(f"{callback.event}.")
            if callback.verified and callback.account_id == account_id and matches:
                signature = _sign(callback.verifier, form)
                background.add_task(self.post, callback, form, signature)

    def ask_verification(self, background: BackgroundTasks, callback: _Callback) -> None:
        form = (
            ("name", "callback.verify"),
            ("object_id", str(callback.id)),
            ("verifier", callback.verifier),
            ("account_id", callback.account_id),
        )
        background.add_task(self.post, callback, form, None)

    async def post(
        self, callback: _Callback, form: tuple[tuple[str, str], ...], signature: str | None
    ) -> None:
        headers = {} if signature is None else {SIGNATURE_HEADER: signature}
        try:
            async with httpx.AsyncClient(transport=self.webhook_transport, timeout=10) as http:
                answer = await http.post(callback.uri, data=dict(form), headers=headers)
        except httpx.HTTPError as exc:
            outcome = Delivery(callback.id, form, signature, None, type(exc).__name__)
        else:
            outcome = Delivery(callback.id, form, signature, answer.status_code)
        self.state.deliveries.append(outcome)


def _sign(verifier: str, form: tuple[tuple[str, str], ...]) -> str:
    """FreshBooks' signature: what Python's ``json.dumps`` makes of the form, HMAC-SHA256."""
    mac = hmac.new(verifier.encode(), json.dumps(dict(form)).encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def _result(key: str, value: Json) -> Json:
    return {"response": {"result": {key: value}}}


def _sandbox(request: Request) -> _Sandbox:
    sandbox: _Sandbox = request.app.state.sandbox
    return sandbox


Sandbox = Annotated[_Sandbox, Depends(_sandbox)]


def _caller(sandbox: Sandbox, authorization: Annotated[str | None, Header()] = None) -> _Identity:
    token = (authorization or "").removeprefix("Bearer ").strip()
    grant = sandbox.state.access_tokens.get(token)
    if grant is None or grant[1] <= sandbox.state.now():
        raise ApiError(401, "invalid_token: The request token failed to authenticate or validate.")
    sandbox.limit.admit(f"identity:{grant[0]}")
    return sandbox.state.identities[grant[0]]


Caller = Annotated[_Identity, Depends(_caller)]


def _account(caller: Caller, account_id: str) -> str:
    if account_id not in caller.memberships:
        raise ApiError(403, "The user has no access to this account.")
    return account_id


Account = Annotated[str, Depends(_account)]


Includes = Annotated[list[str], Query(alias="include[]")]


def _with_lines(include: Includes = []) -> bool:  # noqa: B006 - FastAPI copies query defaults
    """``include[]=lines``: invoices come without their lines unless asked for."""
    return "lines" in include


WithLines = Annotated[bool, Depends(_with_lines)]


@dataclass
class _Listing:
    """What FreshBooks' lists share: paging (page 0 is page 1, ``per_page`` silently capped,
    a page past the last empty) and the ``vis_state`` and ``updated`` (by day) filters."""

    page: Annotated[int, Query(ge=0)] = 1
    per_page: Annotated[int, Query(ge=1)] = DEFAULT_PER_PAGE
    vis_state: Annotated[int | None, Query(alias="search[vis_state]", ge=0, le=2)] = None
    updated_min: Annotated[dt.date | None, Query(alias="search[updated_min]")] = None
    updated_max: Annotated[dt.date | None, Query(alias="search[updated_max]")] = None

    def keeps(self, vis_state: int, updated: dt.datetime) -> bool:
        """Deleted records only when asked for; ``updated`` compared by day in US/Eastern."""
        day = updated.astimezone(EASTERN).date()
        return (
            (vis_state == self.vis_state if self.vis_state is not None else vis_state != 1)
            and (self.updated_min is None or day >= self.updated_min)
            and (self.updated_max is None or day < self.updated_max)
        )

    def answer(self, key: str, items: list[Json]) -> Json:
        per_page = min(self.per_page, MAX_PER_PAGE)
        page = max(self.page, 1)
        chosen = items[(page - 1) * per_page : page * per_page]
        pages = max(1, -(-len(items) // per_page))
        result = {"page": page, "pages": pages, "per_page": per_page, "total": len(items)}
        return {"response": {"result": {key: chosen, **result}}}


Listing = Annotated[_Listing, Depends()]

api = APIRouter()
admin = APIRouter(prefix="/_sandbox", tags=["sandbox"])


@api.get("/oauth/authorize")
async def authorize(
    sandbox: Sandbox,
    client_id: str,
    redirect_uri: str,
    _response_type: Annotated[Literal["code"], Query(alias="response_type")],
    state: str | None = None,
) -> Response:
    """The consent page, answered at once as the signed-in user would by clicking "Allow"."""
    if client_id != sandbox.state.client_id or sandbox.state.signed_in is None:
        raise ApiError(400, "Unknown client or nobody signed in")
    code = secrets.token_hex(32)
    expiry = sandbox.state.now() + CODE_TTL
    sandbox.state.codes[code] = (sandbox.state.signed_in, redirect_uri, expiry)
    query = {"code": code} if state is None else {"code": code, "state": state}
    return RedirectResponse(f"{redirect_uri}?{urlencode(query)}", status_code=302)


@api.post("/auth/oauth/token")
async def token(sandbox: Sandbox, request: Request) -> Json:
    state = sandbox.state
    try:
        if request.headers.get("content-type", "").startswith("application/json"):
            fields = await request.json()
        else:
            fields = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
    except ValueError:
        raise _oauth_error(400, "invalid_request", "The body is neither JSON nor a form.") from None
    if not isinstance(fields, dict) or (fields.get("client_id"), fields.get("client_secret")) != (
        state.client_id,
        state.client_secret,
    ):
        raise _oauth_error(401, "invalid_client", "Client authentication failed.")
    grant_type = fields.get("grant_type")
    if grant_type == "authorization_code":
        granted = state.codes.pop(str(fields.get("code")), None)
        if granted is None or granted[2] <= state.now() or granted[1] != fields.get("redirect_uri"):
            raise _oauth_error(400, "invalid_grant", "The authorization code is invalid.")
        return state.issue_tokens(granted[0])
    if grant_type == "refresh_token":
        refreshed = state.refresh_tokens.pop(str(fields.get("refresh_token")), None)
        if refreshed is None:
            raise _oauth_error(400, "invalid_grant", "The refresh token is invalid.")
        state.access_tokens.pop(refreshed[1], None)
        return state.issue_tokens(refreshed[0])
    raise _oauth_error(400, "unsupported_grant_type", "Use authorization_code or refresh_token.")


@api.get("/auth/api/v1/users/me")
async def me(sandbox: Sandbox, caller: Caller) -> Json:
    return {"response": sandbox.identity_json(caller)}


@api.get("/accounting/account/{account_id}/users/clients")
async def clients(sandbox: Sandbox, account_id: Account, listing: Listing) -> Json:
    found = [
        sandbox.client_json(c)
        for c in sandbox.state.clients.values()
        if c.account_id == account_id and listing.keeps(c.vis_state, c.updated)
    ]
    return listing.answer("clients", found)


@api.get("/accounting/account/{account_id}/users/clients/{client_id}")
async def client(sandbox: Sandbox, account_id: Account, client_id: int) -> Json:
    return _result("client", sandbox.client_json(sandbox.client(account_id, client_id)))


@api.get("/accounting/account/{account_id}/invoices/invoices")
async def invoices(
    sandbox: Sandbox,
    account_id: Account,
    listing: Listing,
    lines: WithLines,
    customerid: Annotated[int | None, Query(alias="search[customerid]")] = None,
) -> Json:
    found = [
        sandbox.invoice_json(i, lines=lines)
        for i in sorted(sandbox.state.invoices.values(), key=lambda i: -i.id)
        if i.account_id == account_id
        and listing.keeps(i.vis_state, i.updated)
        and (customerid is None or i.customerid == customerid)
    ]
    return listing.answer("invoices", found)


@api.post("/accounting/account/{account_id}/invoices/invoices")
async def create_invoice(
    sandbox: Sandbox,
    *,
    caller: Caller,
    account_id: Account,
    body: _Body,
    background: BackgroundTasks,
    lines: WithLines,
) -> Json:
    invoice = sandbox.create_invoice(account_id, _validated(_InvoiceIn, body.invoice))
    sandbox.announce(background, account_id, "invoice.create", invoice.id, caller.id)
    return _result("invoice", sandbox.invoice_json(invoice, lines=lines))


@api.get("/accounting/account/{account_id}/invoices/invoices/{invoice_id}")
async def invoice(sandbox: Sandbox, account_id: Account, invoice_id: int, lines: WithLines) -> Json:
    found = sandbox.invoice(account_id, invoice_id)
    return _result("invoice", sandbox.invoice_json(found, lines=lines))


@api.put("/accounting/account/{account_id}/invoices/invoices/{invoice_id}")
async def update_invoice(
    sandbox: Sandbox,
    *,
    caller: Caller,
    account_id: Account,
    invoice_id: int,
    body: _Body,
    background: BackgroundTasks,
    lines: WithLines,
) -> Json:
    """FreshBooks' phases: ``vis_state`` alone if present, else an action, else the fields."""
    found = sandbox.invoice(account_id, invoice_id)
    fields = body.invoice
    event = "invoice.update"
    if "vis_state" in fields:
        if fields["vis_state"] not in (0, 1, 2):
            raise ApiError(400, "vis_state must be 0, 1 or 2")
        found.vis_state = fields["vis_state"]
        found.updated = sandbox.state.now()
        event = "invoice.delete" if found.vis_state == 1 else event
    elif found.vis_state == 1:
        raise ApiError(400, "Invoice is deleted.")
    elif fields.get("action_mark_as_sent") is True:
        found.status = max(found.status, 2)
        found.updated = sandbox.state.now()
    else:
        sandbox.change_invoice(found, _validated(_InvoiceChanges, fields))
    sandbox.announce(background, account_id, event, found.id, caller.id)
    return _result("invoice", sandbox.invoice_json(found, lines=lines))


@api.get("/events/account/{account_id}/events/callbacks")
async def callbacks(sandbox: Sandbox, account_id: Account, listing: Listing) -> Json:
    found = [
        sandbox.callback_json(c)
        for c in sandbox.state.callbacks.values()
        if c.account_id == account_id
    ]
    return listing.answer("callbacks", found)


@api.post("/events/account/{account_id}/events/callbacks")
async def create_callback(
    sandbox: Sandbox, account_id: Account, body: _CallbackBody, background: BackgroundTasks
) -> Json:
    fields = _validated(_CallbackIn, body.callback, events=True)
    problems = [] if fields.event in EVENTS else ["event: Value error, Unrecognized event."]
    if not fields.uri.startswith(("http://", "https://")):
        problems.append("uri: Input should be a valid URL")
    if problems:
        raise _events_error(422, "The request was unable to be followed.", problems)
    created = _Callback(
        _next_id(sandbox.state.callbacks, 3001),
        account_id,
        fields.event,
        fields.uri,
        secrets.token_urlsafe(24),
        sandbox.state.now(),
    )
    sandbox.state.callbacks[created.id] = created
    sandbox.ask_verification(background, created)
    return _result("callback", sandbox.callback_json(created))


def _callback(sandbox: _Sandbox, account_id: str, callback_id: int) -> _Callback:
    found = sandbox.state.callbacks.get(callback_id)
    if found is None or found.account_id != account_id:
        raise _events_error(404, "Requested resource could not be found.")
    return found


@api.get("/events/account/{account_id}/events/callbacks/{callback_id}")
async def get_callback(sandbox: Sandbox, account_id: Account, callback_id: int) -> Json:
    return _result("callback", sandbox.callback_json(_callback(sandbox, account_id, callback_id)))


@api.put("/events/account/{account_id}/events/callbacks/{callback_id}")
async def update_callback(
    sandbox: Sandbox,
    account_id: Account,
    callback_id: int,
    body: _CallbackBody,
    background: BackgroundTasks,
) -> Json:
    """``{"verifier"}`` activates the callback, ``{"resend": true}`` asks for the code again."""
    found = _callback(sandbox, account_id, callback_id)
    if body.callback.get("resend") is True:
        sandbox.ask_verification(background, found)
    elif "verifier" in body.callback:
        if not hmac.compare_digest(str(body.callback["verifier"]), found.verifier):
            raise _events_error(422, "Invalid verifier.", ["verifier: does not match"])
        found.verified = True
        found.updated_at = sandbox.state.now()
    else:
        raise _events_error(422, "Nothing to update.", ["callback: verifier or resend needed"])
    return _result("callback", sandbox.callback_json(found))


@api.delete("/events/account/{account_id}/events/callbacks/{callback_id}", status_code=204)
async def delete_callback(sandbox: Sandbox, account_id: Account, callback_id: int) -> Response:
    del sandbox.state.callbacks[_callback(sandbox, account_id, callback_id).id]
    return Response(status_code=204)


def _problems(errors: Sequence[Any]) -> list[str]:
    return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors]


def _validated(model: type[M], fields: Json, *, events: bool = False) -> M:
    """A JSON body's inner object as ``model``, refused in the API's error shape."""
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        problems = _problems(exc.errors())
        if events:
            raise _events_error(422, "The request was unable to be followed.", problems) from None
        raise ApiError(400, "; ".join(problems)) from None


def _owned_invoice(sandbox: _Sandbox, invoice_id: int) -> _Invoice:
    found = sandbox.state.invoices.get(invoice_id)
    if found is None:
        raise ApiError(404, "Invoice not found.")
    return found


@admin.post("/accounts/{account_id}/clients")
async def admin_create_client(
    sandbox: Sandbox, account_id: str, body: _ClientFields, background: BackgroundTasks
) -> Json:
    """A user adds a client in FreshBooks."""
    if account_id not in sandbox.state.businesses:
        raise ApiError(404, "Account not found.")
    client_id = sandbox.state.add_client(account_id, **body.model_dump(exclude_none=True))
    owner = sandbox.state.owner(account_id)
    sandbox.announce(background, account_id, "client.create", client_id, owner)
    return sandbox.client_json(sandbox.state.clients[client_id])


@admin.patch("/clients/{client_id}")
async def admin_change_client(
    sandbox: Sandbox, client_id: int, body: _ClientFields, background: BackgroundTasks
) -> Json:
    """A user renames, moves, archives (``vis_state`` 2) or deletes (1) a client."""
    found = sandbox.state.clients.get(client_id)
    if found is None:
        raise ApiError(404, "Client not found.")
    for name, value in body.model_dump(exclude_none=True).items():
        setattr(found, name, value)
    found.updated = sandbox.state.now()
    event = "client.delete" if found.vis_state == 1 else "client.update"
    owner = sandbox.state.owner(found.account_id)
    sandbox.announce(background, found.account_id, event, found.id, owner)
    return sandbox.client_json(found)


@admin.patch("/invoices/{invoice_id}")
async def admin_change_invoice(
    sandbox: Sandbox, invoice_id: int, body: _InvoiceChanges, background: BackgroundTasks
) -> Json:
    """A user edits an invoice: its number, date, lines (so its amount), reference, notes."""
    found = _owned_invoice(sandbox, invoice_id)
    sandbox.change_invoice(found, body)
    owner = sandbox.state.owner(found.account_id)
    sandbox.announce(background, found.account_id, "invoice.update", found.id, owner)
    return sandbox.invoice_json(found, lines=True)


@admin.post("/invoices/{invoice_id}/{action}")
async def admin_progress_invoice(
    sandbox: Sandbox,
    invoice_id: int,
    action: Literal["sent", "viewed", "paid"],
    background: BackgroundTasks,
) -> Json:
    """The invoice is sent, viewed by the client, or paid in full."""
    found = _owned_invoice(sandbox, invoice_id)
    found.status = {"sent": 2, "viewed": 3, "paid": 4}[action]
    if action == "paid":
        found.paid = found.amount
        found.date_paid = sandbox.state.now().astimezone(EASTERN).date()
    found.updated = sandbox.state.now()
    owner = sandbox.state.owner(found.account_id)
    sandbox.announce(background, found.account_id, "invoice.update", found.id, owner)
    return sandbox.invoice_json(found, lines=True)


@admin.delete("/invoices/{invoice_id}")
async def admin_delete_invoice(
    sandbox: Sandbox, invoice_id: int, background: BackgroundTasks
) -> Json:
    """A user deletes the invoice in FreshBooks (``vis_state`` 1)."""
    found = _owned_invoice(sandbox, invoice_id)
    found.vis_state = 1
    found.updated = sandbox.state.now()
    owner = sandbox.state.owner(found.account_id)
    sandbox.announce(background, found.account_id, "invoice.delete", found.id, owner)
    return sandbox.invoice_json(found, lines=True)


@admin.get("/deliveries")
async def deliveries(sandbox: Sandbox) -> list[Json]:
    return [
        {
            "callback": d.callback_id,
            "form": dict(d.form),
            "signed": d.signature is not None,
            "status": d.status,
            "error": d.error,
        }
        for d in sandbox.state.deliveries
    ]


async def _refused(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, _Refusal)
    return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(_error_body, ApiError(400, "; ".join(_problems(exc.errors()))))


def create_freshbooks_sandbox(
    state: FreshBooksState | None = None,
    faults: Faults | None = None,
    *,
    rate_limit: RateLimit | None = None,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The sandbox app; ``webhook_transport`` lets tests receive webhooks without a socket."""
    limit = rate_limit or RateLimit(*RATE_LIMIT)
    sandbox = _Sandbox(state or FreshBooksState(), faults or Faults(), limit, webhook_transport)
    app = FastAPI(
        title="FreshBooks sandbox",
        exception_handlers={_Refusal: _refused, RequestValidationError: _invalid},
    )
    app.state.sandbox = sandbox
    install(app, sandbox.faults, limit, sandbox.state.reset, _error_body)
    for router in (api, admin):
        app.include_router(router)
    return app
