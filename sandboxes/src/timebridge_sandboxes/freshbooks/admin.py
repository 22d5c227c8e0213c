"""The admin API: what a user does in FreshBooks' UI (no auth, limits or faults)."""

from typing import Literal

from fastapi import APIRouter, BackgroundTasks

from timebridge_sandboxes.faults import ApiError
from timebridge_sandboxes.freshbooks.deps import Sandbox
from timebridge_sandboxes.freshbooks.rules import _Sandbox
from timebridge_sandboxes.freshbooks.state import EASTERN, Json, _Invoice
from timebridge_sandboxes.freshbooks.wire import _ClientFields, _InvoiceChanges

admin = APIRouter(prefix="/_sandbox", tags=["sandbox"])


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
