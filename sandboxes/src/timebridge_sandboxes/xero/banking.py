"""The Accounting API's overpayment routes: received as bank transactions, listed, allocated."""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from timebridge_sandboxes.xero.accounting import SummarizeErrors, _each, _json_body
from timebridge_sandboxes.xero.deps import (
    Changing,
    IdempotencyKey,
    InvoicesCaller,
    Listing,
    Sandbox,
)
from timebridge_sandboxes.xero.overpayments import _AllocationsIn, _BankTransactionsIn
from timebridge_sandboxes.xero.state import API, Json
from timebridge_sandboxes.xero.wire import validated

banking = APIRouter(prefix=API, tags=["accounting"])


@banking.put("/BankTransactions")
@banking.post("/BankTransactions")
async def receive_money(
    sandbox: Changing,
    caller: InvoicesCaller,
    *,
    request: Request,
    idempotency_key: IdempotencyKey = None,
    summarize: SummarizeErrors = True,
) -> JSONResponse:
    """``RECEIVE-OVERPAYMENT`` transactions, each creating an overpayment (its id answered)."""
    body = validated(_BankTransactionsIn, await _json_body(request))

    def run() -> Json:
        saved = _each(
            body.BankTransactions,
            lambda t: sandbox.bank_transaction_json(
                sandbox.receive_overpayment(caller.tenant_id, t)
            ),
            summarize,
        )
        return sandbox.envelope(caller, "BankTransactions", saved)

    return await sandbox.idempotent(caller, request, idempotency_key, run)


@banking.get("/Overpayments")
async def list_overpayments(sandbox: Sandbox, caller: InvoicesCaller, listing: Listing) -> Json:
    found = [
        (o.updated_at, sandbox.overpayment_json(o))
        for o in sandbox.state.overpayments.values()
        if o.tenant_id == caller.tenant_id
    ]
    return listing.answer(sandbox, caller, "Overpayments", found, "OverpaymentID")


@banking.get("/Overpayments/{overpayment_id}")
async def get_overpayment(sandbox: Sandbox, caller: InvoicesCaller, overpayment_id: str) -> Json:
    found = sandbox.overpayment(overpayment_id, caller.tenant_id)
    return sandbox.envelope(caller, "Overpayments", [sandbox.overpayment_json(found)])


@banking.put("/Overpayments/{overpayment_id}/Allocations")
async def allocate(
    sandbox: Changing,
    caller: InvoicesCaller,
    *,
    request: Request,
    overpayment_id: str,
    idempotency_key: IdempotencyKey = None,
    summarize: SummarizeErrors = True,
) -> JSONResponse:
    body = validated(_AllocationsIn, await _json_body(request))

    def run() -> Json:
        overpayment = sandbox.overpayment(overpayment_id, caller.tenant_id)
        saved = _each(
            body.Allocations,
            lambda a: sandbox.allocation_json(sandbox.allocate(overpayment, a)),
            summarize,
        )
        return sandbox.envelope(caller, "Allocations", saved)

    return await sandbox.idempotent(caller, request, idempotency_key, run)


@banking.delete("/Overpayments/{overpayment_id}/Allocations/{allocation_id}")
async def delete_allocation(
    sandbox: Changing, caller: InvoicesCaller, overpayment_id: str, allocation_id: str
) -> Json:
    """Answered with the allocation itself (``IsDeleted`` true), not in an envelope."""
    overpayment = sandbox.overpayment(overpayment_id, caller.tenant_id)
    return sandbox.allocation_json(sandbox.delete_allocation(overpayment, allocation_id))
