"""QuickBooks Time timesheets <-> the canonical ``TimeEntryFields`` (written once, here).

Units: ``duration`` is whole seconds, exact both ways, and the elapsed time (never end minus
start on a wall clock), so an entry across a daylight-saving change keeps its real length.

Time zones: a ``regular`` timesheet's ``start``/``end`` carry the user's UTC offset, and its
``date`` is the work date QuickBooks Time gives it (the start's local date), so an entry crossing
midnight stays on the day it started; written, the start and end are the entry's instants in the
connection's zone (``Access.extra["timezone"]``, IANA, default UTC), each with its own offset. A
``manual`` timesheet has only ``date`` and ``duration``: no start. The task is the jobcode
(``jobcode_id``); a timesheet names no project of its own and no billable flag: billable is the
jobcode's (read from the answer's ``supplemental_data``), never written per timesheet. A running
timer (``on_the_clock``) is not an entry yet (see :mod:`.observe`).
"""

import datetime as dt
import zoneinfo
from typing import Any

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_providers.quickbooks_time.wire import Timesheet


def started_at(timesheet: Timesheet) -> dt.datetime | None:
    """The start instant (UTC) of a regular timesheet; ``None`` for a manual one."""
    if timesheet.type != "regular" or not timesheet.start:
        return None
    moment = dt.datetime.fromisoformat(timesheet.start)
    if moment.tzinfo is None:
        raise InvalidMessageError(f"a timesheet start without an offset: {timesheet.start!r}")
    return moment.astimezone(dt.UTC)


def entry_fields(timesheet: Timesheet, *, zone: str, billable: bool = False) -> TimeEntryFields:
    """The canonical fields of a (stopped) timesheet; its user's zone is ``zone``, ``billable``
    its jobcode's flag."""
    start = started_at(timesheet)
    seconds = timesheet.duration
    return TimeEntryFields(
        user=UserRef(external_id=str(timesheet.user_id)),
        project_external_id=None,
        task_external_id=str(timesheet.jobcode_id) if timesheet.jobcode_id else None,
        date=timesheet.date,
        started_at=start,
        ended_at=start + dt.timedelta(seconds=seconds) if start else None,
        timezone=zone,
        duration_seconds=seconds,
        notes=timesheet.notes,
        billable=billable,
    )


def _number(value: str | None, what: str) -> int:
    if not value or not value.isdigit():
        raise InvalidMessageError(f"a QuickBooks Time {what} id is a number, not {value!r}")
    return int(value)


def timesheet_body(fields: TimeEntryFields, *, zone: str) -> dict[str, Any]:
    """One item of ``POST /timesheets`` (without ``id``) or ``PUT /timesheets`` (with it):
    ``regular`` with the start and end in ``zone`` when the entry has a start, else ``manual``."""
    body: dict[str, Any] = {
        "user_id": _number(fields.user.external_id, "user"),
        "jobcode_id": _number(fields.task_external_id, "jobcode"),
        "notes": fields.notes,
    }
    if fields.started_at is None:
        return {**body, "type": "manual", "date": fields.date.isoformat(),
                "duration": fields.duration_seconds}  # fmt: skip
    local = zoneinfo.ZoneInfo(zone)
    start = fields.started_at.astimezone(local).replace(microsecond=0)
    end = (start.astimezone(dt.UTC) + dt.timedelta(seconds=fields.duration_seconds)).astimezone(
        local
    )
    return {**body, "type": "regular", "start": start.isoformat(), "end": end.isoformat()}


def same_timesheet(timesheet: Timesheet, fields: TimeEntryFields) -> bool:
    """``timesheet`` is the one ``fields`` would create (how a create whose answer was lost is
    found: a timesheet keeps no external reference)."""
    start = started_at(timesheet)
    wanted = fields.started_at.replace(microsecond=0) if fields.started_at else None
    return (
        str(timesheet.user_id) == fields.user.external_id
        and str(timesheet.jobcode_id) == fields.task_external_id
        and timesheet.date == fields.date
        and start == wanted
        and timesheet.duration == fields.duration_seconds
        and timesheet.notes == fields.notes
    )
