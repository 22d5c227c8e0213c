"""Kafka subscriptions of invoice-export."""

from timebridge_common.events import EntrySynced, Envelope
from timebridge_common.runtime import ServiceRuntime
from timebridge_invoice_export.adapters.postgres import PostgresLedger
from timebridge_invoice_export.handlers.ledger import on_entry_synced


def register(runtime: ServiceRuntime, ledger: PostgresLedger) -> None:
    async def entry_synced(envelope: Envelope, event: EntrySynced) -> None:
        await on_entry_synced(ledger, envelope, event)

    runtime.subscribe(EntrySynced, entry_synced)
