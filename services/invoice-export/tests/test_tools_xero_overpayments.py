"""Xero's overpayments through the production accounting tool, on its sandbox: money received
beyond what was due (a ``RECEIVE-OVERPAYMENT`` bank transaction) reads as a payment of the
invoices it is allocated to, with its remaining credit unapplied (see ``test_tools_xero``)."""

import datetime as dt
from decimal import Decimal
from typing import Any

import httpx
from accounting_tool_rigs import BASE, TOTAL, draft
from test_tools_xero import XeroRig, xero
from timebridge_providers.kit.ports.accounting import PaymentApplication, ToolPayment

from timebridge_invoice_export.domain.payments import overpaid, settlement, standing

__all__ = ["xero"]  # the fixture, shared with the Xero tool's tests

EXCESS = Decimal("20.00")


async def _api(xero: XeroRig, token: str, method: str, path: str, body: Any = None) -> Any:
    """What the customer's bookkeeper does in Xero, through its Accounting API."""
    headers = {
        "Authorization": f"Bearer {token}",
        "xero-tenant-id": xero.tenant,
        "Accept": "application/json",
    }
    async with httpx.AsyncClient(transport=httpx.ASGITransport(xero.sandbox)) as raw:
        answer = await raw.request(method, f"{BASE}/api.xro/2.0{path}", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _held_after(seen: ToolPayment, invoice_id: str) -> tuple[Decimal, str, Decimal]:
    """The balance, status and overpaid invoice-export derives from this one payment."""
    held = settlement(
        None, seen, invoice_id="i", connection_id="c", provider_invoice_id=invoice_id, currency="X"
    )
    assert held is not None
    balance, status = standing(TOTAL, [held])
    return balance, status, overpaid(TOTAL, [held])


async def test_xero_overpayment_allocated_reads_as_a_payment_with_its_credit(xero: XeroRig) -> None:
    tool, token = await xero.connect(xero.tools(extras={"xero": {"account_code": "200"}}))
    contact = xero.contact("Acme Corp")
    exported = await tool.export(draft(contact))
    invoice_id = exported.external_id
    await xero.admin("POST", f"/invoices/{invoice_id}/approve")
    xero.fake.now += 60
    since = xero.fake.utcnow()
    received = await _api(
        xero,
        token,
        "PUT",
        "/BankTransactions",
        {
            "BankTransactions": [
                {
                    "Type": "RECEIVE-OVERPAYMENT",
                    "Contact": {"ContactID": contact},
                    "BankAccount": {"Code": "090"},
                    "LineItems": [{"Description": "Paid in full, and more", "LineAmount": 317.49}],
                    "Date": "2026-11-25",
                }
            ]
        },
    )
    overpayment_id = received["BankTransactions"][0]["OverpaymentID"]
    unallocated = await tool.changes(since)
    assert [(p.external_id, p.applications, p.unapplied) for p in unallocated.payments] == [
        (overpayment_id, (), TOTAL + EXCESS)
    ]

    xero.fake.now += 60
    since = xero.fake.utcnow()
    allocation = {
        "Invoice": {"InvoiceID": invoice_id},
        "Amount": float(TOTAL),
        "Date": "2026-11-26",
    }
    await _api(
        xero,
        token,
        "PUT",
        f"/Overpayments/{overpayment_id}/Allocations",
        {"Allocations": [allocation]},
    )
    changes = await tool.changes(since)
    (seen,) = changes.payments
    assert (seen.external_id, seen.state, seen.amount, seen.currency, seen.paid_on) == (
        overpayment_id,
        "recorded",
        TOTAL + EXCESS,
        "USD",
        dt.date(2026, 11, 25),
    )
    assert (seen.applications, seen.unapplied) == ((PaymentApplication(invoice_id, TOTAL),), EXCESS)
    assert changes.cursor is not None
    assert [i.status for i in changes.invoices] == ["paid"]
    assert _held_after(seen, invoice_id) == (Decimal(0), "paid", EXCESS)
    # a webhook names the invoice: its payments and its customer's overpayments are read again
    assert [p.external_id for p in await tool.invoice_payments(invoice_id)] == [overpayment_id]
    await tool.invoice(invoice_id)  # as webhooks read it first: its contact is known then
    xero.sent.clear()
    assert [p.external_id for p in await tool.invoice_payments(invoice_id)] == [overpayment_id]
    assert [r.url.path.rsplit("/", 1)[-1] for r in xero.sent] == ["Payments", "Overpayments"]
    assert await tool.payment(overpayment_id) == seen

    # taken back: the overpayment names the invoice no more, which is open again
    xero.fake.now += 60
    since = xero.fake.utcnow()
    listed = await _api(xero, token, "GET", f"/Overpayments/{overpayment_id}")
    allocation_id = listed["Overpayments"][0]["Allocations"][0]["AllocationID"]
    await _api(xero, token, "DELETE", f"/Overpayments/{overpayment_id}/Allocations/{allocation_id}")
    (back,) = (await tool.changes(since)).payments
    assert (back.applications, back.unapplied) == ((), TOTAL + EXCESS)
    assert _held_after(back, invoice_id) == (TOTAL, "sent", Decimal(0))
    assert [p.applications for p in await tool.invoice_payments(invoice_id)] == [()]
    assert (await tool.invoice(invoice_id)).status == "sent"


async def test_xero_partial_payment_then_overpayment_credit_settles_the_rest(xero: XeroRig) -> None:
    """A payment of part of the invoice, then an overpayment allocated what is still due:
    partially paid in between (``AmountCredited`` counts like ``AmountPaid``), paid after."""
    tool, token = await xero.connect(xero.tools(extras={"xero": {"account_code": "200"}}))
    contact = xero.contact("Acme Corp")
    invoice_id = (await tool.export(draft(contact))).external_id
    await xero.admin("POST", f"/invoices/{invoice_id}/approve")
    received = await _api(
        xero,
        token,
        "PUT",
        "/BankTransactions",
        {
            "BankTransactions": [
                {
                    "Type": "RECEIVE-OVERPAYMENT",
                    "Contact": {"ContactID": contact},
                    "BankAccount": {"Code": "090"},
                    "LineItems": [{"Description": "Deposit", "LineAmount": 100}],
                }
            ]
        },
    )
    overpayment_id = received["BankTransactions"][0]["OverpaymentID"]
    allocation = {"Invoice": {"InvoiceID": invoice_id}, "Amount": 100, "Date": "2026-11-26"}
    await _api(
        xero,
        token,
        "PUT",
        f"/Overpayments/{overpayment_id}/Allocations",
        {"Allocations": [allocation]},
    )
    assert (await tool.invoice(invoice_id)).status == "partially_paid"
    await xero.admin("POST", f"/invoices/{invoice_id}/payments", {})  # the rest
    assert (await tool.invoice(invoice_id)).status == "paid"
    found = {p.external_id: p for p in await tool.invoice_payments(invoice_id)}
    assert found[overpayment_id].unapplied == Decimal(0)
    assert sorted(sum((a.amount for a in p.applications), Decimal(0)) for p in found.values()) == [
        Decimal(100),
        TOTAL - 100,
    ]
