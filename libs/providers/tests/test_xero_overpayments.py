"""Xero overpayments as the accounting port's payments: the translation (on the shapes of
Xero's OpenAPI examples) and the client's reads against the sandbox, answers checked against
``xero_accounting.yaml``."""

import datetime as dt
from decimal import Decimal
from typing import Any

from timebridge_providers.kit.ports.accounting import PaymentApplication
from timebridge_providers.xero.translate import tool_overpayment
from timebridge_providers.xero.wire import Overpayment

from libs.providers.tests.test_xero_client_spec import accounting, assert_valid, specs
from libs.providers.tests.xero_world import BASE, World, draft, new_world

__all__ = ["specs"]  # the fixture

INVOICE = "c45720a1-ade3-4a38-a064-d15489be6841"


def _overpayment(**fields: Any) -> Overpayment:
    return Overpayment.model_validate(
        {
            "OverpaymentID": "ed7f6041-c915-4667-bd1d-54c48e92161e",
            "Type": "RECEIVE-OVERPAYMENT",
            "Status": "AUTHORISED",
            "Date": "/Date(1552348800000+0000)/",
            "Total": 3000.00,
            "RemainingCredit": 2999.00,
            "CurrencyCode": "NZD",
            "UpdatedDateUTC": "/Date(1552428952890+0000)/",
            "Allocations": [
                {
                    "Amount": 1.00,
                    "Date": "/Date(1552348800000+0000)/",
                    "Invoice": {"InvoiceID": INVOICE},
                }
            ],
        }
        | fields
    )


def test_an_overpayment_pays_what_its_standing_allocations_name() -> None:
    seen = tool_overpayment(_overpayment())
    assert seen is not None
    assert (seen.state, seen.amount, seen.unapplied, seen.currency, seen.paid_on) == (
        "recorded",
        Decimal(3000),
        Decimal(2999),
        "NZD",
        dt.date(2019, 3, 12),
    )
    assert seen.applications == (PaymentApplication(INVOICE, Decimal(1)),)
    two = [{"Amount": 1.5, "Invoice": {"InvoiceID": INVOICE}}] * 2
    deleted = [{"Amount": 7, "Invoice": {"InvoiceID": INVOICE}, "IsDeleted": True}]
    summed = tool_overpayment(_overpayment(Allocations=two + deleted, RemainingCredit=None))
    assert summed is not None
    assert (summed.applications, summed.unapplied) == (
        (PaymentApplication(INVOICE, Decimal(3)),),
        Decimal(2997),
    )
    voided = tool_overpayment(_overpayment(Status="VOIDED"))
    assert voided is not None
    assert voided.state == "voided"
    assert tool_overpayment(_overpayment(Type="SPEND-OVERPAYMENT")) is None


async def test_the_client_reads_a_customers_overpayments(specs: dict[str, Any]) -> None:
    world: World = await new_world()
    client = world.client()
    customer, other = world.customer(), world.customer("Globex")
    invoice = await client.create_invoice(draft(customer), idempotency_key="tb-over")
    async with world.admin() as admin:
        await admin.post(f"/invoices/{invoice.invoice_id}/approve")
    async with world.http() as http:
        headers = {
            "Authorization": f"Bearer {world.access}",
            "xero-tenant-id": world.tenant,
            "Accept": "application/json",
        }
        for contact, amount in ((customer, 500), (other, 5)):
            body = {
                "BankTransactions": [
                    {
                        "Type": "RECEIVE-OVERPAYMENT",
                        "Contact": {"ContactID": contact},
                        "BankAccount": {"Code": "090"},
                        "LineItems": [{"Description": "Overpaid", "LineAmount": amount}],
                    }
                ]
            }
            answer = await http.put(
                f"{BASE}/api.xro/2.0/BankTransactions", json=body, headers=headers
            )
            assert answer.status_code == 200, answer.text
            assert_valid(accounting(specs, "BankTransactions"), answer.json())
        (theirs,) = [o async for o in client.overpayments(contact_id=customer)]
        allocation = {
            "Invoice": {"InvoiceID": invoice.invoice_id},
            "Amount": 100,
            "Date": "2026-11-26",
        }
        path = f"{BASE}/api.xro/2.0/Overpayments/{theirs.overpayment_id}/Allocations"
        answer = await http.put(path, json={"Allocations": [allocation]}, headers=headers)
        assert answer.status_code == 200, answer.text
        assert_valid(accounting(specs, "Allocations"), answer.json())
        listed = await http.get(f"{BASE}/api.xro/2.0/Overpayments", headers=headers)
        assert_valid(accounting(specs, "Overpayments"), listed.json())
    assert len([o async for o in client.overpayments()]) == 2
    one = await client.overpayment(theirs.overpayment_id)
    assert (one.total, one.remaining_credit, one.status) == (
        Decimal(500),
        Decimal(400),
        "AUTHORISED",
    )
    assert [(a.invoice.invoice_id, a.amount) for a in one.allocations] == [
        (invoice.invoice_id, Decimal(100))
    ]
    sent = next(r for r in world.sent if r.url.path.endswith("/Overpayments"))
    assert sent.url.params["where"] == (
        f'Type=="RECEIVE-OVERPAYMENT" AND Contact.ContactID==guid("{customer}")'
    )
