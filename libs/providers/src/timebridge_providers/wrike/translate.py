"""Wrike timelogs <-> the canonical ``TimeEntryFields`` (written once, here).

Units: Wrike keeps ``hours`` as decimal hours. A duration is written with four decimals (off by
at most 0.18 s) and read back rounded to the whole second, so whole seconds round-trip exactly.

Time zones: a timelog has a ``trackedDate`` and no time of day. The work date is the entry's own
date in its source's zone (``TimeEntryFields.date``), written as it is: an entry crossing midnight
stays on the day it started, and one across a daylight-saving change keeps its elapsed seconds
(never end minus start on the wall clock). No start time or zone is kept or reported.

Billable is per timelog (``billingType``); the task is the timelog's ``taskId``; a timelog has no
project of its own (its task's folders), so none is reported or written.
"""

import datetime as dt

from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_providers.wrike.wire import Timelog

SOURCE = "wrike"
BILLABLE = "Billable"
NON_BILLABLE = "NonBillable"


def seconds_of(hours: float) -> int:
    return round(hours * 3600)


def hours_of(seconds: int) -> str:
    """Decimal hours as Wrike takes them (a string with at most four decimals)."""
    return f"{seconds / 3600:.4f}".rstrip("0").rstrip(".") or "0"


def entry_fields(
    timelog: Timelog, *, email: str | None = None, name: str | None = None
) -> TimeEntryFields:
    return TimeEntryFields(
        user=UserRef(external_id=timelog.userId, email=email, name=name),
        project_external_id=None,
        task_external_id=timelog.taskId,
        date=timelog.trackedDate,
        duration_seconds=seconds_of(timelog.hours),
        notes=timelog.comment or "",
        billable=timelog.billingType == BILLABLE,
    )


def timelog_params(fields: TimeEntryFields) -> dict[str, str | int]:
    """The parameters of ``POST /tasks/{taskId}/timelogs`` and ``PUT /timelogs/{id}``."""
    return {
        "hours": hours_of(fields.duration_seconds),
        "trackedDate": fields.date.isoformat(),
        "comment": fields.notes,
        "plainText": "true",
        "billingType": BILLABLE if fields.billable else NON_BILLABLE,
    }


def same_timelog(timelog: Timelog, fields: TimeEntryFields) -> bool:
    """``timelog`` is the one ``fields`` would create (how a create whose answer was lost is
    found: a timelog keeps no external reference)."""
    return (
        timelog.userId == fields.user.external_id
        and timelog.taskId == fields.task_external_id
        and timelog.trackedDate == fields.date
        and seconds_of(timelog.hours) == fields.duration_seconds
        and (timelog.comment or "") == fields.notes
        and (timelog.billingType == BILLABLE) == fields.billable
    )


def date_range(start: dt.date, end: dt.date) -> str:
    return f'{{"start":"{start.isoformat()}","end":"{end.isoformat()}"}}'


def updated_since(moment: dt.datetime) -> str:
    return f'{{"start":"{moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}"}}'
