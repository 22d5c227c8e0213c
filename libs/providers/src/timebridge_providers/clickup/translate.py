"""ClickUp time entries <-> the canonical ``TimeEntryFields`` (written once, here).

Units: ClickUp keeps milliseconds (``start``/``end`` since the epoch, ``duration``); a read rounds
to whole seconds, a write sends seconds * 1000, so whole seconds read back unchanged.

Time zones: an entry is an instant (``start``) and a length; its work date is the start's date in
the user's time zone (an IANA name), so an entry crossing midnight stays on the day it started and
one across a daylight-saving change keeps its elapsed duration (never end minus start on the wall
clock). A running timer (negative duration) is not synced until it stops.

The project of an entry is the List its task lives in (``task_location.list_id``): ClickUp's
Workspace > Space > Folder > List > Task hierarchy has no "project"; the List is where tasks are.
"""

import datetime as dt
import zoneinfo
from typing import Any

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_providers.clickup.wire import TimeEntry

SOURCE = "clickup"


def ms_of(moment: dt.datetime) -> int:
    return round(moment.timestamp() * 1000)


def moment_of(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


def seconds_of(ms: int) -> int:
    return max(0, round(ms / 1000))


def entry_fields(entry: TimeEntry, zone: str) -> TimeEntryFields:
    """The canonical fields of a stopped ClickUp entry, its date read in ``zone``."""
    if entry.running:
        raise InvalidMessageError(f"ClickUp entry {entry.id} is a running timer: not synced")
    started = moment_of(entry.start)
    seconds = seconds_of(entry.duration)
    location = entry.task_location
    list_id = None if location is None or location.list_id is None else str(location.list_id)
    return TimeEntryFields(
        user=UserRef(
            external_id=str(entry.user.id), email=entry.user.email, name=entry.user.username
        ),
        project_external_id=list_id,
        task_external_id=None if entry.task is None else entry.task.id,
        date=started.astimezone(zoneinfo.ZoneInfo(zone)).date(),
        started_at=started,
        ended_at=started + dt.timedelta(seconds=seconds),
        timezone=zone,
        duration_seconds=seconds,
        notes=entry.description or "",
        billable=entry.billable,
    )


def _start(fields: TimeEntryFields, zone: str) -> dt.datetime:
    """The start written: the entry's own, else 09:00 on its date in the user's zone (ClickUp
    has no entry without a start)."""
    if fields.started_at is not None:
        return fields.started_at
    return dt.datetime.combine(fields.date, dt.time(9), tzinfo=zoneinfo.ZoneInfo(zone))


def _user_id(fields: TimeEntryFields) -> int:
    try:
        return int(fields.user.external_id)
    except ValueError:
        raise InvalidMessageError(
            f"a ClickUp user id is a number, not {fields.user.external_id!r}"
        ) from None


def create_body(fields: TimeEntryFields, zone: str) -> dict[str, Any]:
    """The body of ``POST /team/{team_id}/time_entries`` (start and duration in ms)."""
    start = _start(fields, zone)
    body: dict[str, Any] = {
        "start": ms_of(start),
        "duration": fields.duration_seconds * 1000,
        "description": fields.notes,
        "billable": fields.billable,
        "assignee": _user_id(fields),
    }
    if fields.task_external_id:
        body["tid"] = fields.task_external_id
    return body


def update_body(fields: TimeEntryFields, zone: str) -> dict[str, Any]:
    """The body of ``PUT /team/{team_id}/time_entries/{timer_id}``: ``start`` with ``end`` (the
    spec: one needs the other), ``tags`` required (empty: the entry's tags are left alone)."""
    start = _start(fields, zone)
    end = start + dt.timedelta(seconds=fields.duration_seconds)
    body: dict[str, Any] = {
        "start": ms_of(start),
        "end": ms_of(end),
        "description": fields.notes,
        "billable": fields.billable,
        "tags": [],
    }
    if fields.task_external_id:
        body["tid"] = fields.task_external_id
    return body
