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

import base64
import datetime as dt
import hashlib
import hmac
import json
import zoneinfo
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from enum import IntEnum
from typing import Annotated, Any, Generic, Protocol, TypeVar
from urllib.parse import urlencode

import httpx
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, TypeAdapter

from timebridge_common.outbound.http import (
    DEFAULT_RETRY,
    OutcomeUnknownError,
    ProviderClient,
    ProviderError,
    ProviderHttp,
    RequestBudget,
    RetryPolicy,
)
from timebridge_common.outbound.oauth import ReauthorizationNeededError, Tokens

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


def signed_message(fields: FormFields) -> str:
    """What FreshBooks signs: the fields re-serialised as Python's ``json.dumps`` writes a dict
    of strings (received order, default separators)."""
    pairs = fields.items() if isinstance(fields, Mapping) else fields
    return json.dumps({key: str(value) for key, value in pairs})


def webhook_signature(verifier: str, fields: FormFields) -> str:
    """FreshBooks' signature of a delivery: HMAC-SHA256 of :func:`signed_message`, base64."""
    message = signed_message(fields)
    digest = hmac.new(verifier.encode(), message.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_webhook(verifier: str, fields: FormFields, signature: str | None) -> bool:
    """Whether ``signature`` (the ``X-FreshBooks-Hmac-SHA256`` header) signs these fields."""
    if not signature:
        return False
    expected = webhook_signature(verifier, fields)
    return hmac.compare_digest(expected.encode(), signature.encode())


def authorize_url(
    client_id: str,
    redirect_uri: str,
    *,
    state: str | None = None,
    scopes: Sequence[str] = (),
    base_url: str = FRESHBOOKS_AUTHORIZE_URL,
) -> str:
    """Where an admin grants Timebridge access; FreshBooks then redirects to ``redirect_uri``
    with ``code`` (and ``state``, which must be checked against the one sent)."""
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri}
    if state is not None:
        params["state"] = state
    if scopes:
        params["scope"] = " ".join(scopes)
    return f"{base_url}?{urlencode(params)}"


class _TokenAnswer(_Model):
    access_token: str
    refresh_token: str
    expires_in: int
    created_at: int | None = None


_TOKENS = TypeAdapter(_TokenAnswer)


class FreshBooksTokens:
    """FreshBooks' token endpoint (:class:`~timebridge_common.outbound.oauth.TokenEndpoint`).

    ``redirect_uri`` is sent with refreshes too, as FreshBooks' own examples do.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        redirect_uri: str | None = None,
        base_url: str = FRESHBOOKS_API_URL,
        http: httpx.AsyncClient | None = None,
        budget: RequestBudget | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._client = {"client_id": client_id, "client_secret": client_secret}
        self._redirect_uri = redirect_uri
        self._clock = clock
        self._http = ProviderHttp(
            "freshbooks",
            base_url,
            headers={},
            client=http,
            budget=budget or RequestBudget(*RATE_LIMIT),
            retry=retry,
        )

    async def exchange_code(self, code: str, redirect_uri: str) -> Tokens:
        """The tokens for a code FreshBooks redirected with (valid 5 minutes, once)."""
        grant = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        return await self._grant(grant)

    async def refresh(self, refresh_token: str) -> Tokens:
        """New tokens; ``refresh_token`` is spent, the answer's must be saved before use."""
        grant = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if self._redirect_uri is not None:
            grant["redirect_uri"] = self._redirect_uri
        return await self._grant(grant)

    async def _grant(self, grant: dict[str, str]) -> Tokens:
        try:
            response = await self._http.request("POST", TOKEN_PATH, json={**grant, **self._client})
        except ProviderError as exc:
            if exc.status in {400, 401} and "invalid_grant" in exc.body:
                raise ReauthorizationNeededError(
                    f"FreshBooks refused the {grant['grant_type']}: connect FreshBooks again"
                ) from exc
            raise
        answer = self._http.parse(response, _TOKENS)
        issued = (
            self._clock()
            if answer.created_at is None
            else dt.datetime.fromtimestamp(answer.created_at, dt.UTC)
        )
        expires_at = issued + dt.timedelta(seconds=answer.expires_in)
        return Tokens(answer.access_token, answer.refresh_token, expires_at)


class _Envelope(_Model, Generic[T]):
    response: T


class _Result(_Model, Generic[T]):
    result: T


class _OneClient(_Model):
    client: Client


class _OneInvoice(_Model):
    invoice: Invoice


class _OneCallback(_Model):
    callback: Callback


class _Page(_Model):
    page: int
    pages: int


P = TypeVar("P", bound=_Page)


class _Clients(_Page):
    clients: list[Client]


class _Invoices(_Page):
    invoices: list[Invoice]


class _Callbacks(_Page):
    callbacks: list[Callback]


_IDENTITY = TypeAdapter(_Envelope[Identity])
_CLIENT = TypeAdapter(_Envelope[_Result[_OneClient]])
_CLIENTS = TypeAdapter(_Envelope[_Result[_Clients]])
_INVOICE = TypeAdapter(_Envelope[_Result[_OneInvoice]])
_INVOICES = TypeAdapter(_Envelope[_Result[_Invoices]])
_CALLBACK = TypeAdapter(_Envelope[_Result[_OneCallback]])
_CALLBACKS = TypeAdapter(_Envelope[_Result[_Callbacks]])

_WITH_LINES = {"include[]": "lines"}


class FreshBooksClient(ProviderClient):
    """One FreshBooks connection, acting in one accounting account; returns models or raises.

    ``access_token`` is awaited before every request (a
    :meth:`~timebridge_common.outbound.oauth.TokenManager.access_token` callable), so a long
    listing keeps working across a refresh. ``account_id`` may be None until the admin picked
    an account from :meth:`me`; the accounting and webhook calls need it.

    Errors as for every provider client (:mod:`timebridge_common.outbound.http`): an expired or
    revoked token is an :class:`~timebridge_common.outbound.http.AuthenticationError`.
    """

    def __init__(
        self,
        base_url: str,
        account_id: str | None,
        access_token: Callable[[], Awaitable[str]],
        *,
        http: httpx.AsyncClient | None = None,
        budget: RequestBudget | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        timeout_s: float = 30.0,
    ) -> None:
        self._account_id = account_id
        self._access_token = access_token
        self._http = ProviderHttp(
            "freshbooks",
            base_url,
            headers={"Accept": "application/json"},
            client=http,
            budget=budget or RequestBudget(*RATE_LIMIT),
            retry=retry,
            timeout_s=timeout_s,
        )

    async def me(self) -> Identity:
        """The token's user and business memberships: the connection test and account choice."""
        return (await self._call("GET", "/auth/api/v1/users/me", _IDENTITY)).response

    def clients(
        self,
        *,
        vis_state: VisState | None = VisState.ACTIVE,
        updated_since: dt.datetime | None = None,
        page_size: int = PAGE_SIZE,
    ) -> AsyncIterator[Client]:
        """Clients (active ones by default; ``None``: active and archived) changed since then."""
        params = _updated_min(updated_since)
        if vis_state is not None:
            params["search[vis_state]"] = vis_state.value
        pages = self._pages(self._accounting("users/clients"), _CLIENTS, params, page_size)
        return _since(pages, updated_since, lambda page: page.clients)

    async def client(self, client_id: int) -> Client:
        path = self._accounting(f"users/clients/{client_id}")
        return (await self._call("GET", path, _CLIENT)).response.result.client

    async def invoice(self, invoice_id: int) -> Invoice:
        """One invoice with its lines, also when it was deleted (``vis_state`` 1)."""
        path = self._accounting(f"invoices/invoices/{invoice_id}")
        answer = await self._call("GET", path, _INVOICE, params=_WITH_LINES)
        return answer.response.result.invoice

    def invoices(
        self,
        *,
        updated_since: dt.datetime | None = None,
        customer_id: int | None = None,
        page_size: int = PAGE_SIZE,
    ) -> AsyncIterator[Invoice]:
        """Invoices changed since then, deleted ones included (a list hides them by default)."""
        return self._invoices(updated_since, customer_id, page_size)

    async def find_invoice_by_reference(self, customer_id: int, reference: str) -> Invoice | None:
        """The client's invoice whose ``po_number`` is ``reference``, deleted or not."""
        async for invoice in self._invoices(None, customer_id, PAGE_SIZE):
            if invoice.po_number == reference:
                return invoice
        return None

    async def create_invoice(self, draft: InvoiceDraft) -> Invoice:
        """POST the draft; an unknown outcome is raised, never repeated (see ensure_invoice)."""
        path = self._accounting("invoices/invoices")
        answer = await self._call("POST", path, _INVOICE, params=_WITH_LINES, json=draft.body())
        return answer.response.result.invoice

    async def ensure_invoice(self, draft: InvoiceDraft) -> Invoice:
        """The draft's invoice, created at most once: looked up by reference before creating and
        after an unknown outcome. If the lookup after an unknown outcome finds nothing, the
        :class:`OutcomeUnknownError` stands: the create may still be in flight, so the caller
        retries later (with backoff), and that retry looks up first again."""
        found = await self.find_invoice_by_reference(draft.customerid, draft.po_number)
        if found is not None:
            return found
        try:
            return await self.create_invoice(draft)
        except OutcomeUnknownError:
            found = await self.find_invoice_by_reference(draft.customerid, draft.po_number)
            if found is None:
                raise
            return found

    async def delete_invoice(self, invoice_id: int) -> Invoice:
        """Delete (``vis_state`` 1, restorable in FreshBooks); repeating it is harmless."""
        path = self._accounting(f"invoices/invoices/{invoice_id}")
        body = {"invoice": {"vis_state": VisState.DELETED.value}}
        return (await self._call("PUT", path, _INVOICE, json=body)).response.result.invoice

    async def callbacks(self) -> list[Callback]:
        pages = self._pages(self._events(), _CALLBACKS, {}, PAGE_SIZE)
        return [callback async for page in pages for callback in page.callbacks]

    async def create_callback(self, event: str, uri: str) -> Callback:
        """Register ``uri`` for ``event``; FreshBooks then posts the verifier to ``uri``.

        After an :class:`OutcomeUnknownError`, look for it in :meth:`callbacks` before retrying.
        """
        body = {"callback": {"event": event, "uri": uri}}
        return (
            await self._call("POST", self._events(), _CALLBACK, json=body)
        ).response.result.callback

    async def verify_callback(self, callback_id: int, verifier: str) -> Callback:
        """Activate a callback with the verifier FreshBooks posted (it also signs deliveries)."""
        return await self._update_callback(callback_id, {"verifier": verifier})

    async def resend_verification(self, callback_id: int) -> Callback:
        return await self._update_callback(callback_id, {"resend": True})

    async def delete_callback(self, callback_id: int) -> None:
        await self._send("DELETE", self._events(callback_id))

    async def _update_callback(self, callback_id: int, fields: dict[str, Any]) -> Callback:
        path = self._events(callback_id)
        answer = await self._call("PUT", path, _CALLBACK, json={"callback": fields})
        return answer.response.result.callback

    async def _invoices(
        self, updated_since: dt.datetime | None, customer_id: int | None, page_size: int
    ) -> AsyncIterator[Invoice]:
        params = {**_updated_min(updated_since), **_WITH_LINES}
        if customer_id is not None:
            params["search[customerid]"] = customer_id
        path = self._accounting("invoices/invoices")
        for hidden in ({}, {"search[vis_state]": VisState.DELETED.value}):
            pages = self._pages(path, _INVOICES, {**params, **hidden}, page_size)
            async for invoice in _since(pages, updated_since, lambda page: page.invoices):
                yield invoice

    def _accounting(self, resource: str) -> str:
        return f"/accounting/account/{self._account()}/{resource}"

    def _events(self, callback_id: int | None = None) -> str:
        path = f"/events/account/{self._account()}/events/callbacks"
        return path if callback_id is None else f"{path}/{callback_id}"

    def _account(self) -> str:
        if self._account_id is None:
            raise ValueError("no FreshBooks account chosen: pass the account_id from me()")
        return self._account_id

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
    ) -> httpx.Response:
        token = await self._access_token()
        headers = {"Authorization": f"Bearer {token}"}
        return await self._http.request(method, path, params=params, json=json, headers=headers)

    async def _call(
        self,
        method: str,
        path: str,
        adapter: TypeAdapter[T],
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
    ) -> T:
        response = await self._send(method, path, params=params, json=json)
        return self._http.parse(response, adapter)

    async def _pages(
        self,
        path: str,
        adapter: TypeAdapter[_Envelope[_Result[P]]],
        params: Mapping[str, str | int],
        page_size: int,
    ) -> AsyncIterator[P]:
        page = 1
        while True:
            query = {**params, "page": page, "per_page": min(page_size, PAGE_SIZE)}
            result = (await self._call("GET", path, adapter, params=query)).response.result
            yield result
            if result.page >= result.pages:
                return
            page += 1


class _Changed(Protocol):
    @property
    def updated(self) -> dt.datetime | None: ...


C = TypeVar("C", bound=_Changed)


def _updated_min(since: dt.datetime | None) -> dict[str, str | int]:
    """The day filter for "changed since": FreshBooks compares ``updated`` by day, in its zone."""
    if since is None:
        return {}
    return {"search[updated_min]": since.astimezone(ACCOUNTING_ZONE).date().isoformat()}


async def _since(
    pages: AsyncIterator[P], since: dt.datetime | None, items: Callable[[P], Sequence[C]]
) -> AsyncIterator[C]:
    """The items of every page, less those the day filter let through but changed before
    ``since``."""
    async for page in pages:
        for item in items(page):
            if since is None or item.updated is None or item.updated >= since:
                yield item
