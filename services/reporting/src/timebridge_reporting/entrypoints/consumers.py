"""Kafka subscriptions of the reporting service."""

from timebridge_common.events import EntrySynced, Envelope, InvoiceExported
from timebridge_common.runtime import ServiceRuntime
from timebridge_reporting.adapters.postgres import PostgresReadModels
from timebridge_reporting.handlers.read_models import on_entry_synced, on_invoice_exported


def register(runtime: ServiceRuntime, models: PostgresReadModels) -> None:
    async def entry_synced(envelope: Envelope, event: EntrySynced) -> None:
        await on_entry_synced(models, envelope, event)

    async def invoice_exported(envelope: Envelope, event: InvoiceExported) -> None:
        await on_invoice_exported(models, envelope, event)

    runtime.subscribe(EntrySynced, entry_synced)
    runtime.subscribe(InvoiceExported, invoice_exported)
