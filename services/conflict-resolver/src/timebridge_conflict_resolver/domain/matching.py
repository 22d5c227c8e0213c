"""Match-by-timestamp: recognising the same work logged in two systems.

Two entries are the same work when they belong to the same person on the same day and either
start within ``START_TOLERANCE`` of each other with durations within ``DURATION_TOLERANCE``, or,
when a side has no start time (a tracker keeping day records has none), have the same duration.
People are compared by email, the only identity both systems share before user mapping exists.
"""

import datetime as dt
from dataclasses import dataclass

from timebridge_common.events import EntryMapped, TimeEntryFields, TimeEntryLogged

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
    task_external_id: str | None = None
    user_external_id: str | None = None
    """Where the entry is in its own system (a day record is found by task, user and day)."""


def _observation(
    where: tuple[str, str, str],
    entry: TimeEntryFields,
    updated_at: dt.datetime,
    *,
    deleted: bool,
) -> Observation:
    workspace_id, source, external_id = where
    user = entry.user
    return Observation(
        workspace_id=workspace_id,
        source=source,
        external_id=external_id,
        person=(user.email or f"{source}:{user.external_id}").strip().lower(),
        date=entry.date,
        started_at=entry.started_at,
        duration_seconds=entry.duration_seconds,
        updated_at=updated_at,
        deleted=deleted,
        task_external_id=entry.task_external_id,
        user_external_id=user.external_id,
    )


def observe(event: TimeEntryLogged) -> Observation:
    where = (event.workspace_id, event.source, event.external_id)
    return _observation(where, event.entry, event.updated_at, deleted=event.deleted)


def candidate(event: EntryMapped) -> Observation:
    """The mapped entry as its source has it, to look for the same work on the target."""
    where = (event.workspace_id, event.source, event.source_external_id)
    deleted = event.operation == "delete"
    return _observation(where, event.source_entry, event.source_updated_at, deleted=deleted)


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
