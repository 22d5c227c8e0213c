"""FreshBooks' payments (api/payments): against an invoice, changed, deleted by ``vis_state``.

Documented: ``POST .../payments/payments`` with ``{"payment": {"invoiceid", "amount":
{"amount"}, "date", "type"}}``; ``GET`` lists and reads them; ``PUT`` changes ``amount``,
``date``, ``type``, ``note``, or only ``vis_state`` when given (1 deletes, 0 restores); a payment
makes its invoice ``partial`` (8) or ``paid`` (4) with ``paid``, ``outstanding`` and
``date_paid``. A payment beyond the outstanding amount is taken whole: the invoice is paid, its
``outstanding`` 0 (never negative), and the payment names the overpayment credit FreshBooks keeps
for the excess (``overpaymentid``; the credit itself is not modelled). Assumed: the payment
keeps its whole amount and the invoice's ``paid`` counts it. A payment to a deleted
invoice is refused with errno 1011 (DeletedResource).
"""

from decimal import Decimal

from timebridge_sandboxes.freshbooks.state import (
    _CENT,
    DELETED_RESOURCE,
    INVALID_VALUE,
    UNKNOWN_RESOURCE,
    FreshBooksState,
    Json,
    Refused,
    _eastern,
    _Invoice,
    _money,
    _next_id,
    _Payment,
    not_found,
)
from timebridge_sandboxes.freshbooks.wire import _PaymentChanges, _PaymentIn, _validated

OVERPAYMENT_CREDITS = 7000
"""Credit ids of overpayments start here (a credit per overpaying payment)."""


class Payments:
    """Payments and what they do to their invoice's status and amounts."""

    state: FreshBooksState

    def payment(self, account_id: str, payment_id: int) -> _Payment:
        found = self.state.payments.get(payment_id)
        if found is None or found.account_id != account_id:
            raise not_found("payment", "paymentid", payment_id)
        return found

    def create_payment(self, account_id: str, given: _PaymentIn) -> _Payment:
        invoice = self.state.invoices.get(given.invoiceid)
        if invoice is None or invoice.account_id != account_id:
            raise Refused(
                400,
                UNKNOWN_RESOURCE,
                "Invoice not found.",
                field="invoiceid",
                object="payment",
                value=given.invoiceid,
            )
        if invoice.vis_state == 1:
            raise Refused(
                400,
                DELETED_RESOURCE,
                "Invoice is deleted.",
                field="invoiceid",
                object="payment",
                value=given.invoiceid,
            )
        amount = given.amount.amount.quantize(_CENT)
        if amount <= 0:
            raise Refused(400, INVALID_VALUE, "Amount must be positive.", field="amount")
        excess = invoice.paid + amount - invoice.amount
        payment = _Payment(
            _next_id(self.state.payments, 4001),
            account_id,
            invoice.id,
            amount,
            given.date,
            given.type,
            given.note,
            self.state.now(),
        )
        if excess > 0:
            payment.overpaymentid = OVERPAYMENT_CREDITS + payment.id
        self.state.payments[payment.id] = payment
        self._settle(invoice)
        return payment

    def change_payment(self, payment: _Payment, fields: Json) -> _Payment:
        invoice = self.state.invoices[payment.invoiceid]
        if "vis_state" in fields:
            if fields["vis_state"] not in (0, 1):
                raise Refused(400, INVALID_VALUE, "vis_state must be 0 or 1", field="vis_state")
            payment.vis_state = fields["vis_state"]
        else:
            changes = _validated(_PaymentChanges, fields, kind="payment")
            if changes.amount is not None:
                payment.amount = changes.amount.amount.quantize(_CENT)
            payment.date = changes.date or payment.date
            payment.type = changes.type or payment.type
            payment.note = payment.note if changes.note is None else changes.note
        payment.updated = self.state.now()
        self._settle(invoice)
        return payment

    def _settle(self, invoice: _Invoice) -> None:
        """The invoice's paid amount and status from its payments."""
        live = [
            p for p in self.state.payments.values() if p.invoiceid == invoice.id and not p.vis_state
        ]
        invoice.paid = sum((p.amount for p in live), Decimal(0))
        if invoice.paid >= invoice.amount and invoice.paid:
            invoice.status = 4
            invoice.date_paid = max(p.date for p in live)
        elif invoice.paid:
            invoice.status, invoice.date_paid = 8, None
        elif invoice.status in (4, 8):
            invoice.status, invoice.date_paid = 2, None
        invoice.updated = self.state.now()

    def payment_json(self, payment: _Payment) -> Json:
        invoice = self.state.invoices[payment.invoiceid]
        return {
            "id": payment.id,
            "paymentid": payment.id,
            "invoiceid": payment.invoiceid,
            "clientid": invoice.customerid,
            "accounting_systemid": payment.account_id,
            "amount": _money(payment.amount, invoice.currency_code),
            "date": payment.date.isoformat(),
            "type": payment.type,
            "note": payment.note,
            "from_credit": False,
            "creditid": None,
            "overpaymentid": payment.overpaymentid,
            "gateway": None,
            "transactionid": None,
            "vis_state": payment.vis_state,
            "updated": _eastern(payment.updated),
        }
