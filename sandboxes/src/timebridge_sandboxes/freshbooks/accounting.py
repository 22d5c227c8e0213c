"""The accounting routes (``/accounting/account/{account_id}/...``): clients, invoices, payments.

Every write wraps its object (``{"client": {...}}``, ``{"invoice": ...}``, ``{"payment": ...}``);
a ``PUT`` carrying ``vis_state`` changes only that (api/active_deleted); an invoice is also
deleted by ``DELETE`` (how FreshBooks' SDKs delete invoices), which is the same soft delete.
Lists take ``page``/``per_page``, ``search[...]`` and ``sort`` (``search.py``), and
``include[]=lines`` for invoices.
"""

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Body, Request

from timebridge_sandboxes.freshbooks.deps import Account, Caller, Listing, Sandbox, WithLines
from timebridge_sandboxes.freshbooks.rules import _result
from timebridge_sandboxes.freshbooks.search import search
from timebridge_sandboxes.freshbooks.state import (
    DELETED_RESOURCE,
    INVALID_VALUE,
    Json,
    Refused,
    _Invoice,
)
from timebridge_sandboxes.freshbooks.wire import (
    _ClientFields,
    _InvoiceChanges,
    _InvoiceIn,
    _PaymentIn,
    _validated,
    inner,
)

api = APIRouter()
ACCOUNT = "/accounting/account/{account_id}"
Payload = Annotated[dict[str, Any], Body()]


def _query(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


@api.get(f"{ACCOUNT}/users/clients")
async def clients(
    sandbox: Sandbox, request: Request, account_id: Account, listing: Listing
) -> Json:
    found = [
        sandbox.client_json(c)
        for c in sandbox.state.clients.values()
        if c.account_id == account_id and listing.keeps(c.vis_state, c.updated)
    ]
    return listing.answer("clients", search(_query(request), found))


@api.post(f"{ACCOUNT}/users/clients")
async def create_client(
    sandbox: Sandbox,
    *,
    caller: Caller,
    account_id: Account,
    body: Payload,
    background: BackgroundTasks,
) -> Json:
    fields = _validated(_ClientFields, inner(body, "client"), kind="client")
    created = sandbox.create_client(account_id, fields)
    sandbox.announce(background, account_id, "client.create", created.id, caller.id)
    return _result("client", sandbox.client_json(created))


@api.get(f"{ACCOUNT}/users/clients/{{client_id}}")
async def client(sandbox: Sandbox, account_id: Account, client_id: int) -> Json:
    return _result("client", sandbox.client_json(sandbox.client(account_id, client_id)))


@api.put(f"{ACCOUNT}/users/clients/{{client_id}}")
async def update_client(
    sandbox: Sandbox,
    *,
    caller: Caller,
    account_id: Account,
    client_id: int,
    body: Payload,
    background: BackgroundTasks,
) -> Json:
    found = sandbox.client(account_id, client_id)
    event = sandbox.change_client(found, inner(body, "client"))
    sandbox.announce(background, account_id, event, found.id, caller.id)
    return _result("client", sandbox.client_json(found))


@api.get(f"{ACCOUNT}/invoices/invoices")
async def invoices(
    sandbox: Sandbox, request: Request, account_id: Account, listing: Listing, lines: WithLines
) -> Json:
    found = [
        sandbox.invoice_json(i, lines=lines)
        for i in sorted(sandbox.state.invoices.values(), key=lambda i: -i.id)
        if i.account_id == account_id and listing.keeps(i.vis_state, i.updated)
    ]
    return listing.answer("invoices", search(_query(request), found))


@api.post(f"{ACCOUNT}/invoices/invoices")
async def create_invoice(
    sandbox: Sandbox,
    *,
    caller: Caller,
    account_id: Account,
    body: Payload,
    background: BackgroundTasks,
    lines: WithLines,
) -> Json:
    fields = _validated(_InvoiceIn, inner(body, "invoice"), kind="invoice")
    invoice = sandbox.create_invoice(account_id, fields)
    sandbox.announce(background, account_id, "invoice.create", invoice.id, caller.id)
    return _result("invoice", sandbox.invoice_json(invoice, lines=lines))


@api.get(f"{ACCOUNT}/invoices/invoices/{{invoice_id}}")
async def invoice(sandbox: Sandbox, account_id: Account, invoice_id: int, lines: WithLines) -> Json:
    found = sandbox.invoice(account_id, invoice_id)
    return _result("invoice", sandbox.invoice_json(found, lines=lines))


def _set_vis_state(sandbox: Sandbox, found: _Invoice, value: Any) -> str:
    if value not in (0, 1, 2):
        raise Refused(400, INVALID_VALUE, "vis_state must be 0, 1 or 2", field="vis_state")
    found.vis_state = value
    found.updated = sandbox.state.now()
    return "invoice.delete" if found.vis_state == 1 else "invoice.update"


@api.put(f"{ACCOUNT}/invoices/invoices/{{invoice_id}}")
async def update_invoice(
    sandbox: Sandbox,
    *,
    caller: Caller,
    account_id: Account,
    invoice_id: int,
    body: Payload,
    background: BackgroundTasks,
    lines: WithLines,
) -> Json:
    """FreshBooks' phases: ``vis_state`` alone if present, else an action, else the fields."""
    found = sandbox.invoice(account_id, invoice_id)
    fields = inner(body, "invoice")
    event = "invoice.update"
    if "vis_state" in fields:
        event = _set_vis_state(sandbox, found, fields["vis_state"])
    elif found.vis_state == 1:
        raise Refused(
            400,
            DELETED_RESOURCE,
            "Invoice is deleted.",
            field="vis_state",
            object="invoice",
            value=found.vis_state,
        )
    elif fields.get("action_mark_as_sent") is True:
        found.status = max(found.status, 2)
        found.updated = sandbox.state.now()
    else:
        sandbox.change_invoice(found, _validated(_InvoiceChanges, fields, kind="invoice"))
    sandbox.announce(background, account_id, event, found.id, caller.id)
    return _result("invoice", sandbox.invoice_json(found, lines=lines))


@api.delete(f"{ACCOUNT}/invoices/invoices/{{invoice_id}}")
async def delete_invoice(
    sandbox: Sandbox,
    *,
    caller: Caller,
    account_id: Account,
    invoice_id: int,
    background: BackgroundTasks,
) -> Json:
    """The same soft delete as ``vis_state`` 1: still readable by id, restorable."""
    found = sandbox.invoice(account_id, invoice_id)
    event = _set_vis_state(sandbox, found, 1)
    sandbox.announce(background, account_id, event, found.id, caller.id)
    return _result("invoice", sandbox.invoice_json(found, lines=False))


@api.get(f"{ACCOUNT}/payments/payments")
async def payments(
    sandbox: Sandbox, request: Request, account_id: Account, listing: Listing
) -> Json:
    found = [
        sandbox.payment_json(p)
        for p in sandbox.state.payments.values()
        if p.account_id == account_id and listing.keeps(p.vis_state, p.updated)
    ]
    return listing.answer("payments", search(_query(request), found))


@api.post(f"{ACCOUNT}/payments/payments")
async def create_payment(
    sandbox: Sandbox,
    *,
    caller: Caller,
    account_id: Account,
    body: Payload,
    background: BackgroundTasks,
) -> Json:
    fields = _validated(_PaymentIn, inner(body, "payment"), kind="payment")
    created = sandbox.create_payment(account_id, fields)
    sandbox.announce(background, account_id, "payment.create", created.id, caller.id)
    sandbox.announce(background, account_id, "invoice.update", created.invoiceid, caller.id)
    return _result("payment", sandbox.payment_json(created))


@api.get(f"{ACCOUNT}/payments/payments/{{payment_id}}")
async def payment(sandbox: Sandbox, account_id: Account, payment_id: int) -> Json:
    return _result("payment", sandbox.payment_json(sandbox.payment(account_id, payment_id)))


@api.put(f"{ACCOUNT}/payments/payments/{{payment_id}}")
async def update_payment(
    sandbox: Sandbox,
    *,
    caller: Caller,
    account_id: Account,
    payment_id: int,
    body: Payload,
    background: BackgroundTasks,
) -> Json:
    fields = inner(body, "payment")
    found = sandbox.change_payment(sandbox.payment(account_id, payment_id), fields)
    event = "payment.delete" if fields.get("vis_state") == 1 else "payment.update"
    sandbox.announce(background, account_id, event, found.id, caller.id)
    sandbox.announce(background, account_id, "invoice.update", found.invoiceid, caller.id)
    return _result("payment", sandbox.payment_json(found))
