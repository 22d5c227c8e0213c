"""Xero's payments: against an approved sales invoice, into a bank account, deleted not removed.

Documented: ``PUT /Payments`` (``{"Payments": [...]}``) and ``POST /Payments`` (one payment, as
xero-python's ``create_payment`` sends it) with ``Invoice`` (``InvoiceID`` or ``InvoiceNumber``),
``Account`` (``AccountID`` or ``Code``), ``Date`` and ``Amount``; ``GET /Payments`` (``where``,
``order``, ``page``, ``If-Modified-Since``) and ``/Payments/{id}``; ``POST /Payments/{id}`` with
``{"Status": "DELETED"}`` deletes one (an invoice it had paid is ``AUTHORISED`` again). A payment
goes only to an ``AUTHORISED`` invoice and never beyond its amount due; the invoice is ``PAID`` once
nothing is due. Assumed: the demo chart's accounts are ``090`` (bank) and ``200`` (sales), and
payments may go into either.
"""

import datetime as dt
import uuid
from decimal import ROUND_HALF_UP, Decimal

from timebridge_sandboxes.faults import ApiError
from timebridge_sandboxes.xero.state import CENT, Invalid, Json, XeroState, _Invoice, _Payment
from timebridge_sandboxes.xero.wire import _ApiPaymentIn, _PaymentIn, echo

NOT_FOUND = "The resource you're looking for cannot be found"
BANK_ACCOUNT = "090"


class Payments:
    """Recording and deleting payments, and what they do to their invoice."""

    state: XeroState

    def payment(self, payment_id: str, tenant_id: str) -> _Payment:
        payment = self.state.payments.get(payment_id.lower())
        if payment is None or payment.tenant_id != tenant_id:
            raise ApiError(404, NOT_FOUND)
        return payment

    def record_payment(
        self,
        invoice: _Invoice,
        amount: Decimal,
        *,
        date: dt.date | None = None,
        account_code: str = BANK_ACCOUNT,
        reference: str = "",
        element: Json | None = None,
    ) -> _Payment:
        due = invoice.amount_due
        amount = amount.quantize(CENT, ROUND_HALF_UP)
        if invoice.status != "AUTHORISED":
            raise Invalid("Invoice not of valid status for modification", element)
        if amount <= 0:
            raise Invalid("Payment amount must be greater than zero", element)
        if amount > due:
            raise Invalid("Payment amount exceeds the amount outstanding on this document", element)
        payment = _Payment(
            id=str(uuid.uuid4()),
            tenant_id=invoice.tenant_id,
            invoice_id=invoice.id,
            account_code=account_code,
            date=date or self.state.now().date(),
            amount=amount,
            updated_at=self.state.stamp(),
            reference=reference,
        )
        invoice.payments.append(payment)
        self.state.payments[payment.id] = payment
        if amount == due:
            invoice.status = "PAID"
        invoice.updated_at = self.state.stamp()
        self.state.announce("INVOICE", "UPDATE", invoice.id, invoice.tenant_id)
        return payment

    def pay(self, invoice: _Invoice, body: _PaymentIn) -> _Invoice:
        """A user records a payment in Xero's UI (the amount due when none is given)."""
        due = invoice.amount_due
        try:
            self.record_payment(invoice, body.Amount or due, date=body.Date)
        except Invalid as exc:
            raise ApiError(400, exc.message) from None
        return invoice

    def create_payment(self, tenant_id: str, body: _ApiPaymentIn) -> _Payment:
        element = echo(body)
        ref = body.Invoice
        invoice = None
        for candidate in self.state.invoices.values():
            if ref is None or candidate.tenant_id != tenant_id:
                continue
            if (ref.InvoiceID and candidate.id == ref.InvoiceID.lower()) or (
                not ref.InvoiceID and ref.InvoiceNumber and candidate.number == ref.InvoiceNumber
            ):
                invoice = candidate
        if invoice is None:
            raise Invalid("Invoice could not be found", element)
        accounts = self.state.tenants[tenant_id].accounts
        account = body.Account
        code = None
        if account is not None and account.Code in accounts:
            code = account.Code
        elif account is not None and account.AccountID:
            code = next((c for c, i in accounts.items() if i == account.AccountID.lower()), None)
        if code is None:
            given = account.Code if account and account.Code else "(none)"
            raise Invalid(f"Account code '{given}' is not a valid code for this document.", element)
        if body.Amount is None:
            raise Invalid("Payment amount must be specified", element)
        return self.record_payment(
            invoice,
            body.Amount,
            date=body.Date,
            account_code=code,
            reference=body.Reference or "",
            element=element,
        )

    def delete_payment(self, payment: _Payment) -> _Payment:
        if payment.status == "DELETED":
            raise Invalid("This payment has already been deleted", {"PaymentID": payment.id})
        payment.status = "DELETED"
        payment.updated_at = self.state.stamp()
        invoice = self.state.invoices[payment.invoice_id]
        if invoice.status == "PAID":
            invoice.status = "AUTHORISED"
        invoice.updated_at = self.state.stamp()
        self.state.announce("INVOICE", "UPDATE", invoice.id, invoice.tenant_id)
        return payment
