"""Payments of exported invoices, as the tools have them, announced as ``PaymentRecorded``.

A payment the tool shows (recorded, changed, voided or deleted) is held per invoice it settles
(:mod:`~timebridge_invoice_export.domain.payments`); each settlement that changed is stored and
announced in the outbox of one transaction that holds the invoice's row locked, so a poll and a
webhook seeing the same payment serialise and the second sees no change. Payments of invoices
that are not Timebridge's exported ones are ignored.
"""

import datetime as dt
from decimal import Decimal

import structlog

from timebridge_common.events import Envelope
from timebridge_common.events.payments import PaymentRecorded
from timebridge_invoice_export.domain.accounting import ToolPayment
from timebridge_invoice_export.domain.connections import AccountingConnection
from timebridge_invoice_export.domain.payments import (
    HeldPayment,
    InvoiceStanding,
    overpaid,
    settlement,
    standing,
)
from timebridge_invoice_export.handlers.ports import Clock
from timebridge_invoice_export.handlers.stores import Store

log = structlog.get_logger(__name__)

PRODUCER = "invoice-export"


class PaymentSync:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def apply_payment(
        self, connection: AccountingConnection, seen: ToolPayment, cause: Envelope | None = None
    ) -> int:
        """Record what the tool shows of one payment; returns the events published (0: seen
        before unchanged, or none of its invoices are ours)."""
        async with self._store.tx() as tx:
            held = {
                p.provider_invoice_id: p
                for p in await tx.payment_rows(connection.connection_id, seen.external_id)
            }
            named = [a.invoice_external_id for a in seen.applications]
            # Invoices it settled before and no longer names settle nothing of it now.
            tool_ids = list(dict.fromkeys([*named, *held]))
            published = 0
            for provider_invoice_id in tool_ids:
                invoice = await tx.invoice_by_tool_id(connection.connection_id, provider_invoice_id)
                if invoice is None or invoice.status not in ("exported", "deleted"):
                    continue
                changed = settlement(
                    held.get(provider_invoice_id),
                    seen,
                    invoice_id=invoice.invoice_id,
                    connection_id=connection.connection_id,
                    provider_invoice_id=provider_invoice_id,
                    currency=invoice.currency or "XXX",
                )
                if changed is None:
                    continue
                await tx.save_payment(changed)
                payments = await tx.invoice_payments(invoice.invoice_id)
                total = invoice.due_total()
                after = standing(total, payments)
                excess = overpaid(total, payments)
                if excess != invoice.overpaid:
                    await tx.update_invoice(invoice.invoice_id, overpaid=excess)
                event = _recorded(
                    connection, invoice.workspace_id, changed, (*after, excess), self._clock()
                )
                envelope = Envelope.for_event(
                    event, producer=PRODUCER, event_id=changed.event_id(), cause=cause
                )
                await tx.publish([(event, envelope)])
                published += 1
                log.info(
                    "payment recorded",
                    invoice_id=invoice.invoice_id,
                    state=changed.state,
                    applied=str(changed.applied_amount),
                    invoice_status=after[1],
                    revision=changed.revision,
                )
        return published


def _recorded(
    connection: AccountingConnection,
    workspace_id: str,
    payment: HeldPayment,
    standing_after: tuple[Decimal, InvoiceStanding, Decimal],
    now: dt.datetime,
) -> PaymentRecorded:
    balance, status, excess = standing_after
    return PaymentRecorded(
        workspace_id=workspace_id,
        invoice_id=payment.invoice_id,
        connection_id=connection.connection_id,
        provider=connection.provider,
        provider_invoice_id=payment.provider_invoice_id,
        provider_payment_id=payment.provider_payment_id,
        state=payment.state,
        paid_on=payment.paid_on,
        currency=payment.currency,
        payment_amount=payment.payment_amount,
        applied_amount=payment.applied_amount,
        unapplied_amount=payment.unapplied_amount,
        invoice_balance=balance,
        invoice_status=status,
        invoice_overpaid=excess,
        revision=payment.revision,
        changed_at=now,
    )
