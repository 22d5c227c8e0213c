"""FreshBooks clients, invoices and payments as the accounting port's types, and a draft line.

Status: ``vis_state`` 1 is deleted, else ``status`` 1 draft, 4/5 (paid, auto-paid) paid, 8
partial; 2/3 (sent, viewed), 0 (disputed), 6/7 (auto-bill retry, failed) and any new code are an
invoice in the client's hands: sent, or partially_paid when part of it is paid. Lines are named
``Hours`` or ``Expenses`` with the text as description. A payment settles one invoice; a
deleted one (``vis_state`` 1) is FreshBooks' only way to take a payment back.
"""

import datetime as dt
from decimal import Decimal

from timebridge_providers.freshbooks.wire import (
    Client,
    Invoice,
    InvoiceStatus,
    Line,
    Money,
    Payment,
    VisState,
)
from timebridge_providers.kit.accounting import address, text
from timebridge_providers.kit.ports.accounting import (
    ExportLine,
    PaymentApplication,
    TaxDetails,
    ToolClient,
    ToolInvoice,
    ToolInvoiceStatus,
    ToolPayment,
)

LINE_NAMES = {"time": "Hours", "expense": "Expenses"}


def tool_client(client: Client) -> ToolClient:
    return ToolClient(
        external_id=str(client.id),
        name=text(client.name) or text(client.email) or f"FreshBooks client {client.id}",
        email=text(client.email),
        address=address(
            line1=client.p_street,
            line2=client.p_street2,
            city=client.p_city,
            region=client.p_province,
            postal_code=client.p_code,
            country=client.p_country,
        ),
        tax=TaxDetails(tax_number=text(client.vat_number), tax_code=text(client.vat_name)),
        currency=text(client.currency_code),
        active=client.vis_state == VisState.ACTIVE,
        updated_at=client.updated,
    )


def status(invoice: Invoice) -> ToolInvoiceStatus:
    if invoice.deleted:
        return "deleted"
    if invoice.status == InvoiceStatus.DRAFT:
        return "draft"
    if invoice.status in (InvoiceStatus.PAID, InvoiceStatus.AUTO_PAID):
        return "paid"
    paid = invoice.paid.amount if invoice.paid is not None else Decimal(0)
    if invoice.status == InvoiceStatus.PARTIAL or paid > 0:
        return "partially_paid"
    return "sent"


def tool_invoice(invoice: Invoice) -> ToolInvoice:
    return ToolInvoice(
        external_id=str(invoice.id),
        client_external_id=str(invoice.customerid),
        number=text(invoice.invoice_number),
        issue_date=invoice.create_date,
        due_date=invoice.due_date,
        status=status(invoice),
        total=sum((line.amount.amount for line in invoice.lines if line.amount), Decimal(0))
        if invoice.lines
        else invoice.amount.amount,
        currency=invoice.currency_code,
        updated_at=invoice.updated,
        gross_total=invoice.amount.amount,
    )


def draft_line(line: ExportLine, currency: str) -> Line:
    return Line(
        name=LINE_NAMES[line.kind],
        description=line.description,
        qty=line.quantity,
        unit_cost=Money(amount=line.unit_price, code=currency),
    )


def tool_payment(payment: Payment) -> ToolPayment:
    changed = payment.updated
    return ToolPayment(
        external_id=str(payment.id),
        state="deleted" if payment.vis_state == VisState.DELETED else "recorded",
        paid_on=payment.date or (changed.date() if changed else dt.date(1970, 1, 1)),
        currency=payment.amount.code,
        amount=payment.amount.amount,
        applications=(PaymentApplication(str(payment.invoiceid), payment.amount.amount),),
        updated_at=changed,
    )
