"""The Accounting API routes (``/api.xro/2.0``): contacts, invoices, payments."""

import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from timebridge_sandboxes.xero.deps import (
    Changing,
    ContactsCaller,
    IdempotencyKey,
    InvoicesCaller,
    Listing,
    Sandbox,
    SettingsCaller,
)
from timebridge_sandboxes.xero.state import (
    API,
    CHART_UPDATED,
    STATUSES,
    Invalid,
    Json,
)
from timebridge_sandboxes.xero.wire import (
    _ApiPaymentIn,
    _ContactsIn,
    _InvoiceIn,
    _InvoicesIn,
    _PaymentChange,
    validated,
)

api = APIRouter(prefix=API, tags=["accounting"])


SummarizeErrors = Annotated[bool, Query(alias="summarizeErrors")]


def _each(items: Sequence[Any], save: Callable[[Any], Json], summarize: bool) -> list[Json]:
    """Each element saved and rendered. By default a refused element refuses the request
    (``400``, the elements before it kept); with ``summarizeErrors=false`` every element is
    answered, ``StatusAttributeString`` ``OK`` or ``ERROR`` with its ``ValidationErrors``."""
    answered = []
    for item in items:
        try:
            record = save(item)
        except Invalid as exc:
            if summarize:
                raise
            errors = [{"Message": exc.message}]
            answered.append(
                {**exc.element, "StatusAttributeString": "ERROR", "ValidationErrors": errors}
            )
            continue
        answered.append(record if summarize else {**record, "StatusAttributeString": "OK"})
    return answered


@api.get("/Contacts")
async def list_contacts(
    sandbox: Sandbox,
    caller: ContactsCaller,
    listing: Listing,
    include_archived: Annotated[bool, Query(alias="includeArchived")] = False,
    search_term: Annotated[str | None, Query(alias="searchTerm")] = None,
) -> Json:
    """``searchTerm`` looks in ``Name``, ``ContactNumber`` and ``EmailAddress``, ignoring case."""
    found = [
        (c.updated_at, sandbox.contact_json(c))
        for c in sandbox.state.contacts.values()
        if c.tenant_id == caller.tenant_id
        and (include_archived or c.status != "ARCHIVED")
        and _found(search_term, c.name, c.contact_number, c.email)
    ]
    return listing.answer(sandbox, caller, "Contacts", found, "ContactID")


@api.get("/Contacts/{contact_id}")
async def get_contact(sandbox: Sandbox, caller: ContactsCaller, contact_id: str) -> Json:
    found = [sandbox.contact_json(sandbox.contact(contact_id, caller.tenant_id))]
    return sandbox.envelope(caller, "Contacts", found)


@api.put("/Contacts")
@api.post("/Contacts")
async def save_contacts(
    sandbox: Changing,
    caller: ContactsCaller,
    *,
    request: Request,
    body: _ContactsIn,
    idempotency_key: IdempotencyKey = None,
    summarize: SummarizeErrors = True,
) -> JSONResponse:
    """``PUT`` creates every contact; ``POST`` updates those it names and creates the rest."""
    save = sandbox.create_contact if request.method == "PUT" else sandbox.save_contact

    def run() -> Json:
        saved = _each(
            body.Contacts, lambda c: sandbox.contact_json(save(caller.tenant_id, c)), summarize
        )
        return sandbox.envelope(caller, "Contacts", saved)

    return await sandbox.idempotent(caller, request, idempotency_key, run)


@api.post("/Contacts/{contact_id}")
async def update_contact(
    sandbox: Changing,
    caller: ContactsCaller,
    *,
    request: Request,
    contact_id: str,
    body: _ContactsIn,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    def run() -> Json:
        contact = sandbox.contact(contact_id, caller.tenant_id)
        changed = sandbox.change_contact(contact, body.Contacts[0])
        return sandbox.envelope(caller, "Contacts", [sandbox.contact_json(changed)])

    return await sandbox.idempotent(caller, request, idempotency_key, run)


def _found(term: str | None, *fields: str | None) -> bool:
    return term is None or any(term.casefold() in (f or "").casefold() for f in fields)


def _csv(value: str | None) -> set[str] | None:
    return None if value is None else {v.strip() for v in value.split(",") if v.strip()}


@api.get("/Invoices")
async def list_invoices(  # noqa: PLR0917 - FastAPI passes query parameters by keyword
    sandbox: Sandbox,
    caller: InvoicesCaller,
    listing: Listing,
    statuses: Annotated[str | None, Query(alias="Statuses")] = None,
    numbers: Annotated[str | None, Query(alias="InvoiceNumbers")] = None,
    contact_ids: Annotated[str | None, Query(alias="ContactIDs")] = None,
    search_term: Annotated[str | None, Query(alias="searchTerm")] = None,
) -> Json:
    """``Statuses``, ``InvoiceNumbers``, ``ContactIDs`` and ``IDs`` are comma-separated lists;
    without ``Statuses`` deleted invoices are left out; ``searchTerm`` looks in the number and
    the reference."""
    wanted = _csv(statuses) or set(STATUSES[:-1])
    named, contacts = _csv(numbers), _csv(contact_ids)
    found = [
        (i.updated_at, sandbox.invoice_json(i, lines=listing.page is not None))
        for i in sandbox.state.invoices.values()
        if i.tenant_id == caller.tenant_id
        and i.status in wanted
        and (named is None or i.number in named)
        and (contacts is None or i.contact_id in {c.lower() for c in contacts})
        and _found(search_term, i.number, i.reference)
    ]
    return listing.answer(sandbox, caller, "Invoices", found, "InvoiceID")


@api.put("/Invoices")
@api.post("/Invoices")
async def save_invoices(
    sandbox: Changing,
    caller: InvoicesCaller,
    *,
    request: Request,
    body: _InvoicesIn,
    idempotency_key: IdempotencyKey = None,
    summarize: SummarizeErrors = True,
) -> JSONResponse:
    """``PUT`` creates; ``POST`` also updates the invoices whose ``InvoiceID`` is given."""
    creating = request.method == "PUT"

    def save(given: _InvoiceIn) -> Json:
        fields = given.model_copy(update={"InvoiceID": None}) if creating else given
        return sandbox.invoice_json(sandbox.save_invoice(caller.tenant_id, fields))

    def run() -> Json:
        return sandbox.envelope(caller, "Invoices", _each(body.Invoices, save, summarize))

    return await sandbox.idempotent(caller, request, idempotency_key, run)


@api.get("/Invoices/{invoice_id}")
async def get_invoice(sandbox: Sandbox, caller: InvoicesCaller, invoice_id: str) -> Json:
    found = [sandbox.invoice_json(sandbox.invoice(invoice_id, caller.tenant_id))]
    return sandbox.envelope(caller, "Invoices", found)


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
        given = body.Invoices[0].model_copy(update={"InvoiceID": invoice_id})
        updated = sandbox.save_invoice(caller.tenant_id, given)
        return sandbox.envelope(caller, "Invoices", [sandbox.invoice_json(updated)])

    return await sandbox.idempotent(caller, request, idempotency_key, run)


@api.get("/Accounts")
async def list_accounts(sandbox: Sandbox, caller: SettingsCaller, listing: Listing) -> Json:
    """The chart of accounts (the sandbox's: a bank account and a sales account)."""
    found = [
        (CHART_UPDATED, sandbox.account_json(caller.tenant_id, code))
        for code in sandbox.state.tenants[caller.tenant_id].accounts
    ]
    return listing.answer(sandbox, caller, "Accounts", found, "AccountID")


@api.get("/Payments")
async def list_payments(sandbox: Sandbox, caller: InvoicesCaller, listing: Listing) -> Json:
    found = [
        (p.updated_at, sandbox.payment_json(p))
        for p in sandbox.state.payments.values()
        if p.tenant_id == caller.tenant_id
    ]
    return listing.answer(sandbox, caller, "Payments", found, "PaymentID")


@api.put("/Payments")
@api.post("/Payments")
async def create_payments(
    sandbox: Changing,
    caller: InvoicesCaller,
    *,
    request: Request,
    idempotency_key: IdempotencyKey = None,
    summarize: SummarizeErrors = True,
) -> JSONResponse:
    """``{"Payments": [...]}``, or one payment as xero-python's ``create_payment`` posts it."""
    raw = await _json_body(request)
    items = raw.get("Payments") if "Payments" in raw else [raw]
    if not isinstance(items, list) or not items:
        raise Invalid("Payments must be a non-empty list", raw)
    payments = [validated(_ApiPaymentIn, item) for item in items]

    def run() -> Json:
        saved = _each(
            payments,
            lambda p: sandbox.payment_json(sandbox.create_payment(caller.tenant_id, p)),
            summarize,
        )
        return sandbox.envelope(caller, "Payments", saved)

    return await sandbox.idempotent(caller, request, idempotency_key, run)


@api.get("/Payments/{payment_id}")
async def get_payment(sandbox: Sandbox, caller: InvoicesCaller, payment_id: str) -> Json:
    found = sandbox.payment(payment_id, caller.tenant_id)
    return sandbox.envelope(caller, "Payments", [sandbox.payment_json(found)])


@api.post("/Payments/{payment_id}")
async def delete_payment(
    sandbox: Changing,
    caller: InvoicesCaller,
    *,
    request: Request,
    payment_id: str,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A payment is deleted by posting ``{"Status": "DELETED"}`` (also inside ``Payments``)."""
    raw = await _json_body(request)
    listed = raw.get("Payments")
    given = listed[0] if isinstance(listed, list) and listed else raw
    validated(_PaymentChange, given)

    def run() -> Json:
        deleted = sandbox.delete_payment(sandbox.payment(payment_id, caller.tenant_id))
        return sandbox.envelope(caller, "Payments", [sandbox.payment_json(deleted)])

    return await sandbox.idempotent(caller, request, idempotency_key, run)


async def _json_body(request: Request) -> Json:
    try:
        raw = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise Invalid("The request body is not JSON") from None
    if not isinstance(raw, dict):
        raise Invalid("The request body must be a JSON object")
    return raw
