"""QuickBooks Online Accounting API client: customers, service items, invoices, changes, OAuth.

What each fact rests on (V = verified in Intuit's own material: developer.intuit.com pages, the
Intuit developer blog, Intuit's SDKs, or the official XSD in ``provider-specs/quickbooks-v3-xsd``;
S = seen in public integrations and captures of the real API; A = assumed):

- V OAuth 2.0 authorization code flow: the user is sent to ``https://appcenter.intuit.com/connect/
  oauth2`` with ``client_id``, ``response_type=code``, ``scope=com.intuit.quickbooks.accounting``,
  ``redirect_uri`` and ``state``; Intuit redirects back with ``code``, ``state`` and ``realmId``
  (the company chosen at consent). The code and refresh tokens go to ``POST https://oauth.platform.
  intuit.com/oauth2/v1/tokens/bearer`` as a form, with HTTP Basic ``client_id:client_secret``
  (discovery document, intuit/oauth-pythonclient ``intuitlib/client.py``). The answer has
  ``access_token``, ``refresh_token``, ``expires_in`` (3600: access tokens live one hour),
  ``x_refresh_token_expires_in`` and ``token_type`` (authorization FAQ).
- V Refresh tokens rotate: always keep the latest ``refresh_token`` of an answer; a refused one is
  ``400 {"error": "invalid_grant"}`` and needs the user to connect again (FAQ; Intuit blog
  2025-11-12: refresh tokens now expire after at most five years). A When exactly the previous
  refresh token stops working is not documented; storage follows ``providers/oauth.py``.
- V Base URLs ``https://quickbooks.api.intuit.com`` (``sandbox-quickbooks.api.intuit.com`` for
  Intuit's sandbox companies); reads ``GET /v3/company/{realmId}/{entity}/{id}``, creates and
  updates ``POST /v3/company/{realmId}/{entity}``, queries ``GET .../query?query=<SELECT>``
  (REST quick reference). JSON uses the XSD's element names; answers wrap the entity in its name,
  ``{"Invoice": {...}, "time": ...}``. A JSON is returned only for ``Accept: application/json``
  (XML otherwise), so every request sends it.
- V ``minorversion``: from 2025-08-01 every request is answered as minor version 75 whatever is
  asked (Intuit blog 2025-01-21); this client asks for 75 so the answer shape is explicit.
- V Queries: ``SELECT * FROM <Entity> [WHERE a AND b] [ORDERBY f] [STARTPOSITION n] [MAXRESULTS
  n]``, no ``OR``, operators ``= < > <= >= IN LIKE``, strings in single quotes with backslash
  escapes, at most 1000 results a page; ``SELECT * FROM Customer`` returns only *active*
  customers (data-queries page; Intuit blog "Deep dive into data queries"). S ``Active IN (true,
  false)`` includes inactive ones (used by several integrations); this client uses it for
  changes so that an archived customer is seen. S An empty result is ``{"QueryResponse": {}}``;
  the last page is the one shorter than ``MAXRESULTS``; ``ORDERBY MetaData.LastUpdatedTime`` and
  ``MetaData.LastUpdatedTime >= '<ISO>'`` filters work (the latter is in Intuit's own example).
  Pages therefore start at the previous page's last change rather than at an offset, so that a
  record changing during a listing cannot shift another one out of it.
- V Change data capture ``GET .../cdc?entities=A,B&changedSince=<ISO>``: full entities changed
  since, at most 30 days back and 1000 objects an answer; deleted entities come back with
  ``"status": "Deleted"`` (CDC page). S The answer is ``{"CDCResponse": [{"QueryResponse":
  [{"Invoice": [...], ...}, ...]}]}``.
- V Idempotent creates: a ``requestid`` query parameter (at most 50 characters, unique per
  company) makes Intuit answer a repeated request with the first answer instead of acting again
  (Intuit blog 2015-04-06 "Request ID"). So a create with a ``requestid`` may be repeated after a
  lost answer, and this client marks it idempotent for the retry layer.
- V Optimistic locking: updates carry ``Id`` and the ``SyncToken`` read; a stale token is refused
  with Fault code ``5010`` "Stale Object Error". Errors are ``{"Fault": {"Error": [{"Message",
  "Detail", "code", "element"}], "type"}, "time"}`` (handling-common-errors page); ``610``
  "Object Not Found" (also for a deleted transaction) and ``6240`` "Duplicate Name Exists" are
  answered with HTTP 400 (Intuit blog 2017-06-08 "Top QuickBooks Online API errors"). ``401``
  means the access token expired or was revoked (FAQ). S The ``401`` body is lower case
  (``{"fault": {"error": [{"code": "3200", ...}]}}``).
- V Throttling: 500 requests a minute and 10 concurrent requests per company and app, ``429``
  beyond (Intuit blog 2016-08-08). Hence :data:`RATE_LIMIT`; a client sends one request at a time.
  A Whether a ``429`` carries ``Retry-After`` is not documented; without it the retry layer backs
  off exponentially.
- V Customers: ``DisplayName`` (unique across customers, vendors and employees), ``CompanyName``,
  ``BillAddr``, ``PrimaryEmailAddr``, ``Active``, ``Taxable``, ``DefaultTaxCodeRef``,
  ``PrimaryTaxIdentifier``, ``ResaleNum``, ``TaxExemptionReasonId``, ``CurrencyRef`` (fixed once
  set) (XSD ``Customer``/``NameBase``; Customer reference). S Customers are not deleted but made
  inactive (``Active`` false, a sparse update), which is how they are archived.
- V Items: ``Name`` unique (at most 100 characters), ``Type`` ``Service``; an ``IncomeAccountRef``
  is required for service items (Item create reference).
- V Invoices: ``CustomerRef``, ``Line`` (``DetailType`` ``SalesItemLineDetail`` with ``ItemRef``,
  ``Qty``, ``UnitPrice``; ``Amount`` and ``Description`` on the line), ``TxnDate``, ``DocNumber``,
  ``CurrencyRef``, ``PrivateNote``, ``EmailStatus``/``PrintStatus`` (``NotSet``, ``NeedToSend``,
  ``EmailSent`` / ``NeedToPrint``, ``PrintComplete``), read-only ``TotalAmt`` and ``Balance``
  (XSD ``Invoice``, ``SalesTransaction``, ``Line``, ``SalesItemLineDetail``). ``DocNumber`` has
  at most 21 characters; ``AUTO_GENERATE`` makes QuickBooks number the invoice even where the
  company types its own numbers (.NET SDK reference, ``Transaction.DocNumber``).
- V Voiding keeps the invoice, zeroes its amounts and quantities and prepends "Voided" to
  ``PrivateNote`` (Intuit blog 2016-04-06 "Voiding invoice objects"). S The REST answer has no
  void flag, so :attr:`Invoice.lifecycle` recognises a voided invoice by ``TotalAmt`` 0 and that
  note (intuit/QuickBooks-V3-PHP-SDK issue 167). A The XSD's newer ``invoiceStatus`` (``VOIDED``,
  ``PARTIALLY_PAID``, ...) is not relied on: nothing says REST answers carry it.
- V Webhooks: one endpoint per app for every connected company; ``intuit-signature`` is the
  base64 HMAC-SHA256 of the raw body keyed with the app's verifier token; the legacy payload is
  ``{"eventNotifications": [{"realmId", "dataChangeEvent": {"entities": [{"name", "id",
  "operation", "lastUpdated"}]}}]}`` with ids only (managing-webhooks-notifications page).
  Intuit moves every app to a CloudEvents payload, a JSON array of ``{"specversion", "id",
  "type": "qbo.<entity>.<operation>.v1", "time", "intuitentityid", "intuitaccountid", "data"}``,
  mandatory in 2026 (Intuit blog 2025-11-12 "Upcoming change to webhooks payload structure"); the
  signature is unchanged. :func:`parse_webhook` reads both. A Operation words other than
  ``created`` in CloudEvents types (``updated``, ``deleted``, ``voided``, ``merged``) are assumed
  from the legacy operations.

**Draft invoices.** QuickBooks Online's Accounting API has no draft state: every invoice it stores
is posted to accounts receivable (Intuit's separate GraphQL API has ``createInvoiceDraft``, but it
is a different product and not used here). Timebridge's "draft" is therefore an invoice that was
never sent: :meth:`QuickBooksClient.create_invoice` sets ``EmailStatus`` and ``PrintStatus`` to
``NotSet``, adds no ``BillEmail`` and never calls ``/send``, and writes the caller's note to
``PrivateNote`` (internal, not printed) so that bookkeepers see where it came from. It stays a
draft (:attr:`Invoice.lifecycle` ``"draft"``) until someone sends, prints, pays or voids it.
"""

import base64
import datetime as dt
import hashlib
import hmac
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar, cast
from urllib.parse import urlencode

import httpx
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    ValidationError,
)
from pydantic.alias_generators import to_pascal

from timebridge_common.errors import InvalidMessageError, TransientError
from timebridge_common.outbound.http import (
    DEFAULT_RETRY,
    NotFoundError,
    ProviderClient,
    ProviderError,
    ProviderHttp,
    RequestBudget,
    RetryPolicy,
)
from timebridge_common.outbound.oauth import (
    BasicAuthTokenEndpoint,
)

QBO_API_URL = "https://quickbooks.api.intuit.com"
AUTHORIZE_URL = "https://appcenter.intuit.com/connect/oauth2"
TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"  # noqa: S105 - a URL
SCOPE = "com.intuit.quickbooks.accounting"
MINOR_VERSION = "75"
RATE_LIMIT = (500, 60.0)
"""Requests per seconds QuickBooks Online allows one app per company."""
PAGE_LIMIT = 1000
"""The most ``MAXRESULTS`` a query may ask for."""
REQUEST_ID_LIMIT = 50
SIGNATURE_HEADER = "intuit-signature"

T = TypeVar("T")
Json = dict[str, Any]

_CODE = re.compile(r'"code"\s*:\s*"?(\d+)')
_CLOUD_OPERATIONS = {
    "created": "Create",
    "updated": "Update",
    "deleted": "Delete",
    "voided": "Void",
    "merged": "Merge",
    "emailed": "Emailed",
}
_ENTITY_NAMES = {
    "customer": "Customer",
    "invoice": "Invoice",
    "item": "Item",
    "payment": "Payment",
    "creditmemo": "CreditMemo",
    "timeactivity": "TimeActivity",
}
"""CloudEvents types name entities in lower case; QuickBooks' own spelling, where it differs."""
_CENT = Decimal("0.01")

Amount = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
"""A decimal read exactly and written as a JSON number, as QuickBooks expects."""


class _Model(BaseModel):
    """QuickBooks' element names (``DisplayName``) as snake_case attributes; unknown ignored."""

    model_config = ConfigDict(
        frozen=True, extra="ignore", alias_generator=to_pascal, populate_by_name=True
    )


class Ref(_Model):
    """A ``ReferenceType``: the id in ``value``, and the referenced entity's ``name``."""

    value: str = Field(alias="value")
    name: str | None = Field(default=None, alias="name")


class MetaData(_Model):
    create_time: dt.datetime | None = None
    last_updated_time: dt.datetime | None = None


class PhysicalAddress(_Model):
    id: str | None = None
    line1: str | None = None
    line2: str | None = None
    line3: str | None = None
    city: str | None = None
    country: str | None = None
    country_sub_division_code: str | None = None
    """State or province."""
    postal_code: str | None = None


class EmailAddress(_Model):
    address: str | None = None


class _Entity(_Model):
    """What every QuickBooks entity has: its id and when it last changed."""

    id: str
    meta_data: MetaData | None = None

    @property
    def changed_at(self) -> dt.datetime | None:
        return self.meta_data.last_updated_time if self.meta_data else None


E = TypeVar("E", bound=_Entity)


class Customer(_Entity):
    """A customer as Timebridge mirrors it: name, billing details and tax settings."""

    sync_token: str
    display_name: str
    company_name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    fully_qualified_name: str | None = None
    active: bool = True
    """Inactive customers are QuickBooks' archived (it deletes none)."""
    bill_addr: PhysicalAddress | None = None
    primary_email_addr: EmailAddress | None = None
    taxable: bool | None = None
    default_tax_code_ref: Ref | None = None
    primary_tax_identifier: str | None = None
    resale_num: str | None = None
    tax_exemption_reason_id: str | None = None
    currency_ref: Ref | None = None
    notes: str | None = None


class Account(_Entity):
    name: str
    account_type: str | None = None
    active: bool = True
    fully_qualified_name: str | None = None


class Item(_Entity):
    sync_token: str
    name: str
    type: str | None = None
    active: bool = True
    description: str | None = None
    income_account_ref: Ref | None = None
    unit_price: Amount | None = None


class SalesItemLineDetail(_Model):
    item_ref: Ref
    qty: Amount | None = None
    unit_price: Amount | None = None
    service_date: dt.date | None = None
    tax_code_ref: Ref | None = None


class Line(_Model):
    """One invoice line; Timebridge writes sales item lines, QuickBooks adds a subtotal line."""

    id: str | None = None
    line_num: int | None = None
    description: str | None = None
    amount: Amount
    detail_type: str
    sales_item_line_detail: SalesItemLineDetail | None = None


class LinkedTxn(_Model):
    txn_id: str
    txn_type: str


InvoiceLifecycle = Literal["draft", "sent", "partially_paid", "paid", "voided"]


class Invoice(_Entity):
    sync_token: str
    doc_number: str | None = None
    txn_date: dt.date | None = None
    due_date: dt.date | None = None
    customer_ref: Ref
    currency_ref: Ref | None = None
    line: tuple[Line, ...] = ()
    total_amt: Amount
    balance: Amount
    private_note: str | None = None
    email_status: str | None = None
    print_status: str | None = None
    linked_txn: tuple[LinkedTxn, ...] = ()

    @property
    def lifecycle(self) -> InvoiceLifecycle:
        """Where the invoice stands, from its amounts and delivery state (deleted ones are gone:
        :meth:`QuickBooksClient.invoice` raises :class:`NotFoundError`, CDC lists them)."""
        if self.total_amt == 0 and (self.private_note or "").startswith("Voided"):
            return "voided"
        if self.balance == 0 and self.total_amt > 0:
            return "paid"
        if self.balance < self.total_amt:
            return "partially_paid"
        if self.email_status == "EmailSent" or self.print_status == "PrintComplete":
            return "sent"
        return "draft"


class DeletedEntity(_Entity):
    """What change data capture says of a deleted entity: its id and when, nothing else."""

    entity_status: Literal["Deleted"] = Field(alias="status")


class DraftLine(BaseModel):
    """One billed line of a draft: ``qty`` (hours) of a service item at ``unit_price``."""

    model_config = ConfigDict(frozen=True)

    item_id: str
    description: str
    qty: Decimal = Field(gt=0)
    unit_price: Decimal = Field(ge=0)
    service_date: dt.date | None = None

    @property
    def amount(self) -> Decimal:
        return (self.qty * self.unit_price).quantize(_CENT, rounding=ROUND_HALF_UP)


class DraftInvoice(BaseModel):
    """What Timebridge exports; see the module docstring for how "draft" maps to QuickBooks."""

    model_config = ConfigDict(frozen=True)

    customer_id: str
    lines: tuple[DraftLine, ...] = Field(min_length=1)
    txn_date: dt.date
    due_date: dt.date | None = None
    """``DueDate``; ``None``: QuickBooks derives it from the customer's terms."""
    doc_number: str | None = Field(default=None, max_length=21)
    """``None``: QuickBooks gives the next number of its own sequence."""
    currency: str | None = None
    """ISO code; ``None`` is the customer's currency."""
    note: str | None = Field(default=None, max_length=4000)
    """Internal memo (``PrivateNote``), never shown to the customer."""

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))


@dataclass(frozen=True)
class Changes:
    """What change data capture reported: live entities in full, deleted ones by id."""

    customers: tuple[Customer, ...]
    items: tuple[Item, ...]
    invoices: tuple[Invoice, ...]
    deleted: tuple[tuple[str, DeletedEntity], ...]
    """(entity name, tombstone) pairs."""
    time: dt.datetime | None
    """The server's time of the answer: the next ``since``."""


CdcEntity = Literal["Customer", "Item", "Invoice"]


class StaleObjectError(ProviderError):
    """Fault ``5010``: the entity changed since its ``SyncToken`` was read."""


class DuplicateNameError(ProviderError):
    """Fault ``6240``: another entity of that kind already has the name."""


class DuplicateDocNumberError(ProviderError):
    """Fault ``6140``: another invoice already has the ``DocNumber``."""


_FAULTS: dict[str, type[ProviderError]] = {
    "610": NotFoundError,
    "5010": StaleObjectError,
    "6140": DuplicateDocNumberError,
    "6240": DuplicateNameError,
}


class _QueryAnswer(_Model, Generic[T]):
    query_response: dict[str, list[T] | int] = {}


class _CdcBlock(_Model):
    query_response: list[dict[str, list[Json] | int]] = []


class _CdcAnswer(_Model):
    cdc_response: list[_CdcBlock] = Field(default=[], alias="CDCResponse")
    time: dt.datetime | None = Field(default=None, alias="time")


_ENTITY_MODELS: dict[str, type[_Entity]] = {"Customer": Customer, "Item": Item, "Invoice": Invoice}


class QuickBooksClient(ProviderClient):
    """One QuickBooks Online company (``realm_id``) of one connection; returns models or raises.

    ``access_token`` is called before every request, so a long listing keeps working across a
    token refresh (pass :meth:`~timebridge_common.outbound.oauth.TokenManager.access_token`).
    Errors: :class:`~timebridge_common.outbound.http.AuthenticationError` (expired, revoked),
    :class:`~timebridge_common.outbound.http.NotFoundError` (missing or deleted, Fault ``610``),
    :class:`StaleObjectError`, :class:`DuplicateNameError`, :class:`DuplicateDocNumberError`,
    other :class:`~timebridge_common.outbound.http.ProviderError` refusals, and
    :class:`~timebridge_common.errors.TransientError` when QuickBooks cannot be reached.
    """

    def __init__(
        self,
        base_url: str,
        realm_id: str,
        access_token: Callable[[], Awaitable[str]],
        *,
        http: httpx.AsyncClient | None = None,
        budget: RequestBudget | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        timeout_s: float = 30.0,
    ) -> None:
        self._realm = realm_id
        self._access_token = access_token
        self._http = ProviderHttp(
            "quickbooks",
            base_url,
            headers={"Accept": "application/json"},
            client=http,
            budget=budget or RequestBudget(*RATE_LIMIT),
            retry=retry,
            timeout_s=timeout_s,
        )

    def customers(
        self, *, changed_since: dt.datetime | None = None, page_size: int = PAGE_LIMIT
    ) -> AsyncIterator[Customer]:
        """Active customers; with ``changed_since``, every customer changed since, including
        those made inactive (archived), oldest change first."""
        if changed_since is None:
            return self._query("Customer", Customer, ["Active = true"], page_size)
        where = ["Active IN (true, false)"]
        return self._query("Customer", Customer, where, page_size, since=changed_since)

    async def customer(self, customer_id: str) -> Customer:
        return await self._read("Customer", customer_id, Customer)

    async def income_accounts(self) -> list[Account]:
        """Active income accounts: where a new service item may post its sales."""
        where = ["AccountType = 'Income'"]
        return [a async for a in self._query("Account", Account, where, PAGE_LIMIT)]

    async def find_item(self, name: str) -> Item | None:
        """The item of that name, active or not (names are unique across both)."""
        where = [f"Name = {_quote(name)}", "Active IN (true, false)"]
        async for item in self._query("Item", Item, where, PAGE_LIMIT):
            return item
        return None

    async def find_or_create_service_item(
        self, name: str, *, income_account_id: str, description: str | None = None
    ) -> Item:
        """The active service item ``name`` for invoice lines, created or reactivated if need be.

        Safe under concurrency: a create that lost the race finds the winner's item, and a
        reactivation that met a newer version reads it again.
        """
        for _ in range(3):
            item = await self.find_item(name)
            if item is None:
                try:
                    return await self._create_item(name, income_account_id, description)
                except DuplicateNameError:
                    continue
            if item.active:
                return item
            try:
                return await self.activate_item(item)
            except StaleObjectError:
                continue
        raise TransientError(f"quickbooks item {name!r} keeps changing; try again later")

    async def activate_item(self, item: Item) -> Item:
        """Make ``item`` active again (a sparse update on the version read: a newer version
        raises :class:`StaleObjectError`)."""
        body = {"Id": item.id, "SyncToken": item.sync_token, "sparse": True, "Active": True}
        return await self._write("Item", body, Item, request_id=_request_id())

    async def create_invoice(self, draft: DraftInvoice, *, request_id: str) -> Invoice:
        """Export ``draft`` as an unsent invoice (see the module docstring on drafts).

        ``request_id`` (at most 50 characters, e.g. Timebridge's invoice id and export attempt)
        makes the create idempotent: after any failure, calling again with the same id returns
        the invoice created the first time instead of a second one.
        """
        lines = [
            Line(
                description=line.description,
                amount=line.amount,
                detail_type="SalesItemLineDetail",
                sales_item_line_detail=SalesItemLineDetail(
                    item_ref=Ref(value=line.item_id),
                    qty=line.qty,
                    unit_price=line.unit_price,
                    service_date=line.service_date,
                ),
            )
            for line in draft.lines
        ]
        body: Json = {
            "CustomerRef": {"value": draft.customer_id},
            "TxnDate": draft.txn_date.isoformat(),
            "Line": [_dump(line) for line in lines],
            "DocNumber": draft.doc_number or "AUTO_GENERATE",
            "EmailStatus": "NotSet",
            "PrintStatus": "NotSet",
        }
        if draft.currency is not None:
            body["CurrencyRef"] = {"value": draft.currency}
        if draft.due_date is not None:
            body["DueDate"] = draft.due_date.isoformat()
        if draft.note is not None:
            body["PrivateNote"] = draft.note
        return await self._write("Invoice", body, Invoice, request_id=request_id)

    async def invoice(self, invoice_id: str) -> Invoice:
        """The invoice now; a deleted one raises :class:`NotFoundError`."""
        return await self._read("Invoice", invoice_id, Invoice)

    def invoices(
        self, *, changed_since: dt.datetime, page_size: int = PAGE_LIMIT
    ) -> AsyncIterator[Invoice]:
        """Invoices changed since, oldest change first (deleted ones show in :meth:`changes`)."""
        return self._query("Invoice", Invoice, [], page_size, since=changed_since)

    async def changes(self, entities: Sequence[CdcEntity], since: dt.datetime) -> Changes:
        """Change data capture: everything of ``entities`` changed since ``since`` (at most 30
        days back, 1000 objects: poll often enough to stay below), deletions included."""
        params = {"entities": ",".join(entities), "changedSince": _timestamp(since)}
        response = await self._get(f"/v3/company/{self._realm}/cdc", params)
        answer = self._http.parse(response, TypeAdapter(_CdcAnswer))
        found: dict[str, list[Any]] = {"Customer": [], "Item": [], "Invoice": []}
        deleted: list[tuple[str, DeletedEntity]] = []
        for block in answer.cdc_response:
            for group in block.query_response:
                for name, rows in group.items():
                    if name not in found or not isinstance(rows, list):
                        continue
                    for row in rows:
                        if row.get("status") == "Deleted":
                            deleted.append((name, self._validate(response, DeletedEntity, row)))
                        else:
                            found[name].append(self._validate(response, _ENTITY_MODELS[name], row))
        return Changes(
            customers=tuple(found["Customer"]),
            items=tuple(found["Item"]),
            invoices=tuple(found["Invoice"]),
            deleted=tuple(deleted),
            time=answer.time,
        )

    async def _create_item(
        self, name: str, income_account_id: str, description: str | None
    ) -> Item:
        body: Json = {
            "Name": name,
            "Type": "Service",
            "IncomeAccountRef": {"value": income_account_id},
        }
        if description is not None:
            body["Description"] = description
        return await self._write("Item", body, Item, request_id=_request_id())

    async def _read(self, entity: str, entity_id: str, model: type[T]) -> T:
        path = f"/v3/company/{self._realm}/{entity.lower()}/{entity_id}"
        response = await self._get(path, {})
        return self._entity(response, entity, model)

    async def _write(self, entity: str, body: Json, model: type[T], *, request_id: str) -> T:
        if not 0 < len(request_id) <= REQUEST_ID_LIMIT:
            raise ValueError(f"a requestid has 1 to {REQUEST_ID_LIMIT} characters")
        response = await self._send(
            "POST",
            f"/v3/company/{self._realm}/{entity.lower()}",
            {"requestid": request_id},
            json=body,
        )
        return self._entity(response, entity, model)

    async def _query(
        self,
        entity: str,
        model: type[E],
        where: Sequence[str],
        page_size: int,
        *,
        since: dt.datetime | None = None,
    ) -> AsyncIterator[E]:
        """Every match, oldest change first, in pages that start at the previous page's last
        change instead of at an offset: a record changed meanwhile moves behind and is read
        again, and none is skipped because others moved. Records of the same instant are told
        apart by id (and by offset, for a run of them longer than a page)."""
        if not 0 < page_size <= PAGE_LIMIT:
            raise ValueError(f"a page has 1 to {PAGE_LIMIT} results")
        adapter = TypeAdapter(_QueryAnswer[model])  # type: ignore[valid-type]
        bound, seen, skip = since, set[str](), 0
        while True:
            conditions = [*where, *([_since(bound)] if bound else [])]
            condition = f" WHERE {' AND '.join(conditions)}" if conditions else ""
            statement = (  # values in ``where`` are quoted by _quote or are this module's own
                f"SELECT * FROM {entity}{condition} ORDERBY MetaData.LastUpdatedTime"  # noqa: S608
                f" STARTPOSITION {1 + skip} MAXRESULTS {page_size}"
            )
            response = await self._get(f"/v3/company/{self._realm}/query", {"query": statement})
            found = self._http.parse(response, adapter).query_response.get(entity, [])
            assert isinstance(found, list)
            page = cast("list[E]", found)
            for record in page:
                if record.id not in seen:
                    yield record
            if len(page) < page_size:
                return
            last = page[-1].changed_at
            ties = {r.id for r in page if r.changed_at == last}
            if last == bound:
                skip, seen = skip + len(page), seen | ties
            else:
                bound, skip, seen = last, 0, ties

    async def _get(self, path: str, params: Mapping[str, str]) -> httpx.Response:
        return await self._send("GET", path, params)

    async def _send(
        self, method: str, path: str, params: Mapping[str, str], *, json: Json | None = None
    ) -> httpx.Response:
        """One API call with a current bearer; a create with a ``requestid`` is idempotent."""
        headers = {"Authorization": f"Bearer {await self._access_token()}"}
        query = {**params, "minorversion": MINOR_VERSION}
        try:
            return await self._http.request(
                method, path, params=query, json=json, headers=headers, idempotent=True
            )
        except ProviderError as exc:
            code = _fault_code(exc.body)
            refined = _FAULTS.get(code or "")
            if refined is None or isinstance(exc, refined):
                raise
            raise refined(exc.provider, exc.method, exc.path, exc.status, exc.body) from exc

    def _entity(self, response: httpx.Response, entity: str, model: type[T]) -> T:
        wrapped = self._http.parse(response, TypeAdapter(dict[str, Any]))
        return self._validate(response, model, wrapped.get(entity))

    def _validate(self, response: httpx.Response, model: type[T], data: Any) -> T:
        try:
            return TypeAdapter(model).validate_python(data)
        except ValidationError as exc:
            raise ProviderError(
                "quickbooks",
                response.request.method,
                response.request.url.path,
                response.status_code,
                f"unexpected answer: {exc}"[:500],
            ) from exc


def _dump(model: BaseModel) -> Json:
    dumped: Json = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


def _fault_code(body: str) -> str | None:
    match = _CODE.search(body)
    return match.group(1) if match else None


def _request_id() -> str:
    return uuid.uuid4().hex


def _quote(value: str) -> str:
    """A query string literal: single quotes, with backslash escapes (QuickBooks' rule)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _timestamp(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("QuickBooks timestamps need a time zone")
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def _since(moment: dt.datetime) -> str:
    return f"MetaData.LastUpdatedTime >= '{_timestamp(moment)}'"


def authorize_url(
    client_id: str, redirect_uri: str, state: str, *, base_url: str = AUTHORIZE_URL
) -> str:
    """Where to send the admin who connects QuickBooks; Intuit comes back to ``redirect_uri``
    with ``code``, ``state`` (check it) and ``realmId`` (the company they chose)."""
    query = {
        "client_id": client_id,
        "response_type": "code",
        "scope": SCOPE,
        "redirect_uri": redirect_uri,
        "state": state,
    }
    return f"{base_url}?{urlencode(query)}"


class QuickBooksTokens(BasicAuthTokenEndpoint):
    """Intuit's token endpoint, the :class:`~timebridge_common.outbound.oauth.TokenEndpoint` of
    a :class:`~timebridge_common.outbound.oauth.TokenManager` (form body, HTTP Basic auth)."""

    provider = "quickbooks"
    default_token_url = TOKEN_URL


def verify_webhook(verifier_token: str, body: bytes, signature: str | None) -> bool:
    """Whether ``intuit-signature`` is the base64 HMAC-SHA256 of the raw body under the app's
    verifier token (compare before parsing: a re-serialised body would not match)."""
    if not signature:
        return False
    mac = hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()
    # Bytes, not text: compare_digest raises on non-ASCII text (a header with such bytes).
    return hmac.compare_digest(base64.b64encode(mac), signature.strip().encode())


@dataclass(frozen=True)
class EntityChange:
    """One change a webhook announced: ids only, so read the entity before acting on it."""

    realm_id: str
    entity: str
    """QuickBooks' entity name: ``Customer``, ``Invoice``, ..."""
    entity_id: str
    operation: str
    """``Create``, ``Update``, ``Delete``, ``Void``, ``Merge`` or ``Emailed``."""
    occurred_at: dt.datetime | None = None
    event_id: str | None = None
    """The CloudEvents id (legacy notifications have none)."""


class _LegacyEntity(BaseModel):
    name: str
    id: str
    operation: str
    last_updated: dt.datetime | None = Field(default=None, alias="lastUpdated")


class _LegacyEvent(BaseModel):
    entities: list[_LegacyEntity] = []


class _LegacyNotification(BaseModel):
    realm_id: str = Field(alias="realmId")
    data_change_event: _LegacyEvent = Field(alias="dataChangeEvent")


class _LegacyPayload(BaseModel):
    event_notifications: list[_LegacyNotification] = Field(alias="eventNotifications")


class _CloudEvent(BaseModel):
    id: str
    type: str
    time: dt.datetime | None = None
    intuitentityid: str
    intuitaccountid: str


_WEBHOOK = TypeAdapter(_LegacyPayload | list[_CloudEvent])


def parse_webhook(body: bytes) -> list[EntityChange]:
    """The changes of a delivery, in either payload format (legacy or CloudEvents)."""
    try:
        payload = _WEBHOOK.validate_json(body)
    except ValidationError as exc:
        raise InvalidMessageError(f"not a QuickBooks webhook: {exc}"[:500]) from exc
    if isinstance(payload, _LegacyPayload):
        return [
            EntityChange(
                realm_id=note.realm_id,
                entity=entity.name,
                entity_id=entity.id,
                operation=entity.operation,
                occurred_at=entity.last_updated,
            )
            for note in payload.event_notifications
            for entity in note.data_change_event.entities
        ]
    return [_cloud_change(event) for event in payload]


def _cloud_change(event: _CloudEvent) -> EntityChange:
    parts = event.type.split(".")
    if len(parts) != 4 or parts[0] != "qbo":
        raise InvalidMessageError(f"unknown QuickBooks event type {event.type!r}")
    return EntityChange(
        realm_id=event.intuitaccountid,
        entity=_ENTITY_NAMES.get(parts[1], parts[1].capitalize()),
        entity_id=event.intuitentityid,
        operation=_CLOUD_OPERATIONS.get(parts[2], parts[2].capitalize()),
        occurred_at=event.time,
        event_id=event.id,
    )
