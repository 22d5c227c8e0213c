"""Xero Projects time entries <-> the canonical ``TimeEntryFields`` (written once, here).

Units: Xero keeps whole minutes (``duration``, 1 to 59940); a write rounds seconds to the nearest
minute (at least one), a read multiplies by 60.

Time zones: an entry has one moment, ``dateUtc`` (when it was logged on, in UTC), and no zone of
its own; Xero shows it in the organisation's time zone, so the work date is ``dateUtc``'s date in
that zone (``Access.extra["timezone"]``, an IANA name; UTC when not given). An entry crossing
midnight stays on the day it started; one across a daylight-saving change keeps its elapsed
``duration`` (never end minus start on the wall clock). A written entry's ``dateUtc`` is its start,
or 09:00 on its date in the organisation's zone when the source keeps only a date.

Billable: Xero has no per-entry flag; an entry is billable when its task is charged (``TIME`` or
``FIXED``, not ``NON_CHARGEABLE``), so ``billable`` is read from the task and never written.
"""

import datetime as dt
import zoneinfo
from typing import Any

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_providers.kit.ports.entries import UnwritableEntryError
from timebridge_providers.xero_projects.wire import MAX_MINUTES, TimeEntry

SOURCE = "xero_projects"


def minutes_of(seconds: int) -> int:
    """Whole minutes as Xero keeps them: rounded, within 1..59940."""
    return min(MAX_MINUTES, max(1, round(seconds / 60)))


def work_date(moment: dt.datetime, zone: str) -> dt.date:
    return moment.astimezone(zoneinfo.ZoneInfo(zone)).date()


def entry_fields(
    entry: TimeEntry,
    *,
    zone: str,
    billable: bool,
    email: str | None = None,
    name: str | None = None,
) -> TimeEntryFields:
    """The canonical fields of a Xero entry, its date read in the organisation's ``zone``."""
    started = entry.date_utc.astimezone(dt.UTC)
    seconds = entry.duration * 60
    return TimeEntryFields(
        user=UserRef(external_id=entry.user_id, email=email, name=name),
        project_external_id=entry.project_id,
        task_external_id=entry.task_id,
        date=work_date(started, zone),
        started_at=started,
        ended_at=started + dt.timedelta(seconds=seconds),
        timezone=zone,
        duration_seconds=seconds,
        notes=entry.description or "",
        billable=billable,
    )


def start_of(fields: TimeEntryFields, zone: str) -> dt.datetime:
    """Where the entry starts: its own start, else 09:00 on its date in ``zone``."""
    if fields.started_at is not None:
        return fields.started_at.astimezone(dt.UTC)
    local = dt.datetime.combine(fields.date, dt.time(9), tzinfo=zoneinfo.ZoneInfo(zone))
    return local.astimezone(dt.UTC)


def record_id(project_id: str, entry_id: str) -> str:
    """A Xero entry's id in Timebridge: its project's and its own (every call names both)."""
    return f"{project_id}:{entry_id}"


def parse_record_id(record: str) -> tuple[str, str]:
    """The project and entry ids of :func:`record_id`, or :class:`UnwritableEntryError`."""
    project, sep, entry = record.partition(":")
    if not sep or not project or not entry or ":" in entry:
        raise UnwritableEntryError(f"not a Xero Projects entry id: {record!r}")
    return project, entry


def entry_body(fields: TimeEntryFields, *, zone: str) -> dict[str, Any]:
    """The body of ``POST``/``PUT /Projects/{projectId}/Time`` for ``fields``."""
    if not fields.task_external_id:
        raise InvalidMessageError("a Xero Projects time entry needs a task")
    return {
        "userId": fields.user.external_id,
        "taskId": fields.task_external_id,
        "dateUtc": start_of(fields, zone).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration": minutes_of(fields.duration_seconds),
        "description": fields.notes,
    }


def same_entry(entry: TimeEntry, fields: TimeEntryFields, zone: str) -> bool:
    """``entry`` is the one ``fields`` would create (how a create is looked up before it is
    sent: Xero keeps no external reference)."""
    return (
        entry.user_id.lower() == fields.user.external_id.lower()
        and entry.task_id.lower() == (fields.task_external_id or "").lower()
        and entry.date_utc.astimezone(dt.UTC) == start_of(fields, zone).replace(microsecond=0)
        and entry.duration == minutes_of(fields.duration_seconds)
        and (entry.description or "") == fields.notes
    )
