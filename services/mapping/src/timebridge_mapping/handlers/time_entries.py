"""Handling ``TimeEntryLogged``: keep the newest version of every source entry, exactly once."""

from typing import Literal

import structlog

from timebridge_common.events import Envelope, TimeEntryLogged
from timebridge_mapping.domain.entries import apply_change, key_of
from timebridge_mapping.handlers.ports import MappingStore

CONSUMER = "mapping.time-entry-logged"
Outcome = Literal["stored", "duplicate", "stale"]

log = structlog.get_logger(__name__)


async def on_time_entry_logged(
    store: MappingStore, envelope: Envelope, event: TimeEntryLogged
) -> Outcome:
    async with store.once(CONSUMER, envelope) as tx:
        if tx is None:
            outcome: Outcome = "duplicate"
        else:
            updated = apply_change(await tx.get(key_of(event)), event, envelope.event_id)
            if updated is None:
                outcome = "stale"
            else:
                await tx.save(updated)
                outcome = "stored"
    log.info("time entry handled", outcome=outcome, source=event.source, entry=event.external_id)
    return outcome
