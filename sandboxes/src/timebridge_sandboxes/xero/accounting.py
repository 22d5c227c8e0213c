"""The Accounting API routes (``/api.xro/2.0``): contacts, invoices, payments."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from timebridge_sandboxes.xero.deps import (
    Changing,
    ContactsCaller,
    IdempotencyKey,
    InvoicesCaller,
    Listing,
    Sandbox,
)
from timebridge_sandboxes.xero.state import (
    API,
    STATUSES,
    Json,
)
from timebridge_sandboxes.xero.wire import _InvoicesIn

api = APIRouter(prefix=API, tags=["accounting"])


@api.get("/Contacts")
async def list_contacts(
    sandbox: Sandbox,
    caller: ContactsCaller,
    listing: Listing,
    include_archived: Annotated[bool, Query(alias="includeArchived")] = False,
) -> Json:
    found = [
        (c.updated_at, sandbox.contact_json(c))
        for c in sandbox.state.contacts.values()
        if c.tenant_id == caller.tenant_id and (include_archived or c.status != "ARCHIVED")
    ]
    return listing.answer(sandbox, caller, "Contacts", found)


@api.get("/Contacts/{contact_id}")
async def get_contact(sandbox: Sandbox, caller: ContactsCaller, contact_id: str) -> Json:
    found = [sandbox.contact_json(sandbox.contact(contact_id, caller.tenant_id))]
    return sandbox.envelope(caller, "Contacts", found, None, 1)


@api.get("/Invoices")
async def list_invoices(
    sandbox: Sandbox,
    caller: InvoicesCaller,
    listing: Listing,
    statuses: Annotated[str | None, Query(alias="Statuses")] = None,
) -> Json:
    wanted = set(STATUSES[:-1] if statuses is None else statuses.split(","))
    found = [
        (i.updated_at, sandbox.invoice_json(i, lines=listing.page is not None))
        for i in sandbox.state.invoices.values()
        if i.tenant_id == caller.tenant_id and i.status in wanted
    ]
    return listing.answer(sandbox, caller, "Invoices", found)


@api.put("/Invoices")
async def create_invoices(
    sandbox: Changing,
    caller: InvoicesCaller,
    *,
    request: Request,
    body: _InvoicesIn,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    def run() -> Json:
        created = [sandbox.create_invoice(caller.tenant_id, i) for i in body.Invoices]
        records = [sandbox.invoice_json(i) for i in created]
        return sandbox.envelope(caller, "Invoices", records, None, 1)

    return await sandbox.idempotent(caller, request, idempotency_key, run)


@api.get("/Invoices/{invoice_id}")
async def get_invoice(sandbox: Sandbox, caller: InvoicesCaller, invoice_id: str) -> Json:
    found = [sandbox.invoice_json(sandbox.invoice(invoice_id, caller.tenant_id))]
    return sandbox.envelope(caller, "Invoices", found, None, 1)


@api.post("/Invoices/{invoice_id}")
async def update_invoice(
    sandbox: Changing,
    caller: InvoicesCaller,
    *,
    request: Request,
    invoice_id: str,
    body: _InvoicesIn,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    def run() -> Json:
        invoice = sandbox.invoice(invoice_id, caller.tenant_id)
        updated = sandbox.update_invoice(invoice, body.Invoices[0])
        return sandbox.envelope(caller, "Invoices", [sandbox.invoice_json(updated)], None, 1)

    return await sandbox.idempotent(caller, request, idempotency_key, run)
