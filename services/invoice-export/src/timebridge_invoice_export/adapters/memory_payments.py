"""The ``PaymentsTx`` port in memory (``adapters/pg/payments.py`` in Postgres)."""

from typing import TYPE_CHECKING

from timebridge_invoice_export.domain.payments import HeldPayment

if TYPE_CHECKING:
    from timebridge_invoice_export.adapters.memory import State


class MemoryPayments:
    """Payments of a transaction of the in-memory store, keyed as their table is."""

    s: "State"

    async def invoice_payments(self, invoice_id: str) -> list[HeldPayment]:
        found = [p for p in self.s.payments.values() if p.invoice_id == invoice_id]
        return sorted(found, key=lambda p: (p.paid_on, p.provider_payment_id))

    async def payment_rows(self, connection_id: str, provider_payment_id: str) -> list[HeldPayment]:
        found = [
            p
            for (connection, payment, _), p in self.s.payments.items()
            if (connection, payment) == (connection_id, provider_payment_id)
        ]
        return sorted(found, key=lambda p: p.provider_invoice_id)

    async def save_payment(self, payment: HeldPayment) -> None:
        key = (payment.connection_id, payment.provider_payment_id, payment.provider_invoice_id)
        self.s.payments[key] = payment
