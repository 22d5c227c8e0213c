"""Projecting events into the reporting read models, each event exactly once."""

from timebridge_common.events import (
    EntrySynced,
    Envelope,
    InvoiceDeleted,
    InvoiceExported,
    InvoiceStatusChanged,
)
from timebridge_reporting.adapters.postgres import PostgresReadModels

SYNC_CONSUMER = "reporting.entry-synced"
INVOICE_CONSUMER = "reporting.invoice-exported"
STATUS_CONSUMER = "reporting.invoice-status-changed"
DELETED_CONSUMER = "reporting.invoice-deleted"


async def on_entry_synced(
    models: PostgresReadModels, envelope: Envelope, event: EntrySynced
) -> bool:
    return await models.record_sync(SYNC_CONSUMER, envelope, event)


async def on_invoice_exported(
    models: PostgresReadModels, envelope: Envelope, event: InvoiceExported
) -> bool:
    return await models.record_invoice(INVOICE_CONSUMER, envelope, event)


async def on_invoice_status_changed(
    models: PostgresReadModels, envelope: Envelope, event: InvoiceStatusChanged
) -> bool:
    return await models.record_invoice_status(STATUS_CONSUMER, envelope, event)


async def on_invoice_deleted(
    models: PostgresReadModels, envelope: Envelope, event: InvoiceDeleted
) -> bool:
    return await models.record_invoice_deleted(DELETED_CONSUMER, envelope, event)
