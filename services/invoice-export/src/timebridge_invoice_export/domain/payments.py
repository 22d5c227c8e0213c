"""Payments of exported invoices: what is held of each, when a sighting is a change, and the
invoice's standing (balance, paid or partially paid) that follows from them.

A tool's payment may settle several invoices, so what is held is one row per payment and
invoice. A sighting that matches the held row changes nothing (a poll or webhook seeing the
same payment again publishes nothing); any difference raises the row's ``revision``, which
with the payment's ids makes the announcement's event id.
"""

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Literal

from timebridge_invoice_export.domain.accounting import ToolPayment, ToolPaymentState

InvoiceStanding = Literal["sent", "partially_paid", "paid"]

_EVENT_IDS = uuid.UUID("7c0e4d0a-5b8e-4a57-9d0c-2f1f6a1e0b10")


@dataclass(frozen=True, slots=True)
class HeldPayment:
    """What Timebridge holds of one payment's settlement of one of its invoices."""

    invoice_id: str
    connection_id: str
    provider_payment_id: str
    provider_invoice_id: str
    state: ToolPaymentState
    paid_on: dt.date
    currency: str
    payment_amount: Decimal
    applied_amount: Decimal
    """What it settles of this invoice now (0 once voided or deleted)."""
    unapplied_amount: Decimal
    revision: int
    credit_amount: Decimal = Decimal(0)
    """The payment's unapplied credit when this invoice is the only one it settles: the
    customer paid this invoice beyond what it owed (an overpayment's remaining credit after its
    allocation, a payment's unapplied amount). 0 when it settles several invoices (the credit is
    none of them alone) and once voided or deleted."""

    def event_id(self) -> uuid.UUID:
        """The same payment, invoice and revision always announce with the same id."""
        key = f"{self.connection_id}/{self.provider_payment_id}/{self.provider_invoice_id}"
        return uuid.uuid5(_EVENT_IDS, f"{key}/{self.revision}/{self.state}")


def settlement(
    held: HeldPayment | None,
    seen: ToolPayment,
    *,
    invoice_id: str,
    connection_id: str,
    provider_invoice_id: str,
    currency: str,
) -> HeldPayment | None:
    """The row after ``seen`` (the tool's payment now) for one invoice; None if unchanged.

    ``seen`` not naming the invoice any more (a payment moved to another invoice) settles
    nothing of it; a voided or deleted payment settles nothing either, and keeps the date and
    amount it had when it stood.
    """
    if seen.state != "recorded" and held is not None:
        # A voided payment reads as zero and a deleted one as its id only: what it was stays.
        gone = replace(held, state=seen.state, applied_amount=Decimal(0), credit_amount=Decimal(0))
        return None if gone == held else replace(gone, revision=held.revision + 1)
    if seen.state == "deleted":
        return None  # never held: nothing of ours to take back
    applied = sum(
        (a.amount for a in seen.applications if a.invoice_external_id == provider_invoice_id),
        Decimal(0),
    )
    named = {a.invoice_external_id for a in seen.applications}
    credit = seen.unapplied if named == {provider_invoice_id} else Decimal(0)
    if seen.state != "recorded":
        applied = credit = Decimal(0)
    candidate = HeldPayment(
        invoice_id=invoice_id,
        connection_id=connection_id,
        provider_payment_id=seen.external_id,
        provider_invoice_id=provider_invoice_id,
        state=seen.state,
        paid_on=seen.paid_on,
        currency=seen.currency or currency,
        payment_amount=seen.amount,
        applied_amount=applied,
        unapplied_amount=seen.unapplied,
        credit_amount=credit,
        revision=1,
    )
    if held is None:
        return candidate
    if replace(held, revision=1) == candidate:
        return None
    return replace(candidate, revision=held.revision + 1)


def standing(total: Decimal, payments: Iterable[HeldPayment]) -> tuple[Decimal, InvoiceStanding]:
    """The invoice's balance and status from what its standing payments settle.

    ``total`` is what the customer owes in all, tax included, as the tool reports it: a payment
    of the amount before tax leaves the tax due. Paying more never makes the balance negative
    (the excess is :func:`overpaid`).
    """
    paid = _paid(payments)
    balance = max(total - paid, Decimal(0))
    if paid <= 0:
        return balance, "sent"
    return balance, "paid" if balance == 0 else "partially_paid"


def overpaid(total: Decimal, payments: Iterable[HeldPayment]) -> Decimal:
    """What the customer paid for this invoice beyond ``total``, a credit they hold: what the
    standing payments apply beyond it (FreshBooks applies a whole payment to the invoice) plus
    the credit left unapplied by payments of this invoice alone (a Xero overpayment allocated to
    it, which settles at most the amount due and keeps the rest as ``RemainingCredit``; a
    QuickBooks payment's unapplied amount). A payment's credit spent on another invoice later
    names that one too, and stops counting here."""
    standing_payments = [p for p in payments if p.state == "recorded"]
    credit = sum((p.credit_amount for p in standing_payments), Decimal(0))
    return max(_paid(standing_payments) - total, Decimal(0)) + credit


def _paid(payments: Iterable[HeldPayment]) -> Decimal:
    return sum((p.applied_amount for p in payments if p.state == "recorded"), Decimal(0))
