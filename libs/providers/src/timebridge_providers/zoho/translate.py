"""Zoho Projects time logs <-> the canonical ``TimeEntryFields`` (written once, here).

Units: Zoho keeps hours and minutes (``HH:MM``, ``total_minutes``); a write rounds seconds to the
nearest minute (at least one), a read multiplies minutes by 60.

Time zones: a log has a date (``log_date``, ``MM-DD-YYYY``, as the user logged it in the portal's
zone) and no start time, so the date is taken as it is both ways: an entry crossing midnight
stays on the day it started (the source's work date) and one across a daylight-saving change
keeps its elapsed minutes; the zone reported is the portal's (``Access.extra["timezone"]``).

Billable: per log, ``bill_status`` ``Billable`` or ``Non Billable``.
"""

import datetime as dt

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_providers.kit.ports.entries import UnwritableEntryError
from timebridge_providers.zoho.client import zoho_date
from timebridge_providers.zoho.wire import TimeLog

SOURCE = "zoho"
BILLABLE, NON_BILLABLE = "Billable", "Non Billable"


def minutes_of(seconds: int) -> int:
    return max(1, round(seconds / 60))


def hhmm(seconds: int) -> str:
    """``HH:MM`` as Zoho takes hours (``01:30``; more than 24 hours is ``25:00``)."""
    minutes = minutes_of(seconds)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def minutes_of_hhmm(value: str) -> int:
    hours, sep, minutes = value.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or int(minutes) > 59:
        raise InvalidMessageError(f"not Zoho hours (HH:MM): {value!r}")
    return int(hours) * 60 + int(minutes)


def log_minutes(log: TimeLog) -> int:
    if log.total_minutes is not None:
        return log.total_minutes
    return minutes_of_hhmm(log.hours_display or "00:00")


def record_id(project_id: str, task_id: str, log_id: str) -> str:
    """A log's id in Timebridge: project, task and log (every call names all three)."""
    return f"{project_id}:{task_id}:{log_id}"


def parse_record_id(record: str) -> tuple[str, str, str]:
    parts = record.split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise UnwritableEntryError(f"not a Zoho Projects log id: {record!r}")
    return parts[0], parts[1], parts[2]


def entry_fields(
    log: TimeLog, project_id: str, *, zone: str, email: str | None = None
) -> TimeEntryFields:
    return TimeEntryFields(
        user=UserRef(external_id=log.owner_id, email=email, name=log.owner_name),
        project_external_id=project_id,
        task_external_id=log.task.id if log.task else None,
        date=log.date,
        timezone=zone,
        duration_seconds=log_minutes(log) * 60,
        notes=log.notes or "",
        billable=log.bill_status.strip().lower() == BILLABLE.lower(),
    )


def log_params(fields: TimeEntryFields) -> dict[str, str]:
    """The parameters of ``POST .../tasks/{task}/logs/`` (add or update) for ``fields``."""
    return {
        "date": zoho_date(fields.date),
        "bill_status": BILLABLE if fields.billable else NON_BILLABLE,
        "hours": hhmm(fields.duration_seconds),
        "owner": fields.user.external_id,
        "notes": fields.notes,
    }


def same_log(log: TimeLog, fields: TimeEntryFields) -> bool:
    """``log`` is the one ``fields`` would create (a lost create is found this way: Zoho keeps
    no external reference)."""
    return (
        log.owner_id == fields.user.external_id
        and (log.task.id if log.task else None) == fields.task_external_id
        and log.date == fields.date
        and log_minutes(log) == minutes_of(fields.duration_seconds)
        and (log.notes or "") == fields.notes
    )


def month_starts(start: dt.date, end: dt.date) -> list[dt.date]:
    """The first day of every month from ``start``'s to ``end``'s (a month view each)."""
    months, day = [], start.replace(day=1)
    while day <= end:
        months.append(day)
        day = (day + dt.timedelta(days=32)).replace(day=1)
    return months
