"""Clockify time entries <-> the canonical ``TimeEntryFields`` (written once, here).

Units: Clockify writes durations as ISO 8601 durations (``PT1H30M``, ``PT45S``, ``P1DT2H``); the
authority is ``start``/``end`` (whole seconds, UTC), so a written entry's ``end`` is ``start`` plus
the duration and the duration read is ``end - start`` (elapsed time: exact across a
daylight-saving change). A running timer (no ``end``) is not synced until it stops.

Time zones: the date is the start's date in the user's zone (``settings.timeZone``), so an entry
crossing midnight stays on the day it started.
"""

import datetime as dt
import re
import zoneinfo
from typing import Any

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_providers.clockify.wire import TimeEntry

SOURCE = "clockify"
_DURATION = re.compile(
    r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(value: str) -> int:
    """``PT1H30M`` as seconds (fractions of a second rounded)."""
    match = _DURATION.match(value)
    if match is None or value in {"P", "PT"}:
        raise ValueError(f"not an ISO 8601 duration: {value!r}")
    days, hours, minutes = (int(match[k] or 0) for k in ("d", "h", "m"))
    return ((days * 24 + hours) * 60 + minutes) * 60 + round(float(match["s"] or 0))


def format_duration(seconds: int) -> str:
    """Seconds as Clockify writes them: ``PT1H30M``, ``PT0S``."""
    hours, rest = divmod(max(0, seconds), 3600)
    minutes, secs = divmod(rest, 60)
    parts = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    parts += f"{secs}S" if secs or not parts else ""
    return "PT" + parts


def seconds_of(entry: TimeEntry) -> int:
    interval = entry.time_interval
    if interval.end is not None:
        return max(0, round((interval.end - interval.start).total_seconds()))
    return parse_duration(interval.duration) if interval.duration else 0


def entry_fields(
    entry: TimeEntry, *, zone: str, email: str | None = None, name: str | None = None
) -> TimeEntryFields:
    if entry.running:
        raise InvalidMessageError(f"clockify entry {entry.id} is a running timer: not synced yet")
    started = entry.time_interval.start.astimezone(dt.UTC)
    seconds = seconds_of(entry)
    return TimeEntryFields(
        user=UserRef(external_id=entry.user_id, email=email, name=name),
        project_external_id=entry.project_id,
        task_external_id=entry.task_id,
        date=started.astimezone(zoneinfo.ZoneInfo(zone)).date(),
        started_at=started,
        ended_at=started + dt.timedelta(seconds=seconds),
        timezone=zone,
        duration_seconds=seconds,
        notes=entry.description or "",
        billable=entry.billable,
    )


def start_of(fields: TimeEntryFields, zone: str) -> dt.datetime:
    """The entry's start, else 09:00 on its date in ``zone`` (a source with only a date)."""
    if fields.started_at is not None:
        return fields.started_at.astimezone(dt.UTC)
    local = dt.datetime.combine(fields.date, dt.time(9), tzinfo=zoneinfo.ZoneInfo(zone))
    return local.astimezone(dt.UTC)


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def entry_body(fields: TimeEntryFields, *, zone: str) -> dict[str, Any]:
    """The body of ``POST``/``PUT .../time-entries`` (``PUT`` replaces, so it is complete)."""
    if fields.project_external_id == "" or fields.task_external_id == "":
        raise InvalidMessageError("a Clockify id is never empty")
    start = start_of(fields, zone)
    body: dict[str, Any] = {
        "start": _stamp(start),
        "end": _stamp(start + dt.timedelta(seconds=fields.duration_seconds)),
        "description": fields.notes,
        "billable": fields.billable,
        "projectId": fields.project_external_id,
        "taskId": fields.task_external_id,
    }
    return body


def same_entry(entry: TimeEntry, fields: TimeEntryFields, zone: str) -> bool:
    """``entry`` is the one ``fields`` would create (Clockify keeps no external reference)."""
    return (
        not entry.running
        and entry.user_id == fields.user.external_id
        and entry.time_interval.start.astimezone(dt.UTC) == start_of(fields, zone)
        and seconds_of(entry) == fields.duration_seconds
        and (entry.description or "") == fields.notes
    )
