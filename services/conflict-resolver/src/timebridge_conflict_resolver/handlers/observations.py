"""Handling ``TimeEntryLogged``: index every observed entry and report same-work matches."""

from collections.abc import Sequence

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
    return _reported(observation, await store.record(CONSUMER, envelope, observation))


async def on_time_entries_logged(
    store: ObservationStore, items: Sequence[tuple[Envelope, TimeEntryLogged]]
) -> list[list[Observation] | None]:
    """A batch of ``TimeEntryLogged`` in one transaction (``record_many``), each reported as
    ``on_time_entry_logged`` reports it."""
    observed = [(envelope, observe(event)) for envelope, event in items]
    same_days = await store.record_many(CONSUMER, observed)
    return [_reported(o, same_day) for (_, o), same_day in zip(observed, same_days, strict=True)]


def _reported(
    observation: Observation, same_day: list[Observation] | None
) -> list[Observation] | None:
    if same_day is None:
        return None
    found = matches(observation, same_day)
    if found:
        log.info(
            "same work logged in several systems",
            entry=f"{observation.source}:{observation.external_id}",
            matches=[f"{o.source}:{o.external_id}" for o in found],
        )
    return found
