"""The accounting routes (``/accounting/account/{account_id}/...``): clients, invoices, payments."""

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query

from timebridge_sandboxes.faults import ApiError
from timebridge_sandboxes.freshbooks.deps import Account, Caller, Listing, Sandbox, WithLines
from timebridge_sandboxes.freshbooks.rules import _result
from timebridge_sandboxes.freshbooks.state import Json
from timebridge_sandboxes.freshbooks.wire import _Body, _InvoiceChanges, _InvoiceIn, _validated

api = APIRouter()


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
