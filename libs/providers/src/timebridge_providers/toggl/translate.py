"""Toggl time entries <-> the canonical ``TimeEntryFields`` (written once, here).

Units: Toggl keeps whole seconds (``duration``), so a duration is exact both ways. A running
timer has a negative duration: it is not an entry yet (:func:`is_synced` is false) and is synced
once it stops.

Time zones: Toggl keeps ``start`` in UTC and has no work date of its own; the date is the start's
date in the user's time zone (their profile's IANA name), so an entry crossing midnight stays on
the day it started and one across a daylight-saving change keeps its elapsed ``duration`` (never
stop minus start on the wall clock). A written entry's ``stop`` is ``start + duration``.

Billable is per entry (a paid-plan feature); tags are kept by Toggl but not synced.
"""

import datetime as dt
import zoneinfo
from typing import Any

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_providers.toggl.wire import TimeEntry

SOURCE = "toggl"


def is_synced(entry: TimeEntry) -> bool:
    """A stopped entry: a running timer (negative duration) waits until it stops."""
    return not entry.running


def work_date(start: dt.datetime, zone: str) -> dt.date:
    return start.astimezone(zoneinfo.ZoneInfo(zone)).date()


def entry_fields(
    entry: TimeEntry, *, zone: str, email: str | None = None, name: str | None = None
) -> TimeEntryFields:
    """The canonical fields of a stopped Toggl entry, its date read in ``zone``."""
    if entry.running:
        raise InvalidMessageError(f"toggl entry {entry.id} is a running timer: not synced yet")
    started = entry.start.astimezone(dt.UTC)
    return TimeEntryFields(
        user=UserRef(external_id=str(entry.user_id), email=email, name=name),
        project_external_id=None if entry.project_id is None else str(entry.project_id),
        task_external_id=None if entry.task_id is None else str(entry.task_id),
        date=work_date(started, zone),
        started_at=started,
        ended_at=started + dt.timedelta(seconds=entry.duration),
        timezone=zone,
        duration_seconds=entry.duration,
        notes=entry.description or "",
        billable=entry.billable,
    )


def _int_id(value: str | None, what: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise InvalidMessageError(f"a Toggl {what} id is a number, not {value!r}") from None


def start_of(fields: TimeEntryFields, zone: str) -> dt.datetime:
    """Where the entry starts: its own start, else 09:00 on its date in ``zone`` (a source
    keeping only a date and a duration)."""
    if fields.started_at is not None:
        return fields.started_at.astimezone(dt.UTC)
    local = dt.datetime.combine(fields.date, dt.time(9), tzinfo=zoneinfo.ZoneInfo(zone))
    return local.astimezone(dt.UTC)


def entry_body(fields: TimeEntryFields, *, zone: str, with_user: bool = True) -> dict[str, Any]:
    """The body of ``POST``/``PUT /workspaces/{wid}/time_entries`` for ``fields``."""
    start = start_of(fields, zone)
    body: dict[str, Any] = {
        "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "stop": (start + dt.timedelta(seconds=fields.duration_seconds)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        ),
        "duration": fields.duration_seconds,
        "description": fields.notes,
        "billable": fields.billable,
        "project_id": _int_id(fields.project_external_id, "project"),
        "task_id": _int_id(fields.task_external_id, "task"),
    }
    if with_user:
        body["user_id"] = _int_id(fields.user.external_id, "user")
    return body


def same_entry(entry: TimeEntry, fields: TimeEntryFields, zone: str) -> bool:
    """``entry`` is the one ``fields`` would create (how a create whose answer was lost is
    found: Toggl keeps no external reference)."""
    return (
        not entry.running
        and entry.server_deleted_at is None
        and str(entry.user_id) == fields.user.external_id
        and entry.start.astimezone(dt.UTC) == start_of(fields, zone)
        and entry.duration == fields.duration_seconds
        and (entry.description or "") == fields.notes
    )
