"""The admin API under ``/_sandbox``: what a QuickBooks user does in QuickBooks' screens (no auth,
never rate limited nor faulted); changes send webhooks like API changes do."""

from decimal import Decimal
from typing import Literal

from fastapi import APIRouter, BackgroundTasks
from fastapi.responses import Response
from pydantic import BaseModel, Field

from timebridge_sandboxes.quickbooks.base import Json
from timebridge_sandboxes.quickbooks.elements import conform
from timebridge_sandboxes.quickbooks.routes import SandboxDep, kind_of
from timebridge_sandboxes.quickbooks.state import WebhookTarget

admin = APIRouter(prefix="/_sandbox", tags=["sandbox"])


class _SeedApp(BaseModel):
    client_id: str
    client_secret: str
    redirect_uris: list[str] = Field(min_length=1)


class _SeedCompany(BaseModel):
    name: str
    realm_id: str | None = None
    income_accounts: list[str] = ["Services"]
    items: list[str] = []
    """Service item names, posting to the first income account."""
    customers: list[Json] = []
    """QuickBooks ``Customer`` elements, at least ``DisplayName``."""


class _Seed(BaseModel):
    apps: list[_SeedApp] = []
    companies: list[_SeedCompany] = []
    consent_realm: str | None = None


class _WebhookIn(BaseModel):
    url: str = Field(pattern=r"^https?://")
    verifier_token: str = Field(min_length=1)
    format: Literal["cloudevents", "legacy"] = "cloudevents"


class _PaymentIn(BaseModel):
    amount: Decimal = Field(gt=0)


@admin.post("/seed")
async def seed(sandbox: SandboxDep, body: _Seed) -> Json:
    state = sandbox.state
    for app in body.apps:
        state.add_app(app.client_id, app.client_secret, app.redirect_uris)
    companies: list[Json] = []
    for c in body.companies:
        realm = state.add_company(c.name, c.realm_id)
        accounts = [state.add_account(realm, name) for name in c.income_accounts]
        items = [state.add_item(realm, name, accounts[0]) for name in c.items]
        customers = [state.add_customer(realm, elements) for elements in c.customers]
        companies.append(
            {"realm_id": realm, "accounts": accounts, "items": items, "customers": customers}
        )
    state.consent_realm = body.consent_realm or state.consent_realm
    return {"companies": companies}


@admin.put("/webhook")
async def subscribe(sandbox: SandboxDep, body: _WebhookIn) -> Json:
    sandbox.state.webhook = WebhookTarget(body.url, body.verifier_token, body.format)
    return {"url": body.url, "format": body.format}


@admin.delete("/webhook", status_code=204)
async def unsubscribe(sandbox: SandboxDep) -> Response:
    sandbox.state.webhook = None
    return Response(status_code=204)


@admin.post("/companies/{realm_id}/customers", status_code=201)
async def ui_create_customer(
    sandbox: SandboxDep, realm_id: str, body: Json, background: BackgroundTasks
) -> Json:
    company = sandbox.company(realm_id)
    record, changes = sandbox.create(company, "Customer", conform("Customer", body))
    sandbox.announce_all(background, company, changes)
    return {"Customer": sandbox.render(record)}


@admin.patch("/companies/{realm_id}/{resource}/{record_id}")
async def ui_edit(
    sandbox: SandboxDep,
    *,
    realm_id: str,
    resource: str,
    record_id: str,
    body: Json,
    background: BackgroundTasks,
) -> Json:
    """A user edits an entity: rename or archive a customer (``{"Active": false}``), change an
    invoice's number, date or lines; no ``SyncToken`` needed, but it moves on."""
    company = sandbox.company(realm_id)
    kind = kind_of(resource.removesuffix("s"))
    record = company.live(kind, record_id)
    record, changes = sandbox.update(company, record, conform(kind, body), sparse=True)
    sandbox.announce_all(background, company, changes)
    return {kind: sandbox.render(record)}


@admin.post("/companies/{realm_id}/invoices/{invoice_id}/payments")
async def ui_receive_payment(
    sandbox: SandboxDep,
    realm_id: str,
    invoice_id: str,
    body: _PaymentIn,
    background: BackgroundTasks,
) -> Json:
    """The customer pays part or all of the balance: a ``Payment`` linked to the invoice."""
    company = sandbox.company(realm_id)
    invoice = company.live("Invoice", invoice_id)
    amount = float(body.amount)
    payment = {
        "CustomerRef": {"value": invoice.fields["CustomerRef"]["value"]},
        "TotalAmt": amount,
        "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}],
    }
    _, changes = sandbox.create(company, "Payment", conform("Payment", payment))
    sandbox.announce_all(background, company, changes)
    return {"Invoice": sandbox.render(invoice)}


@admin.post("/companies/{realm_id}/invoices/{invoice_id}/{action}")
async def ui_act(
    sandbox: SandboxDep,
    realm_id: str,
    invoice_id: str,
    action: Literal["send", "void"],
    background: BackgroundTasks,
) -> Json:
    """A user emails the invoice to the customer, or voids it."""
    company = sandbox.company(realm_id)
    record = company.live("Invoice", invoice_id)
    if action == "void":
        record, changes = sandbox.void(company, record)
    else:
        record.fields["EmailStatus"] = "EmailSent"
        sandbox.touch(record)
        changes = [(record, "Emailed")]
    sandbox.announce_all(background, company, changes)
    return {"Invoice": sandbox.render(record)}


@admin.delete("/companies/{realm_id}/invoices/{invoice_id}", status_code=204)
async def ui_delete(
    sandbox: SandboxDep, realm_id: str, invoice_id: str, background: BackgroundTasks
) -> Response:
    company = sandbox.company(realm_id)
    _, changes = sandbox.delete(company, company.live("Invoice", invoice_id))
    sandbox.announce_all(background, company, changes)
    return Response(status_code=204)


@admin.get("/deliveries")
async def deliveries(sandbox: SandboxDep) -> list[Json]:
    return [
        {"payload": d.payload, "status": d.status, "error": d.error}
        for d in sandbox.state.deliveries
    ]
