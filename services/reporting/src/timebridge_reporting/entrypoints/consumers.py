"""Kafka subscriptions of the reporting service."""

from collections.abc import Awaitable, Callable

from timebridge_common.events import (
    ClientChanged,
    EntrySynced,
    Envelope,
    InvoiceDeleted,
    InvoiceExported,
    InvoiceStatusChanged,
    TimeEntryLogged,
)
from timebridge_common.events.base import Event
from timebridge_common.events.budgets import BudgetChanged
from timebridge_common.events.contracts import (
    BudgetThresholdCrossed,
    ContractSigned,
    MilestoneReached,
)
from timebridge_common.events.health import ConnectionHealthChanged
from timebridge_common.runtime import ServiceRuntime
from timebridge_reporting.adapters.budgets import PostgresBudgets
from timebridge_reporting.adapters.connection_health import PostgresConnectionHealth
from timebridge_reporting.adapters.facts import PostgresFacts
from timebridge_reporting.adapters.postgres import PostgresReadModels
from timebridge_reporting.handlers.connection_health import on_connection_health_changed
from timebridge_reporting.handlers.facts import (
    on_client_changed,
    on_invoice_amounts,
    on_time_entry_logged,
)
from timebridge_reporting.handlers.read_models import (
    on_entry_synced,
    on_invoice_deleted,
    on_invoice_exported,
    on_invoice_status_changed,
)

TriggerHandler = Callable[[Envelope, Event], Awaitable[None]]


def register(
    runtime: ServiceRuntime,
    models: PostgresReadModels,
    facts: PostgresFacts,
    trigger: TriggerHandler,
) -> None:
    """One subscription per topic (one consumer group); reports' read models and triggers ride
    along (each with its own inbox claim, so each is applied once)."""

    async def entry_synced(envelope: Envelope, event: EntrySynced) -> None:
        await on_entry_synced(models, envelope, event)
        await facts.seen(envelope)

    async def invoice_exported(envelope: Envelope, event: InvoiceExported) -> None:
        await on_invoice_exported(models, envelope, event)
        await on_invoice_amounts(facts, envelope, event)
        await trigger(envelope, event)

    async def invoice_status_changed(envelope: Envelope, event: InvoiceStatusChanged) -> None:
        await on_invoice_status_changed(models, envelope, event)
        await facts.seen(envelope)
        await trigger(envelope, event)

    async def invoice_deleted(envelope: Envelope, event: InvoiceDeleted) -> None:
        await on_invoice_deleted(models, envelope, event)
        await facts.seen(envelope)

    async def time_entry_logged(envelope: Envelope, event: TimeEntryLogged) -> None:
        await on_time_entry_logged(facts, envelope, event)

    async def client_changed(envelope: Envelope, event: ClientChanged) -> None:
        await on_client_changed(facts, envelope, event)

    runtime.subscribe(EntrySynced, entry_synced)
    runtime.subscribe(InvoiceExported, invoice_exported)
    runtime.subscribe(InvoiceStatusChanged, invoice_status_changed)
    runtime.subscribe(InvoiceDeleted, invoice_deleted)
    runtime.subscribe(TimeEntryLogged, time_entry_logged)
    runtime.subscribe(ClientChanged, client_changed)
    assert runtime.pool is not None
    health_log = PostgresConnectionHealth(runtime.pool)

    async def connection_health_changed(envelope: Envelope, event: ConnectionHealthChanged) -> None:
        await on_connection_health_changed(health_log, envelope, event)

    runtime.subscribe(ConnectionHealthChanged, connection_health_changed)
    budgets = PostgresBudgets(runtime.pool)

    async def budget_changed(envelope: Envelope, event: BudgetChanged) -> None:
        await budgets.record(envelope, event)

    runtime.subscribe(BudgetChanged, budget_changed)
    for contract_event in (ContractSigned, MilestoneReached, BudgetThresholdCrossed):
        runtime.subscribe(contract_event, trigger)
