"""The Xero sandbox's overpayments driven by xero-python (see ``test_xero_sdk``): received as a
``RECEIVE-OVERPAYMENT`` bank transaction, allocated to an invoice up to its amount due, the
allocation taken back; every exchange checked against ``xero_accounting.yaml``."""

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from xero_python.accounting import (  # type: ignore[import-untyped]
    Account,
    Allocation,
    Allocations,
    BankTransaction,
    BankTransactions,
    Contact,
    Invoice,
    LineItem,
    Payment,
)
from xero_python.exceptions import BadRequestException  # type: ignore[import-untyped]

from sandboxes.tests.xero_sdk_world import (
    NEEDS_SPECS,
    World,
    error_body,
    make_world,
    new_customer,
    new_invoice,
    world,
)

pytestmark = NEEDS_SPECS
__all__ = ["make_world", "world"]  # the fixtures (from xero_sdk_world)


def _receive(world: World, contact_id: str, amount: float) -> str:
    """The customer's money beyond what was due, entered as Xero documents it."""
    created = world.accounting.create_bank_transactions(
        world.tenant,
        BankTransactions(
            bank_transactions=[
                BankTransaction(
                    type="RECEIVE-OVERPAYMENT",
                    contact=Contact(contact_id=contact_id),
                    bank_account=Account(code="090"),
                    line_items=[LineItem(description="Paid twice", line_amount=amount)],
                    date=dt.date(2026, 11, 25),
                )
            ]
        ),
    ).bank_transactions[0]
    assert created.type == "RECEIVE-OVERPAYMENT"
    overpayment_id: str = str(created.overpayment_id)
    return overpayment_id


def _allocate(world: World, overpayment_id: str, invoice_id: str, amount: float) -> Any:
    allocation = Allocation(
        invoice=Invoice(invoice_id=invoice_id), amount=amount, date=dt.date(2026, 11, 26)
    )
    return world.accounting.create_overpayment_allocations(
        world.tenant, overpayment_id, Allocations(allocations=[allocation])
    ).allocations[0]


def test_an_overpayment_is_received_allocated_and_taken_back(world: World) -> None:
    contact = new_customer(world, "Initech")
    invoice = new_invoice(world, contact.contact_id, status="AUTHORISED", amount=100)
    world.accounting.create_payment(
        world.tenant,
        Payment(
            invoice=Invoice(invoice_id=invoice.invoice_id), account=Account(code="090"), amount=30
        ),
    )
    overpayment_id = _receive(world, contact.contact_id, 90)
    listed = world.accounting.get_overpayments(world.tenant).overpayments
    assert [(o.overpayment_id, o.remaining_credit, o.status) for o in listed] == [
        (overpayment_id, 90.0, "AUTHORISED")
    ]

    with pytest.raises(BadRequestException) as beyond:
        _allocate(world, overpayment_id, invoice.invoice_id, 80)  # 70 is due
    assert "outstanding" in str(error_body(beyond.value))
    allocation = _allocate(world, overpayment_id, invoice.invoice_id, 70)
    assert allocation.amount == 70.0

    paid = world.accounting.get_invoice(world.tenant, invoice.invoice_id).invoices[0]
    assert (paid.status, paid.amount_due, paid.amount_paid, paid.amount_credited) == (
        "PAID",
        Decimal(0),
        Decimal(30),
        Decimal(70),
    )
    assert [(o.overpayment_id, o.applied_amount) for o in paid.overpayments] == [
        (overpayment_id, 70.0)
    ]
    one = world.accounting.get_overpayment(world.tenant, overpayment_id).overpayments[0]
    assert one.remaining_credit == 20.0
    assert [(a.invoice.invoice_id, a.amount) for a in one.allocations] == [
        (invoice.invoice_id, 70.0)
    ]

    where = f'Contact.ContactID==guid("{contact.contact_id}")'
    assert len(world.accounting.get_overpayments(world.tenant, where=where).overpayments) == 1
    taken = world.accounting.delete_overpayment_allocations(
        world.tenant, overpayment_id, one.allocations[0].allocation_id
    )
    assert taken.is_deleted is True
    again = world.accounting.get_invoice(world.tenant, invoice.invoice_id).invoices[0]
    assert (again.status, again.amount_due, again.amount_credited) == (
        "AUTHORISED",
        Decimal(70),
        Decimal(0),
    )
    after = world.accounting.get_overpayment(world.tenant, overpayment_id).overpayments[0]
    assert (after.remaining_credit, after.allocations) == (90.0, [])
    ours = [e for e in world.checked.exchanges if "payments" in e.path or "Bank" in e.path]
    assert len(ours) >= 8
    assert all(e.checked for e in ours)  # so the answers were checked against the spec


def test_an_overpayment_goes_only_to_its_contacts_open_invoices(world: World) -> None:
    contact = new_customer(world, "Hooli")
    other = new_customer(world, "Pied Piper")
    draft = new_invoice(world, contact.contact_id)
    theirs = new_invoice(world, other.contact_id, status="AUTHORISED")
    overpayment_id = _receive(world, contact.contact_id, 50)
    for invoice_id in (draft.invoice_id, theirs.invoice_id):
        with pytest.raises(BadRequestException):
            _allocate(world, overpayment_id, invoice_id, 10)
    open_invoice = new_invoice(world, contact.contact_id, status="AUTHORISED", amount=200)
    with pytest.raises(BadRequestException) as beyond:
        _allocate(world, overpayment_id, open_invoice.invoice_id, 60)  # 50 of credit
    assert "remaining credit" in str(error_body(beyond.value))
    _allocate(world, overpayment_id, open_invoice.invoice_id, 50)
    spent = world.accounting.get_overpayment(world.tenant, overpayment_id).overpayments[0]
    assert (spent.status, spent.remaining_credit) == ("PAID", 0.0)


def test_only_receive_overpayments_are_taken(world: World) -> None:
    contact = new_customer(world, "Vandelay")
    with pytest.raises(BadRequestException) as refused:
        world.accounting.create_bank_transactions(
            world.tenant,
            BankTransactions(
                bank_transactions=[
                    BankTransaction(
                        type="SPEND",
                        contact=Contact(contact_id=contact.contact_id),
                        bank_account=Account(code="090"),
                        line_items=[LineItem(description="Rent", line_amount=5)],
                    )
                ]
            ),
        )
    assert "RECEIVE-OVERPAYMENT" in str(error_body(refused.value))
