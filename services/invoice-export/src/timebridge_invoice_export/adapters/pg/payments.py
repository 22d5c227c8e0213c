"""Rows of the payments of exported invoices."""

import asyncpg

from timebridge_invoice_export.adapters.pg.rows import Rows
from timebridge_invoice_export.domain.payments import HeldPayment


def _payment(row: asyncpg.Record) -> HeldPayment:
    return HeldPayment(
        invoice_id=row["invoice_id"],
        connection_id=row["connection_id"],
        provider_payment_id=row["provider_payment_id"],
        provider_invoice_id=row["provider_invoice_id"],
        state=row["state"],
        paid_on=row["paid_on"],
        currency=row["currency"],
        payment_amount=row["payment_amount"],
        applied_amount=row["applied_amount"],
        unapplied_amount=row["unapplied_amount"],
        credit_amount=row["credit_amount"],
        revision=row["revision"],
    )


class PaymentRows(Rows):
    """Payments of a transaction (their invoice's row is locked by the caller)."""

    async def invoice_payments(self, invoice_id: str) -> list[HeldPayment]:
        rows = await self.conn.fetch(
            "SELECT * FROM invoice_payments WHERE invoice_id = $1"
            " ORDER BY paid_on, provider_payment_id",
            invoice_id,
        )
        return [_payment(row) for row in rows]

    async def payment_rows(self, connection_id: str, provider_payment_id: str) -> list[HeldPayment]:
        rows = await self.conn.fetch(
            "SELECT * FROM invoice_payments"
            " WHERE connection_id = $1 AND provider_payment_id = $2 ORDER BY provider_invoice_id",
            connection_id,
            provider_payment_id,
        )
        return [_payment(row) for row in rows]

    async def save_payment(self, payment: HeldPayment) -> None:
        await self.conn.execute(
            "INSERT INTO invoice_payments (invoice_id, connection_id, provider_payment_id,"
            " provider_invoice_id, state, paid_on, currency, payment_amount, applied_amount,"
            " unapplied_amount, credit_amount, revision) VALUES"
            " ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            " ON CONFLICT (connection_id, provider_payment_id, provider_invoice_id) DO UPDATE SET"
            " invoice_id = EXCLUDED.invoice_id, state = EXCLUDED.state,"
            " paid_on = EXCLUDED.paid_on, currency = EXCLUDED.currency,"
            " payment_amount = EXCLUDED.payment_amount,"
            " applied_amount = EXCLUDED.applied_amount,"
            " unapplied_amount = EXCLUDED.unapplied_amount,"
            " credit_amount = EXCLUDED.credit_amount, revision = EXCLUDED.revision,"
            " updated_at = now()",
            payment.invoice_id,
            payment.connection_id,
            payment.provider_payment_id,
            payment.provider_invoice_id,
            payment.state,
            payment.paid_on,
            payment.currency,
            payment.payment_amount,
            payment.applied_amount,
            payment.unapplied_amount,
            payment.credit_amount,
            payment.revision,
        )
