"""Match-by-timestamp: recognising the same work logged in two systems.

Two entries are the same work when they belong to the same person on the same day and either
start within ``START_TOLERANCE`` of each other with durations within ``DURATION_TOLERANCE``, or,
when a side has no start time (Everhour often has none), have the same duration. People are
compared by email, the only identity both systems share before user mapping exists.
"""

import datetime as dt
from dataclasses import dataclass

from timebridge_common.events import TimeEntryLogged

START_TOLERANCE = dt.timedelta(minutes=1)
DURATION_TOLERANCE_S = 60


@dataclass(frozen=True, slots=True)
class Observation:
    workspace_id: str
    source: str
    external_id: str
    person: str
    date: dt.date
    started_at: dt.datetime | None
    duration_seconds: int
    updated_at: dt.datetime
    deleted: bool


def observe(event: TimeEntryLogged) -> Observation:
    user = event.entry.user
    person = (user.email or f"{event.source}:{user.external_id}").strip().lower()
    return Observation(
        workspace_id=event.workspace_id,
        source=event.source,
        external_id=event.external_id,
        person=person,
        date=event.entry.date,
        started_at=event.entry.started_at,
        duration_seconds=event.entry.duration_seconds,
        updated_at=event.updated_at,
        deleted=event.deleted,
    )


def same_work(a: Observation, b: Observation) -> bool:
    if (a.workspace_id, a.person, a.date) != (b.workspace_id, b.person, b.date):
        return False
    if a.deleted or b.deleted or a.source == b.source:
        return False
    close_duration = abs(a.duration_seconds - b.duration_seconds) <= DURATION_TOLERANCE_S
    if a.started_at is None or b.started_at is None:
        return a.duration_seconds == b.duration_seconds
    return close_duration and abs(a.started_at - b.started_at) <= START_TOLERANCE


def matches(candidate: Observation, others: list[Observation]) -> list[Observation]:
    """The entries of other systems that record the same work as ``candidate``."""
    return [o for o in others if same_work(candidate, o)]
