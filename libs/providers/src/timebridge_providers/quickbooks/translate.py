"""QuickBooks Online customers, invoices and payments as the accounting port's types, and a
draft line.

QuickBooks has no invoice status field: :attr:`~timebridge_providers.quickbooks.wire.Invoice.
lifecycle` reads it from amounts, balance, delivery state and the "Voided" note. The total is the
sum of the sales lines (before tax). The bill address' third line joins the second.
"""

import datetime as dt
from decimal import Decimal

from timebridge_providers.kit.accounting import address, joined, text
from timebridge_providers.kit.ports.accounting import (
    ExportLine,
    PaymentApplication,
    TaxDetails,
    ToolClient,
    ToolInvoice,
    ToolPayment,
)
from timebridge_providers.quickbooks.wire import Customer, DraftLine, Invoice, Payment


def tool_client(customer: Customer) -> ToolClient:
    bill = customer.bill_addr
    found = (
        None
        if bill is None
        else address(
            line1=bill.line1,
            line2=joined(bill.line2, bill.line3),
            city=bill.city,
            region=bill.country_sub_division_code,
            postal_code=bill.postal_code,
            country=bill.country,
        )
    )
    email = customer.primary_email_addr.address if customer.primary_email_addr else None
    tax_code = customer.default_tax_code_ref.value if customer.default_tax_code_ref else None
    return ToolClient(
        external_id=customer.id,
        name=customer.display_name,
        email=text(email),
        address=found,
        tax=TaxDetails(
            tax_number=text(customer.primary_tax_identifier),
            taxable=customer.taxable,
            tax_code=text(tax_code),
        ),
        currency=customer.currency_ref.value if customer.currency_ref else None,
        active=customer.active,
        updated_at=customer.changed_at,
    )


def tool_invoice(invoice: Invoice) -> ToolInvoice:
    return ToolInvoice(
        external_id=invoice.id,
        client_external_id=invoice.customer_ref.value,
        number=text(invoice.doc_number),
        issue_date=invoice.txn_date,
        due_date=invoice.due_date,
        status=invoice.lifecycle,
        total=sum(
            (line.amount for line in invoice.line if line.detail_type == "SalesItemLineDetail"),
            Decimal(0),
        ),
        currency=invoice.currency_ref.value if invoice.currency_ref else None,
        updated_at=invoice.changed_at,
        gross_total=invoice.total_amt,
    )


def tool_payment(payment: Payment) -> ToolPayment:
    """A payment and the invoices its lines link (a voided one links them at zero)."""
    changed = payment.changed_at
    return ToolPayment(
        external_id=payment.id,
        state="voided" if payment.voided else "recorded",
        paid_on=payment.txn_date or (changed.date() if changed else dt.date(1970, 1, 1)),
        currency=payment.currency_ref.value if payment.currency_ref else None,
        amount=payment.total_amt,
        applications=tuple(
            PaymentApplication(link.txn_id, line.amount)
            for line in payment.line
            for link in line.linked_txn
            if link.txn_type == "Invoice"
        ),
        unapplied=payment.unapplied_amt or Decimal(0),
        updated_at=changed,
    )


def draft_line(line: ExportLine, item_id: str) -> DraftLine:
    return DraftLine(
        item_id=item_id,
        description=line.description,
        qty=line.quantity,
        unit_price=line.unit_price,
        service_date=line.service_date,
    )
