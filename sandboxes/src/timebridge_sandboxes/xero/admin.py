"""The admin API: what a user does in Xero's UI, and the app's webhook subscription."""

from typing import Literal

from fastapi import APIRouter

from timebridge_sandboxes.faults import ApiError
from timebridge_sandboxes.xero.deps import Changing, Sandbox
from timebridge_sandboxes.xero.state import Delivery, Json, Subscription
from timebridge_sandboxes.xero.wire import _ContactIn, _InvoiceIn, _PaymentIn, _TenantIn, _WebhookIn

admin = APIRouter(prefix="/_sandbox", tags=["sandbox"])


@admin.post("/tenants", status_code=201)
async def add_tenant(sandbox: Sandbox, body: _TenantIn) -> Json:
    return {"tenantId": sandbox.state.add_tenant(body.name, currency=body.currency)}


@admin.post("/tenants/{tenant_id}/contacts", status_code=201)
async def ui_add_contact(sandbox: Changing, tenant_id: str, body: _ContactIn) -> Json:
    if tenant_id not in sandbox.state.tenants or body.Name is None:
        raise ApiError(400, "A contact needs a Name and a known tenant")
    contact_id = sandbox.state.add_contact(
        tenant_id,
        body.Name,
        is_customer=body.IsCustomer is not False,
        is_supplier=bool(body.IsSupplier),
        email=body.EmailAddress or "",
        tax_number=body.TaxNumber or "",
        addresses=body.Addresses,
        contact_number=body.ContactNumber,
    )
    return sandbox.contact_json(sandbox.contact(contact_id))


@admin.patch("/contacts/{contact_id}")
async def ui_change_contact(sandbox: Changing, contact_id: str, body: _ContactIn) -> Json:
    """Rename, archive, change the tax number or addresses as a user would."""
    return sandbox.contact_json(sandbox.change_contact(sandbox.contact(contact_id), body))


@admin.patch("/invoices/{invoice_id}")
async def ui_change_invoice(sandbox: Changing, invoice_id: str, body: _InvoiceIn) -> Json:
    """Edit lines (the amount), number, dates or reference as a user would."""
    fields = body.model_copy(update={"Status": None})
    return sandbox.invoice_json(sandbox.update_invoice(sandbox.invoice(invoice_id), fields))


@admin.post("/invoices/{invoice_id}/payments")
async def ui_pay(sandbox: Changing, invoice_id: str, body: _PaymentIn) -> Json:
    """A payment of ``Amount`` (the amount due when left out)."""
    return sandbox.invoice_json(sandbox.pay(sandbox.invoice(invoice_id), body))


@admin.post("/invoices/{invoice_id}/{action}")
async def ui_invoice_action(
    sandbox: Changing, invoice_id: str, action: Literal["approve", "void", "delete"]
) -> Json:
    status = {"approve": "AUTHORISED", "void": "VOIDED", "delete": "DELETED"}[action]
    invoice = sandbox.update_invoice(sandbox.invoice(invoice_id), _InvoiceIn(Status=status))
    return sandbox.invoice_json(invoice)


@admin.put("/webhook")
async def subscribe(sandbox: Sandbox, body: _WebhookIn) -> Json:
    """Set the app's webhook; it is active once the intent-to-receive check passed."""
    subscription = Subscription(body.url, body.key)
    subscription.active = await sandbox.intent_to_receive(subscription)
    sandbox.state.webhook = subscription
    return {"url": body.url, "status": "OK" if subscription.active else "INTENT_TO_RECEIVE_FAILED"}


@admin.get("/deliveries")
async def deliveries(sandbox: Sandbox) -> list[Delivery]:
    return sandbox.state.deliveries
