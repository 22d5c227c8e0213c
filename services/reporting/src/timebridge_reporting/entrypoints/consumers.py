"""Kafka subscriptions of the reporting service."""

from timebridge_common.events import (
    EntrySynced,
    Envelope,
    InvoiceDeleted,
    InvoiceExported,
    InvoiceStatusChanged,
)
from timebridge_common.runtime import ServiceRuntime
from timebridge_reporting.adapters.postgres import PostgresReadModels
from timebridge_reporting.handlers.read_models import (
    on_entry_synced,
    on_invoice_deleted,
    on_invoice_exported,
    on_invoice_status_changed,
)


def register(runtime: ServiceRuntime, models: PostgresReadModels) -> None:
    async def entry_synced(envelope: Envelope, event: EntrySynced) -> None:
        await on_entry_synced(models, envelope, event)

    async def invoice_exported(envelope: Envelope, event: InvoiceExported) -> None:
        await on_invoice_exported(models, envelope, event)

    async def invoice_status_changed(envelope: Envelope, event: InvoiceStatusChanged) -> None:
        await on_invoice_status_changed(models, envelope, event)

    async def invoice_deleted(envelope: Envelope, event: InvoiceDeleted) -> None:
        await on_invoice_deleted(models, envelope, event)

    runtime.subscribe(EntrySynced, entry_synced)
    runtime.subscribe(InvoiceExported, invoice_exported)
    runtime.subscribe(InvoiceStatusChanged, invoice_status_changed)
    runtime.subscribe(InvoiceDeleted, invoice_deleted)
