"""FreshBooks' Accounting API client: clients, invoices and callbacks of one account."""

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, Protocol, TypeVar, Unpack

import httpx
from pydantic import TypeAdapter

from timebridge_common.outbound.http import OutcomeUnknownError, ProviderClient
from timebridge_providers.freshbooks.wire import (
    ACCOUNTING_ZONE,
    PAGE_SIZE,
    RATE_LIMIT,
    Callback,
    Client,
    Identity,
    Invoice,
    InvoiceDraft,
    Payment,
    T,
    VisState,
    _Model,
)
from timebridge_providers.kit.plumbing import ClientOptions, Wire

_WIRE = Wire("freshbooks", RATE_LIMIT)


class _Envelope(_Model, Generic[T]):
    response: T


class _Result(_Model, Generic[T]):
    result: T


class _OneClient(_Model):
    client: Client


class _OneInvoice(_Model):
    invoice: Invoice


class _OnePayment(_Model):
    payment: Payment


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


class _Payments(_Page):
    payments: list[Payment]


class _Callbacks(_Page):
    callbacks: list[Callback]


_IDENTITY = TypeAdapter(_Envelope[Identity])
_CLIENT = TypeAdapter(_Envelope[_Result[_OneClient]])
_CLIENTS = TypeAdapter(_Envelope[_Result[_Clients]])
_INVOICE = TypeAdapter(_Envelope[_Result[_OneInvoice]])
_INVOICES = TypeAdapter(_Envelope[_Result[_Invoices]])
_PAYMENTS = TypeAdapter(_Envelope[_Result[_Payments]])
_PAYMENT = TypeAdapter(_Envelope[_Result[_OnePayment]])
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
        **options: Unpack[ClientOptions],
    ) -> None:
        self._account_id = account_id
        self._access_token = access_token
        self._http = _WIRE.http(base_url, {"Accept": "application/json"}, options)

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

    async def payment(self, payment_id: int) -> Payment:
        """One payment, also when it was deleted (``vis_state`` 1)."""
        path = self._accounting(f"payments/payments/{payment_id}")
        return (await self._call("GET", path, _PAYMENT)).response.result.payment

    async def payments(
        self, *, updated_since: dt.datetime | None = None, invoice_id: int | None = None
    ) -> AsyncIterator[Payment]:
        """Payments changed since then (``invoice_id``: of that invoice only), deleted ones
        included (a list hides them by default)."""
        path = self._accounting("payments/payments")
        of_invoice = {} if invoice_id is None else {"search[invoiceid]": str(invoice_id)}
        for hidden in ({}, {"search[vis_state]": VisState.DELETED.value}):
            params = {**_updated_min(updated_since), **hidden, **of_invoice}
            pages = self._pages(path, _PAYMENTS, params, PAGE_SIZE)
            async for payment in _since(pages, updated_since, lambda page: page.payments):
                yield payment

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
