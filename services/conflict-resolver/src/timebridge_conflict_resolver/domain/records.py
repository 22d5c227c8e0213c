"""Target records: where a change lands, what a system keeps of an entry, Everhour's sums.

Everhour keeps one time record per task, user and date, so every Core entry of one user on one
task and day lands in the same record: the record is the sum of those entries (its comment their
notes), written as an absolute value. Core keeps one entry per source entry. A record is named by
a *key*: ``task|user|date`` for Everhour, ``<source system>:<source entry id>`` for Core (which is
also the ``external_ref`` the Core entry is created with, so it can be found again).
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from timebridge_common.events import TimeEntryFields

EVERHOUR = "everhour"
CORE = "core"
SYSTEMS = frozenset({EVERHOUR, CORE})

Operation = Literal["create", "update", "delete", "none"]

CARRIED_FROM_EVERHOUR = frozenset(
    {
        "user",
        "project_external_id",
        "task_external_id",
        "date",
        "duration_seconds",
        "notes",
        "billable",
    }
)
"""What an Everhour record really has: no start time, and its time zone is only an offset, so a
Core entry updated from Everhour keeps its own ``started_at``, ``ended_at`` and ``timezone``."""

NOTES_SEPARATOR = "; "


@dataclass(frozen=True, slots=True)
class Slot:
    """One target record: its system, its key and, once known, its id in that system."""

    system: str
    key: str
    target_id: str | None = None


@dataclass(frozen=True, slots=True)
class Observed:
    """A target record as its system answered it."""

    target_id: str
    fields: TimeEntryFields
    changed_at: dt.datetime | None = None
    """The record's own last change (Everhour history, Core ``updated_at``)."""
    version: int | None = None
    """Core's ``version`` (the ``If-Match`` of an update)."""


@dataclass(frozen=True, slots=True)
class Write:
    """One planned change of a target record, decided from ``current`` (as read before)."""

    operation: Operation
    desired: TimeEntryFields | None
    current: Observed | None
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class Contribution:
    """One source entry's part of a target record."""

    source: str
    source_id: str
    fields: TimeEntryFields


def kept(system: str, fields: TimeEntryFields | None) -> tuple[object, ...] | None:
    """What ``system`` keeps of an entry: two states are the same record when these are equal.

    Everhour has no start time, time zone or per-record billable flag (a task is unbillable or
    not), and its project follows from the task.
    """
    if fields is None:
        return None
    if system == EVERHOUR:
        return (
            fields.task_external_id,
            fields.user.external_id,
            fields.date,
            fields.duration_seconds,
            fields.notes,
        )
    return (
        fields.user.external_id,
        fields.project_external_id,
        fields.task_external_id,
        fields.date,
        fields.started_at,
        fields.duration_seconds,
        fields.notes,
        fields.billable,
        fields.timezone,
    )


def same(system: str, a: TimeEntryFields | None, b: TimeEntryFields | None) -> bool:
    return kept(system, a) == kept(system, b)


def record_key(fields: TimeEntryFields) -> str | None:
    """The Everhour record an entry lands in; ``None`` without a task (Everhour needs one)."""
    if fields.task_external_id is None:
        return None
    return f"{fields.task_external_id}|{fields.user.external_id}|{fields.date.isoformat()}"


def parse_record_key(key: str) -> tuple[str, str, dt.date]:
    task, user, date = key.rsplit("|", 2)
    return task, user, dt.date.fromisoformat(date)


def slot_key(target: str, source: str, source_id: str, fields: TimeEntryFields) -> str | None:
    if target == EVERHOUR:
        return record_key(fields)
    return f"{source}:{source_id}"


def aggregate(key: str, parts: Sequence[TimeEntryFields]) -> TimeEntryFields | None:
    """The Everhour record holding ``parts``: their seconds summed, their notes joined.

    ``None`` when nothing is left: Everhour has no empty records, so the record is deleted.
    """
    seconds = sum(p.duration_seconds for p in parts)
    if not parts or seconds == 0:
        return None
    task, user, date = parse_record_key(key)
    notes = NOTES_SEPARATOR.join(dict.fromkeys(n for p in parts if (n := p.notes.strip())))
    first = parts[0]
    return first.model_copy(
        update={
            "task_external_id": task,
            "user": first.user.model_copy(update={"external_id": user}),
            "date": date,
            "started_at": None,
            "ended_at": None,
            "duration_seconds": seconds,
            "notes": notes,
        }
    )


def wanted_state(system: str, key: str, parts: Sequence[Contribution]) -> TimeEntryFields | None:
    """What the record ``key`` of ``system`` should hold, given the entries that land in it."""
    ordered = sorted(parts, key=lambda p: (p.source, p.source_id))
    if system == EVERHOUR:
        return aggregate(key, [p.fields for p in ordered])
    return ordered[0].fields if ordered else None


def merged_fields(source: str) -> frozenset[str] | None:
    """Which fields an update from ``source`` sets; ``None``: the whole entry."""
    return CARRIED_FROM_EVERHOUR if source == EVERHOUR else None


def desired(
    wanted: TimeEntryFields | None,
    current: TimeEntryFields | None,
    merge: frozenset[str] | None,
) -> TimeEntryFields | None:
    """The record after the write: ``wanted``, or only its ``merge`` fields onto ``current``."""
    if wanted is None or current is None or merge is None:
        return wanted
    return current.model_copy(update={name: getattr(wanted, name) for name in merge})


def billable_note(source: str, says: bool, task_billable: bool) -> str | None:
    """Everhour sets billable per task, not per record: a difference can only be reported.

    ``says`` is the Core side's billable, ``task_billable`` what the Everhour task makes it.
    """
    if says == task_billable:
        return None
    entry = "billable" if says else "not billable"
    task = "billable" if task_billable else "unbillable"
    return (
        f"billable differs: {source} says {entry}, the Everhour task is {task} (billable is a"
        " task property in Everhour, so it is reported, not written)"
    )
