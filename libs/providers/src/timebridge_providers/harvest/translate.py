"""Harvest time entries <-> the canonical ``TimeEntryFields`` (written once, here).

Units: Harvest keeps decimal hours; a write sends seconds / 3600 to four decimals (0.18 s at
worst, so whole seconds read back unchanged) and a read rounds hours * 3600 to whole seconds.

Time zones: a Harvest entry has a ``spent_date`` and, on accounts that track start and end time
(``wants_timestamp_timers``), wall-clock ``started_time``/``ended_time`` such as ``8:00am``. Those
are read in the entry's user's time zone (a Rails name, :mod:`.zones`), so ``started_at`` is exact
across a daylight-saving change; the duration is always ``hours``, never end minus start. An entry
crossing midnight stays on the day it started (as Harvest keeps a timer running past midnight):
its ``ended_time`` is then earlier than its ``started_time``. Start and end are minutes, so on a
timestamp account a duration reads back to the minute.
"""

import datetime as dt
import re
import zoneinfo
from typing import Any

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_providers.harvest.wire import TimeEntry, User
from timebridge_providers.harvest.zones import iana_zone

SOURCE = "harvest"
REFERENCE_GROUP = "timebridge"
"""``external_reference.group_id`` of the entries Timebridge creates."""

_WALL = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*([ap]m)?\s*$", re.IGNORECASE)


def parse_wall_time(value: str) -> dt.time:
    """``8:00am``, ``12:30pm``, ``13:05`` or ``9pm`` as a time of day."""
    match = _WALL.match(value)
    if match is None:
        raise ValueError(f"not a time of day: {value!r}")
    hour, minute, half = int(match[1]), int(match[2] or 0), (match[3] or "").lower()
    if (half and not 1 <= hour <= 12) or hour > 23 or minute > 59:
        raise ValueError(f"not a time of day: {value!r}")
    if half:
        hour = hour % 12 + (12 if half == "pm" else 0)
    return dt.time(hour, minute)


def wall_time(moment: dt.time) -> str:
    """A time of day as Harvest writes it (``8:05am``)."""
    half = "am" if moment.hour < 12 else "pm"
    return f"{(moment.hour % 12) or 12}:{moment.minute:02d}{half}"


def hours_of(seconds: int) -> float:
    return round(seconds / 3600, 4)


def seconds_of(hours: float) -> int:
    return max(0, round(hours * 3600))


def entry_fields(entry: TimeEntry, user: User | None = None) -> TimeEntryFields:
    """The canonical fields of a Harvest entry; ``user`` (when read) gives email and time zone."""
    zone = iana_zone(user.timezone if user else None)
    seconds = seconds_of(entry.hours)
    started_at = ended_at = None
    if entry.started_time:
        local = dt.datetime.combine(entry.spent_date, parse_wall_time(entry.started_time))
        started_at = local.replace(tzinfo=zoneinfo.ZoneInfo(zone)).astimezone(dt.UTC)
        ended_at = started_at + dt.timedelta(seconds=seconds)
    return TimeEntryFields(
        user=UserRef(
            external_id=str(entry.user.id),
            email=user.email if user else None,
            name=(user.name if user else None) or entry.user.name,
        ),
        project_external_id=str(entry.project.id),
        task_external_id=str(entry.task.id),
        date=entry.spent_date,
        started_at=started_at,
        ended_at=ended_at,
        timezone=zone,
        duration_seconds=seconds,
        notes=entry.notes or "",
        billable=entry.billable,
    )


def _int_id(value: str | None, what: str) -> int:
    try:
        return int(value or "")
    except ValueError:
        raise InvalidMessageError(f"a Harvest {what} id is a number, not {value!r}") from None


def entry_body(
    fields: TimeEntryFields,
    *,
    timestamps: bool,
    zone: str,
    reference: str | None = None,
    with_user: bool = True,
) -> dict[str, Any]:
    """The body of ``POST``/``PATCH /time_entries`` for ``fields``.

    ``timestamps``: the account tracks start and end time, so an entry with a start is written
    as ``started_time``/``ended_time`` in ``zone`` (its user's); otherwise (or without a start)
    as ``hours``. ``reference`` becomes ``external_reference.id``, the key a retried create is
    looked up by. ``with_user``: ``PATCH`` cannot move an entry to another user.
    """
    body: dict[str, Any] = {
        "project_id": _int_id(fields.project_external_id, "project"),
        "task_id": _int_id(fields.task_external_id, "task"),
        "spent_date": fields.date.isoformat(),
        "notes": fields.notes,
    }
    if with_user:
        body["user_id"] = _int_id(fields.user.external_id, "user")
    if timestamps and fields.started_at is not None:
        tz = zoneinfo.ZoneInfo(zone)
        start = fields.started_at.astimezone(tz)
        end = (fields.started_at + dt.timedelta(seconds=fields.duration_seconds)).astimezone(tz)
        body["spent_date"] = start.date().isoformat()
        body["started_time"] = wall_time(start.time())
        body["ended_time"] = wall_time(end.time())
    else:
        body["hours"] = hours_of(fields.duration_seconds)
    if reference is not None:
        body["external_reference"] = {"id": reference, "group_id": REFERENCE_GROUP}
    return body
