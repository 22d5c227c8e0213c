"""Consumers' handlers: each event applied once (inbox), its audit record in the same commit.

Time entries feed budgets (:mod:`.budgets`); clients are mirrored for contracts; sync outcomes
and invoices are linked into the audit trail (an invoice's entries are kept so its later status
changes are found by entry too).
"""

from timebridge_common.events import (
    ClientChanged,
    EntrySynced,
    Envelope,
    InvoiceDeleted,
    InvoiceExported,
    InvoiceStatusChanged,
    TimeEntryLogged,
)
from timebridge_common.events.contracts import ContractObserved, MilestoneObserved
from timebridge_common.events.payments import PaymentRecorded
from timebridge_contracts.handlers.budgets import Clock, apply_entry, entry_key
from timebridge_contracts.handlers.observed import apply_contract, apply_milestone
from timebridge_contracts.handlers.ports import AuditFacts, Store

CONSUMER = "contracts"


class EventHandlers:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    async def time_entry_logged(self, envelope: Envelope, event: TimeEntryLogged) -> None:
        async with self._store.once(f"{CONSUMER}:entries", envelope) as tx:
            if tx is not None:
                await apply_entry(tx, envelope, event, self._clock())

    async def contract_observed(self, envelope: Envelope, event: ContractObserved) -> None:
        async with self._store.once(f"{CONSUMER}:observed-contracts", envelope) as tx:
            if tx is not None:
                await apply_contract(tx, envelope, event, self._clock())

    async def milestone_observed(self, envelope: Envelope, event: MilestoneObserved) -> None:
        async with self._store.once(f"{CONSUMER}:observed-milestones", envelope) as tx:
            if tx is not None:
                await apply_milestone(tx, envelope, event, self._clock())

    async def client_changed(self, envelope: Envelope, event: ClientChanged) -> None:
        async with self._store.once(f"{CONSUMER}:clients", envelope) as tx:
            if tx is not None:
                await tx.put_client(
                    event.workspace_id,
                    event.client_id,
                    name=event.display_name,
                    provider=event.provider,
                    status=event.status,
                    revision=event.revision,
                )

    async def entry_synced(self, envelope: Envelope, event: EntrySynced) -> None:
        async with self._store.once(f"{CONSUMER}:synced", envelope) as tx:
            if tx is None:
                return
            ids = [entry_key(event.source, event.source_external_id)]
            if event.target_external_id:
                ids.append(entry_key(event.target, event.target_external_id))
            facts = {
                "integration_id": event.integration_id,
                "source": event.source,
                "source_external_id": event.source_external_id,
                "target": event.target,
                "target_external_id": event.target_external_id,
                "status": event.status,
                "operation": event.operation,
                "reason": event.reason,
                "synced_at": event.synced_at.isoformat(),
            }
            await tx.audit(
                event.workspace_id,
                AuditFacts("entry.synced", facts, entry_ids=ids, event_id=str(envelope.event_id)),
                self._clock(),
            )

    async def invoice_exported(self, envelope: Envelope, event: InvoiceExported) -> None:
        async with self._store.once(f"{CONSUMER}:invoices", envelope) as tx:
            if tx is None:
                return
            await tx.put_invoice_entries(
                event.workspace_id, event.invoice_id, event.entry_ids, event.client_id
            )
            lines = [
                {
                    "description": line.description,
                    "kind": line.kind,
                    "project_id": line.project_id,
                    "user_id": line.user_id,
                    "quantity_hours": str(line.quantity_hours),
                    "unit_price": str(line.unit_price),
                    "amount": str(line.amount),
                    "rate_source": line.rate_source,
                    "rounding": None if line.rounding is None else line.rounding.model_dump(),
                    "entry_ids": list(line.entry_ids),
                }
                for line in event.lines
            ]
            facts = {
                "provider": event.provider,
                "provider_invoice_id": event.provider_invoice_id,
                "number": event.number,
                "client_id": event.client_id,
                "currency": event.currency,
                "period_start": event.period_start.isoformat(),
                "period_end": event.period_end.isoformat(),
                "total": str(event.total),
                "lines": lines,
                "exported_at": event.exported_at.isoformat(),
            }
            await tx.audit(
                event.workspace_id,
                AuditFacts(
                    "invoice.exported",
                    facts,
                    entry_ids=list(event.entry_ids),
                    invoice_id=event.invoice_id,
                    client_ids=[event.client_id],
                    event_id=str(envelope.event_id),
                ),
                self._clock(),
            )

    async def invoice_status_changed(self, envelope: Envelope, event: InvoiceStatusChanged) -> None:
        async with self._store.once(f"{CONSUMER}:invoice-status", envelope) as tx:
            if tx is None:
                return
            entries, client = await tx.invoice_entries(event.workspace_id, event.invoice_id)
            facts = {
                "provider": event.provider,
                "status": event.status,
                "number": event.number,
                "total": str(event.total),
                "exported_total": str(event.exported_total),
                "currency": event.currency,
                "amount_changed": event.amount_changed,
                "changed_at": event.changed_at.isoformat(),
            }
            await tx.audit(
                event.workspace_id,
                AuditFacts(
                    "invoice.status_changed",
                    facts,
                    entry_ids=entries,
                    invoice_id=event.invoice_id,
                    client_ids=[client] if client else [],
                    event_id=str(envelope.event_id),
                ),
                self._clock(),
            )

    async def payment_recorded(self, envelope: Envelope, event: PaymentRecorded) -> None:
        """A payment (or its voiding) on the trail of the invoice's entries and client."""
        async with self._store.once(f"{CONSUMER}:payments", envelope) as tx:
            if tx is None:
                return
            entries, client = await tx.invoice_entries(event.workspace_id, event.invoice_id)
            facts = {
                "provider": event.provider,
                "provider_payment_id": event.provider_payment_id,
                "state": event.state,
                "paid_on": event.paid_on.isoformat(),
                "currency": event.currency,
                "payment_amount": str(event.payment_amount),
                "applied_amount": str(event.applied_amount),
                "unapplied_amount": str(event.unapplied_amount),
                "invoice_balance": str(event.invoice_balance),
                "invoice_status": event.invoice_status,
                "revision": event.revision,
                "changed_at": event.changed_at.isoformat(),
            }
            await tx.audit(
                event.workspace_id,
                AuditFacts(
                    f"payment.{event.state}",
                    facts,
                    entry_ids=entries,
                    invoice_id=event.invoice_id,
                    client_ids=[client] if client else [],
                    event_id=str(envelope.event_id),
                ),
                self._clock(),
            )

    async def invoice_deleted(self, envelope: Envelope, event: InvoiceDeleted) -> None:
        async with self._store.once(f"{CONSUMER}:invoice-deleted", envelope) as tx:
            if tx is None:
                return
            _, client = await tx.invoice_entries(event.workspace_id, event.invoice_id)
            facts = {"was_exported": event.was_exported, "deleted_at": event.deleted_at.isoformat()}
            await tx.audit(
                event.workspace_id,
                AuditFacts(
                    "invoice.deleted",
                    facts,
                    entry_ids=list(event.entry_ids),
                    invoice_id=event.invoice_id,
                    client_ids=[client] if client else [],
                    event_id=str(envelope.event_id),
                ),
                self._clock(),
            )
