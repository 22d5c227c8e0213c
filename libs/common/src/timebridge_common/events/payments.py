"""Payments of exported invoices, read from the accounting tools (version 1).

One event per payment and invoice it settles (a tool's payment may settle several invoices:
QuickBooks Online ``Payment.Line[].LinkedTxn``, Xero ``Payments``, FreshBooks ``payments``),
again whenever the payment changes; a voided or deleted payment is the same payment with its
``state``. The invoice's balance and status after it let a consumer show "paid" or "partially
paid" without summing payments itself.
"""

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from timebridge_common.events.base import Event, UtcDatetime

_Id = Annotated[str, Field(min_length=1, max_length=200)]
_Money = Annotated[Decimal, Field(decimal_places=4, description="Exact decimal amount")]


class PaymentRecorded(Event):
    """A payment against an exported invoice was recorded, changed, voided or deleted in the
    accounting tool (``state``); ``applied_amount`` is what it settles of this invoice."""

    name: ClassVar[str] = "PaymentRecorded"
    version: ClassVar[int] = 1

    invoice_id: _Id = Field(description="Timebridge's invoice")
    connection_id: _Id
    provider: str = Field(pattern=r"^[a-z][a-z0-9_-]{1,39}$")
    provider_invoice_id: _Id
    provider_payment_id: _Id
    state: Literal["recorded", "voided", "deleted"]
    paid_on: dt.date
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    payment_amount: _Money = Field(description="The whole payment, over every invoice it settles")
    applied_amount: _Money = Field(description="What it settles of this invoice (0 once voided)")
    unapplied_amount: _Money = Field(
        default=Decimal(0), description="An overpayment: what it left unapplied (credit)"
    )
    invoice_balance: _Money = Field(
        description="What the invoice still owes after it, tax included (never below 0)"
    )
    invoice_overpaid: _Money = Field(
        default=Decimal(0),
        description=(
            "What the customer paid for this invoice beyond its total with tax: its payments"
            " applied beyond it plus the credit left unapplied by payments that settle this"
            " invoice alone"
        ),
    )
    invoice_status: Literal["sent", "partially_paid", "paid"] = Field(
        description="The invoice's status that follows from its payments"
    )
    revision: int = Field(ge=1, description="Increases with every change of this payment")
    changed_at: UtcDatetime = Field(description="When Timebridge saw the change")

    def partition_key(self) -> str:
        return f"{self.workspace_id}:{self.invoice_id}"


_NOTICES = uuid.UUID("0b8f5b8e-7a53-4c1e-9f1e-5e2c3d4a6b71")


class AccountingPaymentNotified(Event):
    """An accounting tool said, through a verified webhook, that a payment changed (QuickBooks
    Online's ``Payment`` entity, FreshBooks' ``payment.*`` callbacks; Xero names only the
    invoice, whose ``AccountingChangeNotified`` re-reads its payments).

    Webhooks carry ids only; the consumer re-reads the payment from the tool and applies it as a
    poll would (an unchanged payment publishes nothing, so webhook and poll are one). The event
    id is derived from the notification, so a redelivered webhook is one event.
    """

    name: ClassVar[str] = "AccountingPaymentNotified"
    version: ClassVar[int] = 1

    connection_id: _Id
    provider: str = Field(pattern=r"^[a-z][a-z0-9_-]{1,39}$")
    external_id: _Id = Field(description="The tool's payment id")
    operation: str = Field(max_length=40, description="The tool's word: Create, update, ...")
    occurred_at: UtcDatetime | None = None

    def partition_key(self) -> str:
        return f"{self.connection_id}:payment:{self.external_id}"

    def notification_id(self) -> uuid.UUID:
        when = self.occurred_at.isoformat() if self.occurred_at else "-"
        name = f"{self.connection_id}:payment:{self.external_id}:{self.operation}:{when}"
        return uuid.uuid5(_NOTICES, name)
