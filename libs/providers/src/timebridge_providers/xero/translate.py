"""Xero contacts, invoices and payments as the accounting port's types.

- Xero marks a contact ``IsCustomer`` only once it has a sales invoice, so every contact but a
  supplier-only one is a client (a new client must be mirrored before its first export).
- The postal (``POBOX``) address is the billing address, the street address the fallback.
- Status: ``DRAFT`` draft, ``SUBMITTED`` submitted, ``AUTHORISED`` sent (partially_paid once
  ``AmountPaid`` > 0), ``PAID``, ``VOIDED``, ``DELETED``; an unknown one is sent.
- A payment settles one invoice; Xero deletes payments (``DELETED``) rather than voiding them.
- An overpayment (money received beyond what was due) is a payment of the invoices its
  allocations name, each with what was allocated to it (never beyond its amount due); its
  ``RemainingCredit`` is what it leaves unapplied. A deleted allocation is no longer named (the
  invoice it settled settles nothing of it now); a voided overpayment is a voided payment.
"""

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from timebridge_providers.kit.accounting import address, joined, text
from timebridge_providers.kit.ports.accounting import (
    Address as ToolAddress,
)
from timebridge_providers.kit.ports.accounting import (
    PaymentApplication,
    TaxDetails,
    ToolClient,
    ToolInvoice,
    ToolInvoiceStatus,
    ToolPayment,
)
from timebridge_providers.xero.wire import Address, Contact, Invoice, Overpayment, Payment

STATUSES: dict[str, ToolInvoiceStatus] = {
    "DRAFT": "draft",
    "SUBMITTED": "submitted",
    "AUTHORISED": "sent",
    "PAID": "paid",
    "VOIDED": "voided",
    "DELETED": "deleted",
}


def billable(contact: Contact) -> bool:
    """A customer, or a contact that is neither customer nor supplier yet (Xero sets
    ``IsCustomer`` with the first sales invoice only)."""
    return contact.is_customer or not contact.is_supplier


def billing_address(addresses: Sequence[Address]) -> ToolAddress | None:
    ranked = sorted(addresses, key=lambda a: {"POBOX": 0, "STREET": 1}.get(a.address_type or "", 2))
    for found in ranked:
        usable = address(
            line1=found.address_line1,
            line2=joined(found.address_line2, found.address_line3, found.address_line4),
            city=found.city,
            region=found.region,
            postal_code=found.postal_code,
            country=found.country,
        )
        if usable is not None:
            return usable
    return None


def tool_client(contact: Contact) -> ToolClient:
    return ToolClient(
        external_id=contact.contact_id,
        name=contact.name,
        email=text(contact.email_address),
        address=billing_address(contact.addresses),
        tax=TaxDetails(tax_number=text(contact.tax_number)),
        currency=text(contact.default_currency),
        active=contact.active,
        updated_at=contact.updated_date_utc,
    )


def status(invoice: Invoice) -> ToolInvoiceStatus:
    found = STATUSES.get(invoice.status, "sent")
    settled = (invoice.amount_paid or Decimal(0)) + (invoice.amount_credited or Decimal(0))
    if found == "sent" and settled > 0:
        return "partially_paid"
    return found


def tool_invoice(invoice: Invoice) -> ToolInvoice:
    total = invoice.sub_total if invoice.sub_total is not None else invoice.total
    return ToolInvoice(
        external_id=invoice.invoice_id,
        client_external_id=invoice.contact.contact_id,
        number=text(invoice.invoice_number),
        issue_date=invoice.date,
        due_date=invoice.due_date,
        status=status(invoice),
        total=total if total is not None else Decimal(0),
        currency=invoice.currency_code,
        updated_at=invoice.updated_date_utc,
        gross_total=invoice.total,
    )


def tool_payment(payment: Payment) -> ToolPayment | None:
    """A customer payment of a sales invoice; None for any other (bills, refunds)."""
    invoice = payment.invoice
    if invoice is None or invoice.type not in (None, "ACCREC"):
        return None
    changed = payment.updated_date_utc
    return ToolPayment(
        external_id=payment.payment_id,
        state="deleted" if payment.status == "DELETED" else "recorded",
        paid_on=payment.date or (changed.date() if changed else dt.date(1970, 1, 1)),
        currency=invoice.currency_code,
        amount=payment.amount,
        applications=(PaymentApplication(invoice.invoice_id, payment.amount),),
        updated_at=changed,
    )


def tool_overpayment(overpayment: Overpayment) -> ToolPayment | None:
    """A customer's overpayment as a payment of the invoices it is allocated to; None for a
    supplier's (``SPEND-OVERPAYMENT``)."""
    if overpayment.type not in (None, "RECEIVE-OVERPAYMENT"):
        return None
    applied: dict[str, Decimal] = {}
    currency = overpayment.currency_code
    for allocation in overpayment.allocations:
        if allocation.is_deleted or allocation.invoice.type not in (None, "ACCREC"):
            continue
        invoice_id = allocation.invoice.invoice_id
        applied[invoice_id] = applied.get(invoice_id, Decimal(0)) + allocation.amount
        currency = currency or allocation.invoice.currency_code
    changed = overpayment.updated_date_utc
    remaining = overpayment.remaining_credit
    if remaining is None:
        remaining = overpayment.total - sum(applied.values(), Decimal(0))
    return ToolPayment(
        external_id=overpayment.overpayment_id,
        state="voided" if overpayment.status == "VOIDED" else "recorded",
        paid_on=overpayment.date or (changed.date() if changed else dt.date(1970, 1, 1)),
        currency=currency,
        amount=overpayment.total,
        applications=tuple(PaymentApplication(i, a) for i, a in applied.items()),
        unapplied=max(remaining, Decimal(0)),
        updated_at=changed,
    )
