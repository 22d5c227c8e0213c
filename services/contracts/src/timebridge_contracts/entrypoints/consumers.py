"""Kafka subscriptions of the contracts service (one consumer group per topic)."""

from timebridge_common.events import (
    ClientChanged,
    EntrySynced,
    InvoiceDeleted,
    InvoiceExported,
    InvoiceStatusChanged,
    TimeEntryLogged,
)
from timebridge_common.events.contracts import ContractObserved, MilestoneObserved
from timebridge_common.events.payments import PaymentRecorded
from timebridge_common.runtime import ServiceRuntime
from timebridge_contracts.handlers.events import EventHandlers


def register(runtime: ServiceRuntime, handlers: EventHandlers) -> None:
    runtime.subscribe(TimeEntryLogged, handlers.time_entry_logged)
    runtime.subscribe(ClientChanged, handlers.client_changed)
    runtime.subscribe(EntrySynced, handlers.entry_synced)
    runtime.subscribe(InvoiceExported, handlers.invoice_exported)
    runtime.subscribe(InvoiceStatusChanged, handlers.invoice_status_changed)
    runtime.subscribe(InvoiceDeleted, handlers.invoice_deleted)
    runtime.subscribe(ContractObserved, handlers.contract_observed)
    runtime.subscribe(MilestoneObserved, handlers.milestone_observed)
    runtime.subscribe(PaymentRecorded, handlers.payment_recorded)
