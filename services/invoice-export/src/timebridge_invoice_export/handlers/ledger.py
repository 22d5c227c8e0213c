"""Handling ``TimeEntryLogged``: keep the billable ledger in step with Core's entries."""

import structlog

from timebridge_common.events import Envelope, TimeEntryLogged
from timebridge_invoice_export.domain.ledger import decide, ledger_entry
from timebridge_invoice_export.handlers.stores import Store

CONSUMER = "invoice-export.time-entry-logged"

log = structlog.get_logger(__name__)


async def on_time_entry_logged(store: Store, envelope: Envelope, event: TimeEntryLogged) -> str:
    """``apply``, ``stale``, ``locked``, ``duplicate`` (seen before) or ``ignored`` (not Core)."""
    entry = ledger_entry(event)
    if entry is None:
        return "ignored"
    async with store.once(CONSUMER, envelope) as tx:
        if tx is None:
            return "duplicate"
        held = await tx.held_entry(entry.workspace_id, entry.entry_id)
        decision = decide(held, entry)
        if decision in ("apply", "locked"):
            await tx.save_entry(entry)
        if decision == "locked":
            assert held is not None
            assert held.invoice_id is not None
            await tx.record_locked_change(entry, held.invoice_id)
            log.warning(
                "change to an invoiced entry not applied",
                entry_id=entry.entry_id,
                invoice_id=held.invoice_id,
            )
    return decision
