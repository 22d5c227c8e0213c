"""Handling ``EntrySynced``: keep the billable ledger in step with confirmed sync outcomes."""

import structlog

from timebridge_common.events import EntrySynced, Envelope
from timebridge_invoice_export.adapters.postgres import Applied, PostgresLedger
from timebridge_invoice_export.domain.ledger import ledger_change

CONSUMER = "invoice-export.entry-synced"

log = structlog.get_logger(__name__)


async def on_entry_synced(
    ledger: PostgresLedger, envelope: Envelope, event: EntrySynced
) -> Applied | None:
    change = ledger_change(event)
    if change is None:
        return None
    applied = await ledger.apply(CONSUMER, envelope, change)
    if applied == "locked":
        log.warning(
            "change to an invoiced entry not applied",
            entry=f"{event.source}:{event.source_external_id}",
        )
    return applied
