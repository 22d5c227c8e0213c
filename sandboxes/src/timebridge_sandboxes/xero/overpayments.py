"""Xero's overpayments: a customer's money beyond what was due, kept as a credit and allocated.

Documented (xero_accounting.yaml, developer.xero.com Overpayments and BankTransactions pages):
Xero refuses a payment beyond an invoice's amount due; money received beyond it is entered as a
bank transaction of ``Type`` ``RECEIVE-OVERPAYMENT`` (``PUT|POST /BankTransactions`` with
``Contact``, ``BankAccount``, ``LineItems``; the answer carries the ``OverpaymentID``), which
creates an overpayment (``GET /Overpayments``, ``/Overpayments/{id}``: ``Total``,
``RemainingCredit``, ``Allocations``, ``Status`` ``AUTHORISED``, ``PAID`` once fully allocated).
``PUT /Overpayments/{id}/Allocations`` (``{"Allocations": [{"Invoice": {"InvoiceID"}, "Amount",
"Date"}]}``) applies credit to an invoice, which lists it in ``Overpayments`` and counts it in
``AmountCredited``; ``DELETE /Overpayments/{id}/Allocations/{AllocationID}`` takes it back
(answered with the allocation, ``IsDeleted`` true).

Assumed where the documentation is silent: an allocation goes only to an ``AUTHORISED`` sales
invoice of the overpayment's contact and never beyond its amount due or the remaining credit
(the refusal messages are the sandbox's); allocating and deleting an allocation move the
overpayment's ``UpdatedDateUTC``; only ``RECEIVE-OVERPAYMENT`` is simulated (other bank
transactions are refused), the contact is named by ``ContactID``, line items need no account
code (Xero books overpayments to accounts receivable), and overpayments are never voided here.
"""

import uuid
from decimal import ROUND_HALF_UP, Decimal

from pydantic import Field

from timebridge_sandboxes.faults import ApiError
from timebridge_sandboxes.xero.payments import NOT_FOUND
from timebridge_sandboxes.xero.state import (
    CENT,
    Invalid,
    Json,
    XeroState,
    _Allocation,
    _money,
    _ms,
    _ms_day,
    _Overpayment,
)
from timebridge_sandboxes.xero.wire import (
    XeroDate,
    _AccountRef,
    _ContactRef,
    _In,
    _InvoiceRef,
    _LineIn,
    echo,
)

OVERPAYMENT = "RECEIVE-OVERPAYMENT"


class _BankTransactionIn(_In):
    Type: str | None = None
    Contact: _ContactRef | None = None
    BankAccount: _AccountRef | None = None
    LineItems: list[_LineIn] | None = None
    Date: XeroDate | None = None
    Reference: str | None = None
    CurrencyCode: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")


class _BankTransactionsIn(_In):
    BankTransactions: list[_BankTransactionIn] = Field(min_length=1)


class _AllocationIn(_In):
    Invoice: _InvoiceRef | None = None
    Amount: Decimal | None = None
    Date: XeroDate | None = None


class _AllocationsIn(_In):
    Allocations: list[_AllocationIn] = Field(min_length=1)


class Overpayments:
    """Receiving overpayments, allocating their credit to invoices and taking it back."""

    state: XeroState

    def overpayment(self, overpayment_id: str, tenant_id: str) -> _Overpayment:
        found = self.state.overpayments.get(overpayment_id.lower())
        if found is None or found.tenant_id != tenant_id:
            raise ApiError(404, NOT_FOUND)
        return found

    def receive_overpayment(self, tenant_id: str, body: _BankTransactionIn) -> _Overpayment:
        element = echo(body)
        if body.Type != OVERPAYMENT:
            raise Invalid(f"Only {OVERPAYMENT} bank transactions are simulated", element)
        ref = body.Contact
        contact = None if ref is None or not ref.ContactID else ref.ContactID.lower()
        found = self.state.contacts.get(contact or "")
        if found is None or found.tenant_id != tenant_id:
            raise Invalid("A Contact must be specified for this type of transaction", element)
        accounts = self.state.tenants[tenant_id].accounts
        account = body.BankAccount
        code = None
        if account is not None and account.Code == "090":
            code = account.Code
        elif account is not None and account.AccountID:
            code = "090" if accounts["090"] == account.AccountID.lower() else None
        if code is None:
            raise Invalid("The BankAccount must be a valid bank account", element)
        if not body.LineItems:
            raise Invalid("At least one line item is required", element)
        total = Decimal(0)
        for line in body.LineItems:
            amount = line.LineAmount
            if amount is None and line.Quantity is not None and line.UnitAmount is not None:
                amount = line.Quantity * line.UnitAmount
            total += (amount or Decimal(0)).quantize(CENT, ROUND_HALF_UP)
        if total <= 0:
            raise Invalid("The overpayment total must be greater than zero", element)
        overpayment = _Overpayment(
            id=str(uuid.uuid4()),
            bank_transaction_id=str(uuid.uuid4()),
            tenant_id=tenant_id,
            contact_id=found.id,
            account_code=code,
            date=body.Date or self.state.now().date(),
            total=total,
            currency=body.CurrencyCode or self.state.tenants[tenant_id].currency,
            updated_at=self.state.stamp(),
            reference=body.Reference or "",
        )
        self.state.overpayments[overpayment.id] = overpayment
        return overpayment

    def allocate(self, overpayment: _Overpayment, body: _AllocationIn) -> _Allocation:
        element = echo(body)
        ref = body.Invoice
        invoice = None
        if ref is not None and ref.InvoiceID:
            invoice = self.state.invoices.get(ref.InvoiceID.lower())
        if invoice is None or invoice.tenant_id != overpayment.tenant_id:
            raise Invalid("Invoice could not be found", element)
        if invoice.contact_id != overpayment.contact_id:
            raise Invalid("The invoice must belong to the overpayment's contact", element)
        if invoice.status != "AUTHORISED":
            raise Invalid("Invoice not of valid status for modification", element)
        if body.Amount is None or body.Amount <= 0:
            raise Invalid("Allocation amount must be greater than zero", element)
        amount = body.Amount.quantize(CENT, ROUND_HALF_UP)
        if amount > overpayment.remaining_credit:
            raise Invalid("The amount exceeds the remaining credit of the overpayment", element)
        if amount > invoice.amount_due:
            raise Invalid("The amount exceeds the amount outstanding on the invoice", element)
        allocation = _Allocation(
            id=str(uuid.uuid4()),
            overpayment_id=overpayment.id,
            invoice_id=invoice.id,
            amount=amount,
            date=body.Date or self.state.now().date(),
        )
        overpayment.allocations.append(allocation)
        invoice.allocations.append(allocation)
        if invoice.amount_due == 0:
            invoice.status = "PAID"
        overpayment.updated_at = invoice.updated_at = self.state.stamp()
        self.state.announce("INVOICE", "UPDATE", invoice.id, invoice.tenant_id)
        return allocation

    def delete_allocation(self, overpayment: _Overpayment, allocation_id: str) -> _Allocation:
        allocation = next(
            (a for a in overpayment.live_allocations if a.id == allocation_id.lower()), None
        )
        if allocation is None:
            raise ApiError(404, NOT_FOUND)
        allocation.deleted = True
        invoice = self.state.invoices[allocation.invoice_id]
        if invoice.status == "PAID":
            invoice.status = "AUTHORISED"
        overpayment.updated_at = invoice.updated_at = self.state.stamp()
        self.state.announce("INVOICE", "UPDATE", invoice.id, invoice.tenant_id)
        return allocation

    def overpayment_json(self, overpayment: _Overpayment) -> Json:
        contact = self.state.contacts[overpayment.contact_id]
        total = _money(overpayment.total)
        return {
            "OverpaymentID": overpayment.id,
            "ID": overpayment.id,
            "Type": OVERPAYMENT,
            "Reference": overpayment.reference,
            "RemainingCredit": _money(overpayment.remaining_credit),
            "Allocations": [self.allocation_json(a) for a in overpayment.live_allocations],
            "Payments": [],
            "HasAttachments": False,
            "Contact": {"ContactID": contact.id, "Name": contact.name},
            "DateString": f"{overpayment.date.isoformat()}T00:00:00",
            "Date": _ms_day(overpayment.date),
            "Status": overpayment.status,
            "LineAmountTypes": "NoTax",
            "LineItems": [],
            "SubTotal": total,
            "TotalTax": 0.0,
            "Total": total,
            "UpdatedDateUTC": _ms(overpayment.updated_at),
            "CurrencyCode": overpayment.currency,
            "CurrencyRate": 1.0,
        }

    def allocation_json(self, allocation: _Allocation) -> Json:
        invoice = self.state.invoices[allocation.invoice_id]
        body: Json = {
            "AllocationID": allocation.id,
            "Amount": _money(allocation.amount),
            "Date": _ms_day(allocation.date),
            "Invoice": {
                "InvoiceID": invoice.id,
                "InvoiceNumber": invoice.number,
                "Type": "ACCREC",
                "CurrencyCode": invoice.currency,
            },
            "Overpayment": {"OverpaymentID": allocation.overpayment_id},
        }
        if allocation.deleted:
            body["IsDeleted"] = True
        return body

    def bank_transaction_json(self, overpayment: _Overpayment) -> Json:
        contact = self.state.contacts[overpayment.contact_id]
        accounts = self.state.tenants[overpayment.tenant_id].accounts
        total = _money(overpayment.total)
        return {
            "BankTransactionID": overpayment.bank_transaction_id,
            "OverpaymentID": overpayment.id,
            "Type": OVERPAYMENT,
            "Status": "AUTHORISED",
            "Contact": {"ContactID": contact.id, "Name": contact.name},
            "BankAccount": {"AccountID": accounts[overpayment.account_code], "Code": "090"},
            "LineItems": [{"Description": "Overpayment", "LineAmount": total, "Tracking": []}],
            "IsReconciled": False,
            "Date": _ms_day(overpayment.date),
            "Reference": overpayment.reference,
            "CurrencyCode": overpayment.currency,
            "LineAmountTypes": "NoTax",
            "SubTotal": total,
            "TotalTax": 0.0,
            "Total": total,
            "UpdatedDateUTC": _ms(overpayment.updated_at),
            "HasAttachments": False,
        }
