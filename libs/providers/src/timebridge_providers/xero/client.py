"""Xero's Accounting API client: contacts and invoices, paged, with Xero's concurrency limit."""

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, TypeVar, Unpack

import httpx
from pydantic import (
    BaseModel,
    Field,
    TypeAdapter,
)

from timebridge_common.outbound.http import ProviderClient, ProviderError
from timebridge_providers.kit.plumbing import ClientOptions, Wire
from timebridge_providers.xero.wire import (
    ACCOUNTING_PATH,
    CONCURRENT_LIMIT,
    IDEMPOTENCY_KEY_MAX,
    INVOICE_STATUSES,
    PAGE_SIZE,
    RATE_LIMIT,
    Contact,
    DraftInvoice,
    Invoice,
    Overpayment,
    Payment,
    T,
    _as_utc,
    _Model,
)

_WIRE = Wire("xero", RATE_LIMIT)


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


class _Payments(_Page):
    payments: tuple[Payment, ...] = ()

    def records(self) -> tuple[Payment, ...]:
        return self.payments


class _Overpayments(_Page):
    overpayments: tuple[Overpayment, ...] = ()

    def records(self) -> tuple[Overpayment, ...]:
        return self.overpayments


P = TypeVar("P", bound=_Page)

_CONTACTS = TypeAdapter(_Contacts)
_INVOICES = TypeAdapter(_Invoices)
_PAYMENTS = TypeAdapter(_Payments)
_OVERPAYMENTS = TypeAdapter(_Overpayments)


def _since(moment: dt.datetime) -> str:
    return _as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


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
        slots: asyncio.Semaphore | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        headers = {"xero-tenant-id": tenant_id, "Accept": "application/json"}
        self._http = _WIRE.http(base_url, headers, options)
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

    def payments(
        self,
        *,
        modified_since: dt.datetime | None = None,
        invoice_id: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> AsyncIterator[Payment]:
        """Payments of every status (deleted ones too), least recently changed first;
        ``invoice_id``: only those of that invoice."""
        params: dict[str, str | int] = {}
        if invoice_id is not None:
            params["where"] = f"Invoice.InvoiceID==guid({_quoted(invoice_id)})"
        return self._pages("/Payments", _PAYMENTS, params, modified_since, page_size)

    async def payment(self, payment_id: str) -> Payment:
        response = await self._request("GET", f"/Payments/{payment_id}")
        return _only(response, self._http.parse(response, _PAYMENTS).payments)

    def overpayments(
        self,
        *,
        modified_since: dt.datetime | None = None,
        contact_id: str | None = None,
        page_size: int = PAGE_SIZE,
    ) -> AsyncIterator[Overpayment]:
        """Customers' overpayments (``RECEIVE-OVERPAYMENT``) with their allocations, least
        recently changed first; ``contact_id``: only that customer's."""
        where = ['Type=="RECEIVE-OVERPAYMENT"']
        if contact_id is not None:
            where.append(f"Contact.ContactID==guid({_quoted(contact_id)})")
        params: dict[str, str | int] = {"where": " AND ".join(where)}
        return self._pages("/Overpayments", _OVERPAYMENTS, params, modified_since, page_size)

    async def overpayment(self, overpayment_id: str) -> Overpayment:
        response = await self._request("GET", f"/Overpayments/{overpayment_id}")
        return _only(response, self._http.parse(response, _OVERPAYMENTS).overpayments)

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
