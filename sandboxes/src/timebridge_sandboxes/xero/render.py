"""Xero's answer shapes: contacts, invoices, lines and the envelope around them."""

import math
import uuid

from timebridge_sandboxes.xero.state import (
    CHART,
    CHART_UPDATED,
    Json,
    XeroState,
    _Contact,
    _Invoice,
    _Line,
    _money,
    _ms,
    _ms_day,
    _Payment,
)
from timebridge_sandboxes.xero.wire import _Caller


class Rendering:
    """Records as Xero answers them: PascalCase, ``/Date(ms+0000)/``, floats for money."""

    state: XeroState

    @staticmethod
    def contact_json(contact: _Contact) -> Json:
        body: Json = {
            "ContactID": contact.id,
            "ContactStatus": contact.status,
            "Name": contact.name,
            "EmailAddress": contact.email,
            "TaxNumber": contact.tax_number,
            "Addresses": contact.addresses,
            "Phones": [],
            "UpdatedDateUTC": _ms(contact.updated_at),
            "ContactGroups": [],
            "IsSupplier": contact.is_supplier,
            "IsCustomer": contact.is_customer,
            "HasAttachments": False,
            "HasValidationErrors": False,
        }
        if contact.contact_number is not None:
            body["ContactNumber"] = contact.contact_number
        return body

    def invoice_json(self, invoice: _Invoice, *, lines: bool = True) -> Json:
        contact = self.state.contacts[invoice.contact_id]
        body: Json = {
            "Type": "ACCREC",
            "InvoiceID": invoice.id,
            "InvoiceNumber": invoice.number,
            "Reference": invoice.reference,
            "Payments": [
                {
                    "PaymentID": p.id,
                    "Date": _ms_day(p.date),
                    "Amount": _money(p.amount),
                    "Reference": p.reference,
                    "CurrencyRate": 1.0,
                    "HasAccount": False,
                    "HasValidationErrors": False,
                }
                for p in invoice.live_payments
            ],
            "CreditNotes": [],
            "Prepayments": [],
            "Overpayments": self.invoice_overpayments(invoice),
            "AmountDue": _money(invoice.amount_due),
            "AmountPaid": _money(invoice.amount_paid),
            "AmountCredited": _money(invoice.amount_credited),
            "CurrencyRate": 1.0,
            "IsDiscounted": False,
            "HasAttachments": False,
            "HasErrors": False,
            "Contact": {
                "ContactID": contact.id,
                "Name": contact.name,
                "Addresses": [],
                "Phones": [],
                "ContactGroups": [],
                "ContactPersons": [],
                "HasValidationErrors": False,
            },
            "DateString": f"{invoice.date.isoformat()}T00:00:00",
            "Date": _ms_day(invoice.date),
            "Status": invoice.status,
            "LineAmountTypes": invoice.line_amount_types,
            "SubTotal": _money(invoice.sub_total),
            "TotalTax": _money(invoice.total_tax),
            "Total": _money(invoice.total),
            "UpdatedDateUTC": _ms(invoice.updated_at),
            "CurrencyCode": invoice.currency,
        }
        if invoice.due_date is not None:
            body["DueDateString"] = f"{invoice.due_date.isoformat()}T00:00:00"
            body["DueDate"] = _ms_day(invoice.due_date)
        if invoice.status == "PAID" and invoice.settled_on is not None:
            body["FullyPaidOnDate"] = _ms_day(invoice.settled_on)
        if lines:
            body["LineItems"] = [self.line_json(line) for line in invoice.lines]
        return body

    def invoice_overpayments(self, invoice: _Invoice) -> list[Json]:
        """The overpayments credited to the invoice: each standing allocation, with what it
        applied (``AppliedAmount``) and the overpayment's own total."""
        listed = []
        for allocation in invoice.allocations:
            if allocation.deleted:
                continue
            overpayment = self.state.overpayments[allocation.overpayment_id]
            listed.append(
                {
                    "OverpaymentID": overpayment.id,
                    "ID": overpayment.id,
                    "Type": "RECEIVE-OVERPAYMENT",
                    "Date": _ms_day(allocation.date),
                    "Status": overpayment.status,
                    "Total": _money(overpayment.total),
                    "AppliedAmount": _money(allocation.amount),
                    "RemainingCredit": _money(overpayment.remaining_credit),
                    "CurrencyCode": overpayment.currency,
                }
            )
        return listed

    @staticmethod
    def line_json(line: _Line) -> Json:
        body: Json = {
            "LineItemID": line.id,
            "LineAmount": _money(line.line_amount),
            "TaxAmount": _money(line.tax_amount),
            "Tracking": [],
        }
        for name, value in (
            ("Description", line.description),
            ("AccountCode", line.account_code),
            ("ItemCode", line.item_code),
            ("TaxType", line.tax_type),
        ):
            if value is not None:
                body[name] = value
        for name, amount in (("Quantity", line.quantity), ("UnitAmount", line.unit_amount)):
            if amount is not None:
                body[name] = _money(amount)
        return body

    def envelope(
        self,
        caller: _Caller,
        key: str,
        records: list[Json],
        page: int | None = None,
        size: int = 1,
    ) -> Json:
        body: Json = {
            "Id": str(uuid.uuid4()),
            "Status": "OK",
            "ProviderName": self.state.apps[caller.client_id].name,
            "DateTimeUTC": _ms(self.state.now()),
        }
        if page is not None:
            body["pagination"] = {
                "page": page,
                "pageSize": size,
                "pageCount": math.ceil(len(records) / size),
                "itemCount": len(records),
            }
            records = records[(page - 1) * size : page * size]
        body[key] = records
        return body

    def payment_json(self, payment: _Payment) -> Json:
        invoice = self.state.invoices[payment.invoice_id]
        contact = self.state.contacts[invoice.contact_id]
        account_id = self.state.tenants[payment.tenant_id].accounts[payment.account_code]
        return {
            "PaymentID": payment.id,
            "Date": _ms_day(payment.date),
            "BankAmount": _money(payment.amount),
            "Amount": _money(payment.amount),
            "Reference": payment.reference,
            "CurrencyRate": 1.0,
            "PaymentType": "ACCRECPAYMENT",
            "Status": payment.status,
            "UpdatedDateUTC": _ms(payment.updated_at),
            "HasAccount": True,
            "IsReconciled": False,
            "Account": {"AccountID": account_id, "Code": payment.account_code},
            "Invoice": {
                "Type": "ACCREC",
                "InvoiceID": invoice.id,
                "InvoiceNumber": invoice.number,
                "Contact": {"ContactID": contact.id, "Name": contact.name},
                "CurrencyCode": invoice.currency,
            },
            "HasValidationErrors": False,
        }

    def account_json(self, tenant_id: str, code: str) -> Json:
        tenant = self.state.tenants[tenant_id]
        kind = CHART[code]
        body: Json = {
            "AccountID": tenant.accounts[code],
            "Code": code,
            "Name": kind["Name"],
            "Status": "ACTIVE",
            "Type": kind["Type"],
            "Class": kind["Class"],
            "TaxType": "NONE",
            "EnablePaymentsToAccount": False,
            "ShowInExpenseClaims": False,
            "ReportingCode": kind["Class"][:3],
            "HasAttachments": False,
            "UpdatedDateUTC": _ms(CHART_UPDATED),
        }
        if kind["Type"] == "BANK":
            body |= {"BankAccountType": "BANK", "CurrencyCode": tenant.currency}
        return body
