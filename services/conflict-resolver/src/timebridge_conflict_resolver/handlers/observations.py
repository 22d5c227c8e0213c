"""Handling ``TimeEntryLogged``: index every observed entry and report same-work matches."""

import structlog

from timebridge_common.events import Envelope, TimeEntryLogged
from timebridge_conflict_resolver.domain.matching import Observation, matches, observe
from timebridge_conflict_resolver.handlers.ports import ObservationStore

CONSUMER = "conflict-resolver.time-entry-logged"

log = structlog.get_logger(__name__)


async def on_time_entry_logged(
    store: ObservationStore, envelope: Envelope, event: TimeEntryLogged
) -> list[Observation] | None:
    observation = observe(event)
    same_day = await store.record(CONSUMER, envelope, observation)
    if same_day is None:
        return None
    found = matches(observation, same_day)
    if found:
        log.info(
            "same work logged in several systems",
            entry=f"{event.source}:{event.external_id}",
            matches=[f"{o.source}:{o.external_id}" for o in found],
        )
    return found
