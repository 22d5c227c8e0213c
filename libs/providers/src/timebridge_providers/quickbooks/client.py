"""QuickBooks Online's Accounting API client: customers, service items, invoices, changes."""

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Unpack, cast

import httpx
from pydantic import (
    BaseModel,
    TypeAdapter,
    ValidationError,
)

from timebridge_common.errors import TransientError
from timebridge_common.outbound.http import ProviderClient, ProviderError
from timebridge_providers.kit.plumbing import ClientOptions, Wire
from timebridge_providers.quickbooks.wire import (
    _CODE,
    _ENTITY_MODELS,
    _FAULTS,
    MINOR_VERSION,
    PAGE_LIMIT,
    RATE_LIMIT,
    REQUEST_ID_LIMIT,
    Account,
    CdcEntity,
    Changes,
    Customer,
    DeletedEntity,
    DraftInvoice,
    DuplicateNameError,
    E,
    Invoice,
    Item,
    Json,
    Line,
    Payment,
    Ref,
    SalesItemLineDetail,
    StaleObjectError,
    T,
    _CdcAnswer,
    _QueryAnswer,
)

_WIRE = Wire("quickbooks", RATE_LIMIT)


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
        **options: Unpack[ClientOptions],
    ) -> None:
        self._realm = realm_id
        self._access_token = access_token
        self._http = _WIRE.http(base_url, {"Accept": "application/json"}, options)

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

    async def payment(self, payment_id: str) -> Payment:
        """The payment now; a deleted one raises :class:`NotFoundError`."""
        return await self._read("Payment", payment_id, Payment)

    def invoices(
        self, *, changed_since: dt.datetime, page_size: int = PAGE_LIMIT
    ) -> AsyncIterator[Invoice]:
        """Invoices changed since, oldest change first (deleted ones show in :meth:`changes`)."""
        return self._query("Invoice", Invoice, [], page_size, since=changed_since)

    def payments(
        self, *, changed_since: dt.datetime, page_size: int = PAGE_LIMIT
    ) -> AsyncIterator[Payment]:
        """Payments changed since, oldest change first (deleted ones show in :meth:`changes`)."""
        return self._query("Payment", Payment, [], page_size, since=changed_since)

    async def changes(self, entities: Sequence[CdcEntity], since: dt.datetime) -> Changes:
        """Change data capture: everything of ``entities`` changed since ``since`` (at most 30
        days back, 1000 objects: poll often enough to stay below), deletions included."""
        params = {"entities": ",".join(entities), "changedSince": _timestamp(since)}
        response = await self._get(f"/v3/company/{self._realm}/cdc", params)
        answer = self._http.parse(response, TypeAdapter(_CdcAnswer))
        found: dict[str, list[Any]] = {"Customer": [], "Item": [], "Invoice": [], "Payment": []}
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
            payments=tuple(found["Payment"]),
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
