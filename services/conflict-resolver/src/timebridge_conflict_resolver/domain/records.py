"""Target records: where a change lands, what a system keeps of an entry, and sums of entries.

Every rule here reads the systems' profiles, never their names. A system keeping one record per
entry (``granularity="entry"``, like the home system) holds one record per source entry, named
``<source>:<source id>`` (also the external reference it is created with, so it can be found
again). A system keeping one record per task, user and day (``task_user_day``) puts every entry
of one user on one task and day into the same record: the record is the sum of those entries (its
notes theirs, joined), written as an absolute value, named ``task|user|date``.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from timebridge_providers.kit.ports.entries import (
    Observed,
    Operation,
    Slot,
    Write,
    day_key,
    entry_key,
    parse_day_key,
)
from timebridge_providers.kit.profile import ALL_FIELDS, Profile

from timebridge_common.events import TimeEntryFields

__all__ = [
    "Contribution",
    "Observed",
    "Operation",
    "Slot",
    "Systems",
    "Write",
    "aggregate",
    "billable_note",
    "desired",
    "kept",
    "merged_fields",
    "no_slot_reason",
    "record_key",
    "same",
    "slot_key",
    "wanted_state",
]

NOTES_SEPARATOR = "; "

_ORDER = (
    "user",
    "project_external_id",
    "task_external_id",
    "date",
    "started_at",
    "duration_seconds",
    "notes",
    "billable",
    "timezone",
)
"""Every field a system may keep (``ALL_FIELDS``), in a fixed order."""


@dataclass(frozen=True, slots=True)
class Systems:
    """The two systems one integration syncs: the home system and one tracker."""

    home: Profile
    tracker: Profile

    @property
    def names(self) -> frozenset[str]:
        return frozenset({self.home.name, self.tracker.name})

    def of(self, name: str) -> Profile:
        for profile in (self.home, self.tracker):
            if profile.name == name:
                return profile
        raise KeyError(f"{name!r} is not one of this integration's systems")

    def other(self, name: str) -> Profile:
        """The system an entry of ``name`` is synced with."""
        return self.tracker if self.of(name) is self.home else self.home


@dataclass(frozen=True, slots=True)
class Contribution:
    """One source entry's part of a target record."""

    source: str
    source_id: str
    fields: TimeEntryFields


def kept(
    system: Profile, fields: TimeEntryFields | None, *, without: frozenset[str] = frozenset()
) -> tuple[object, ...] | None:
    """What ``system`` keeps of an entry: two states are the same record when these are equal
    (a system keeping no start time, time zone or billable flag ignores changes of those)."""
    if fields is None:
        return None
    return tuple(
        fields.user.external_id if name == "user" else getattr(fields, name)
        for name in _ORDER
        if system.keeps(name) and name not in without
    )


def same(system: Profile, a: TimeEntryFields | None, b: TimeEntryFields | None) -> bool:
    """Whether ``a`` and ``b`` are the same record of ``system``.

    An entry without a start time (a source keeping only a date and a duration) says nothing
    about the start: a system that keeps one sets its own (09:00 on the date, say), so the start
    is compared only when both states have one. Otherwise such an entry would fail its read-back
    and be written again on every change.
    """
    startless = a is not None and b is not None and None in {a.started_at, b.started_at}
    without = frozenset({"started_at"}) if startless else frozenset()
    return kept(system, a, without=without) == kept(system, b, without=without)


def record_key(fields: TimeEntryFields) -> str | None:
    """The task, user and day record an entry lands in; ``None`` without a task."""
    if fields.task_external_id is None:
        return None
    return day_key(fields.task_external_id, fields.user.external_id, fields.date)


def slot_key(target: Profile, source: str, source_id: str, fields: TimeEntryFields) -> str | None:
    """The record of ``target`` an entry lands in; ``None`` when it cannot land there."""
    if target.granularity == "task_user_day":
        return record_key(fields)
    if target.requires_task and fields.task_external_id is None:
        return None
    return entry_key(source, source_id)


def no_slot_reason(target: Profile) -> str:
    """Why an entry has no record in ``target`` (:func:`slot_key` answered ``None``)."""
    return f"no {target.title} task for this entry: {target.title} records time on tasks only"


def aggregate(key: str, parts: Sequence[TimeEntryFields]) -> TimeEntryFields | None:
    """The task, user and day record holding ``parts``: their seconds summed, notes joined.

    ``None`` when nothing is left: such a system has no empty records, so it is deleted.
    """
    seconds = sum(p.duration_seconds for p in parts)
    if not parts or seconds == 0:
        return None
    task, user, date = parse_day_key(key)
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


def wanted_state(
    system: Profile, key: str, parts: Sequence[Contribution]
) -> TimeEntryFields | None:
    """What the record ``key`` of ``system`` should hold, given the entries that land in it."""
    ordered = sorted(parts, key=lambda p: (p.source, p.source_id))
    if system.granularity == "task_user_day":
        return aggregate(key, [p.fields for p in ordered])
    return ordered[0].fields if ordered else None


def merged_fields(source: Profile) -> frozenset[str] | None:
    """Which fields an update from ``source`` sets; ``None``: the whole entry.

    An entry observed in a system that does not carry every field (no start time, say) sets only
    what it carries: the record updated from it keeps its own values of the rest.
    """
    return None if source.observed_fields >= ALL_FIELDS else source.observed_fields


def desired(
    wanted: TimeEntryFields | None,
    current: TimeEntryFields | None,
    merge: frozenset[str] | None,
) -> TimeEntryFields | None:
    """The record after the write: ``wanted``, or only its ``merge`` fields onto ``current``."""
    if wanted is None or current is None or merge is None:
        return wanted
    return current.model_copy(update={name: getattr(wanted, name) for name in merge})


def billable_note(source: str, says: bool, target: Profile, record: Observed) -> str | None:
    """Where ``target`` keeps billable on a task or project, a record's billable cannot be
    written: a difference is reported (``None``: no difference, or billable is per entry).

    ``says`` is the source side's billable, ``record`` the target record as read, whose billable
    its task or project decided (``record.billable_by``).
    """
    if target.billable in {"entry", "none"} or says == record.fields.billable:
        return None
    by = record.billable_by or target.billable
    entry = "billable" if says else "not billable"
    if by == "task":
        state = "billable" if record.fields.billable else "unbillable"
    else:
        state = "billable" if record.fields.billable else "not billable"
    return (
        f"billable differs: {source} says {entry}, the {target.title} {by} is {state} (billable"
        f" is a {by} property in {target.title}, so it is reported, not written)"
    )
