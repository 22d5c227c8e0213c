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
- A ``If-Modified-Since`` is sent as UTC ``YYYY-MM-DDTHH:MM:SS`` rounded down to the second and
  compares "modified at or after", so a change is seen at least once. Not every change moves
  ``UpdatedDateUTC`` (S: ``IsCustomer`` does not), so a full read now and then is still needed.
- A ``GET /Invoices`` might leave ``DELETED`` invoices out by default; the client lists every
  status in ``Statuses`` so deletions are seen either way.
- A Token endpoint errors are OAuth2 JSON (``{"error": "invalid_grant"}``) with ``400``.
"""

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import quote, urlencode

import httpx
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    ValidationError,
)
from pydantic.alias_generators import to_camel, to_pascal

from timebridge_common.errors import InvalidMessageError
from timebridge_common.outbound.http import (
    DEFAULT_RETRY,
    ProviderClient,
    ProviderError,
    ProviderHttp,
    RequestBudget,
    RetryPolicy,
)
from timebridge_common.outbound.oauth import (
    BasicAuthTokenEndpoint,
)

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


def authorize_url(
    client_id: str,
    redirect_uri: str,
    state: str,
    *,
    scopes: Sequence[str] = SCOPES,
    base: str = AUTHORIZE_URL,
) -> str:
    """Where to send the admin who connects Xero; ``state`` comes back on the redirect."""
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(scopes),
        "state": state,
    }
    return f"{base}?{urlencode(query, quote_via=quote)}"


def select_tenant(connected: Sequence[Connection], tenant_id: str | None = None) -> Connection:
    """The organisation to use: the one asked for, or the only one connected."""
    organisations = [c for c in connected if c.tenant_type == "ORGANISATION"]
    if tenant_id is not None:
        for connection in organisations:
            if connection.tenant_id == tenant_id:
                return connection
        raise TenantSelectionError(f"organisation {tenant_id} is not connected")
    if len(organisations) == 1:
        return organisations[0]
    if not organisations:
        raise TenantSelectionError("no Xero organisation was connected")
    names = ", ".join(f"{c.tenant_name} ({c.tenant_id})" for c in organisations)
    raise TenantSelectionError(f"choose one of the connected organisations: {names}")


def verify_webhook(key: str, body: bytes, signature: str | None) -> bool:
    """Whether ``signature`` is Xero's for ``body`` (the raw bytes, before any parsing)."""
    if not signature:
        return False
    expected = base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, signature.strip().encode())


def parse_webhook(body: bytes) -> WebhookPayload:
    try:
        return WebhookPayload.model_validate_json(body)
    except ValidationError as exc:
        raise InvalidMessageError(f"not a Xero webhook payload: {exc}") from exc


class XeroTokens(BasicAuthTokenEndpoint):
    """Xero's token endpoint, a :class:`~timebridge_common.outbound.oauth.TokenEndpoint` (form
    body, HTTP Basic auth). A refresh may be repeated after a lost answer: Xero accepts the
    previous refresh token for 30 minutes; an authorization code it does not."""

    provider = "xero"
    default_token_url = TOKEN_URL


_CONNECTIONS = TypeAdapter(list[Connection])


async def connections(
    base_url: str,
    access_token: str,
    *,
    http: httpx.AsyncClient | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    timeout_s: float = 30.0,
) -> list[Connection]:
    """The tenants the access token may use (right after the code exchange, to choose one)."""
    api = ProviderHttp(
        "xero",
        base_url,
        headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        secret_headers=("Authorization",),
        client=http,
        budget=RequestBudget(*RATE_LIMIT),
        retry=retry,
        timeout_s=timeout_s,
    )
    try:
        return api.parse(await api.request("GET", "/connections"), _CONNECTIONS)
    finally:
        await api.aclose()


class _Pagination(BaseModel):
    page: int
    page_count: int = Field(alias="pageCount")


class _Page(_Model):
    pagination: _Pagination | None = Field(default=None, alias="pagination")

    def records(self) -> tuple[Any, ...]:
        raise NotImplementedError

    def last(self, page_size: int) -> bool:
        """Whether no page follows (Xero counts pages when paging; a short page ends too)."""
        if self.pagination is not None and self.pagination.page >= self.pagination.page_count:
            return True
        return len(self.records()) < page_size


class _Contacts(_Page):
    contacts: tuple[Contact, ...] = ()

    def records(self) -> tuple[Contact, ...]:
        return self.contacts


class _Invoices(_Page):
    invoices: tuple[Invoice, ...] = ()

    def records(self) -> tuple[Invoice, ...]:
        return self.invoices


P = TypeVar("P", bound=_Page)

_CONTACTS = TypeAdapter(_Contacts)
_INVOICES = TypeAdapter(_Invoices)


def _since(moment: dt.datetime) -> str:
    return _as_utc(moment).strftime("%Y-%m-%dT%H:%M:%S")


def _quoted(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


class XeroClient(ProviderClient):
    """One Xero organisation (tenant) of one connection; every method returns models or raises.

    ``access_token`` is asked for a bearer before every call (a
    :meth:`~timebridge_common.outbound.oauth.TokenManager.access_token` callable), so a
    long-lived client never sends an expired one. ``budget`` (60 calls a minute) and ``slots``
    (5 calls in progress) are Xero's per-tenant limits: every client of one tenant in a process
    must share them. A slot is held for the whole call, retries included, so fewer than five may
    be on the wire but never more.

    Errors: :class:`~timebridge_common.outbound.http.AuthenticationError` (token refused, or the
    tenant not connected), :class:`~timebridge_common.outbound.http.NotFoundError`, other
    :class:`~timebridge_common.outbound.http.ProviderError` refusals (validation: ``400``), and
    :class:`~timebridge_common.errors.TransientError` when the attempts or the wait run out.
    """

    def __init__(
        self,
        base_url: str,
        tenant_id: str,
        access_token: Callable[[], Awaitable[str]],
        *,
        http: httpx.AsyncClient | None = None,
        budget: RequestBudget | None = None,
        slots: asyncio.Semaphore | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        timeout_s: float = 30.0,
    ) -> None:
        self._http = ProviderHttp(
            "xero",
            base_url,
            headers={"xero-tenant-id": tenant_id, "Accept": "application/json"},
            client=http,
            budget=budget or RequestBudget(*RATE_LIMIT),
            retry=retry,
            timeout_s=timeout_s,
        )
        self._access_token = access_token
        self._slots = slots or asyncio.Semaphore(CONCURRENT_LIMIT)

    def contacts(
        self,
        *,
        customers_only: bool = True,
        include_archived: bool = False,
        modified_since: dt.datetime | None = None,
        page_size: int = PAGE_SIZE,
    ) -> AsyncIterator[Contact]:
        """Contacts, least recently changed first. The first mirror reads active customers;
        polling for changes passes ``modified_since`` and ``include_archived`` (an archived
        customer is a change the mirror must see)."""
        where = ["IsCustomer==true"] if customers_only else []
        params: dict[str, str | int] = {}
        if include_archived:
            params["includeArchived"] = "true"
        else:
            where.append('ContactStatus=="ACTIVE"')
        if where:
            params["where"] = " AND ".join(where)
        return self._pages("/Contacts", _CONTACTS, params, modified_since, page_size)

    async def contact(self, contact_id: str) -> Contact:
        response = await self._request("GET", f"/Contacts/{contact_id}")
        return _only(response, self._http.parse(response, _CONTACTS).contacts)

    def invoices(
        self,
        *,
        modified_since: dt.datetime | None = None,
        reference: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> AsyncIterator[Invoice]:
        """Sales invoices of every status (deleted and voided too), least recently changed
        first; ``reference`` finds the ones exported under it (the look-up before exporting
        again once the idempotency key has expired)."""
        where = ['Type=="ACCREC"']
        if reference is not None:
            where.append(f"Reference=={_quoted(reference)}")
        params: dict[str, str | int] = {
            "where": " AND ".join(where),
            "Statuses": ",".join(INVOICE_STATUSES),
        }
        return self._pages("/Invoices", _INVOICES, params, modified_since, page_size)

    async def invoice(self, invoice_id: str) -> Invoice:
        response = await self._request("GET", f"/Invoices/{invoice_id}")
        return _only(response, self._http.parse(response, _INVOICES).invoices)

    async def create_invoice(self, draft: DraftInvoice, *, idempotency_key: str) -> Invoice:
        """Create the draft. Retried as long as Xero keeps the key's answer (minutes): the same
        key and body always yield the one invoice. A stable key per export makes a later repeat
        safe within that time; after it, look up by reference first."""
        if not 0 < len(idempotency_key) <= IDEMPOTENCY_KEY_MAX:
            raise ValueError(f"an idempotency key has 1 to {IDEMPOTENCY_KEY_MAX} characters")
        return await self._write("PUT", "/Invoices", draft.body(), idempotency_key)

    async def delete_invoice(self, invoice_id: str) -> Invoice:
        """Delete a draft (or submitted) invoice; Xero refuses others with ``400``."""
        return await self._set_status(invoice_id, "DELETED")

    async def void_invoice(self, invoice_id: str) -> Invoice:
        """Void an approved invoice without payments; Xero refuses others with ``400``."""
        return await self._set_status(invoice_id, "VOIDED")

    async def _set_status(self, invoice_id: str, status: str) -> Invoice:
        body = {"InvoiceID": invoice_id, "Status": status}
        return await self._write("POST", f"/Invoices/{invoice_id}", body, str(uuid.uuid4()))

    async def _write(self, method: str, path: str, invoice: dict[str, Any], key: str) -> Invoice:
        headers = {"Idempotency-Key": key}
        response = await self._request(method, path, json={"Invoices": [invoice]}, headers=headers)
        return _only(response, self._http.parse(response, _INVOICES).invoices)

    async def _request(
        self, method: str, path: str, *, headers: Mapping[str, str] | None = None, **options: Any
    ) -> httpx.Response:
        """Send with a fresh bearer in one of the tenant's slots. Every call is safe to repeat
        (reads, and writes carrying an ``Idempotency-Key``), so none ends in an unknown outcome."""
        bearer = await self._access_token()
        async with self._slots:
            return await self._http.request(
                method,
                ACCOUNTING_PATH + path,
                headers={"Authorization": f"Bearer {bearer}", **(headers or {})},
                idempotent=True,
                **options,
            )

    async def _pages(
        self,
        path: str,
        adapter: TypeAdapter[P],
        params: Mapping[str, str | int],
        modified_since: dt.datetime | None,
        page_size: int,
    ) -> AsyncIterator[Any]:
        headers = None if modified_since is None else {"If-Modified-Since": _since(modified_since)}
        query: dict[str, str | int] = {**params, "order": "UpdatedDateUTC ASC"}
        query["pageSize"] = page_size
        page = 1
        while True:
            query["page"] = page
            response = await self._request("GET", path, params=query, headers=headers)
            answer = self._http.parse(response, adapter)
            for record in answer.records():
                yield record
            if answer.last(page_size):
                return
            page += 1


def _only(response: httpx.Response, records: tuple[T, ...]) -> T:
    """The one record an answer about one invoice or contact must hold."""
    if len(records) != 1:
        request = response.request
        found = f"expected one record, got {len(records)}"
        raise ProviderError("xero", request.method, request.url.path, response.status_code, found)
    return records[0]
