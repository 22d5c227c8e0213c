"""Tempo worklogs <-> the canonical ``TimeEntryFields`` (written once, here).

Units: ``timeSpentSeconds`` is whole seconds, exact both ways; ``billableSeconds`` is the billable
part: an entry is billable when it is above zero, and a billable entry is written with all of its
time billable (a non-billable one with ``0``).

Time zones: Tempo keeps ``startDate`` and ``startTime`` as the author's local date and wall-clock
time, with no offset. The work date is ``startDate`` itself, so an entry crossing midnight stays on
the day it started; the start instant is that wall-clock time in the author's zone (the
connection's ``timezone``), and the duration is the elapsed ``timeSpentSeconds``, never end minus
start on the wall clock, so an entry across a daylight-saving change keeps its real length. A
worklog links to a Jira issue (``issueId``): the task; Tempo has no project of its own on a
worklog (the issue's Jira project), so none is reported or written.
"""

import datetime as dt
import zoneinfo
from typing import Any

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_providers.tempo.wire import Worklog

SOURCE = "tempo"
DEFAULT_START = dt.time(9)
"""Where an entry from a source keeping only a date and a duration starts (local)."""


def started_at(worklog: Worklog, zone: str) -> dt.datetime:
    local = dt.datetime.combine(
        worklog.startDate, worklog.startTime or DEFAULT_START, tzinfo=zoneinfo.ZoneInfo(zone)
    )
    return local.astimezone(dt.UTC)


def entry_fields(
    worklog: Worklog, *, zone: str, email: str | None = None, name: str | None = None
) -> TimeEntryFields:
    """The canonical fields of a worklog whose author's local time is read in ``zone``."""
    start = started_at(worklog, zone)
    seconds = worklog.timeSpentSeconds
    return TimeEntryFields(
        user=UserRef(external_id=worklog.author.accountId, email=email, name=name),
        project_external_id=None,
        task_external_id=str(worklog.issue.id),
        date=worklog.startDate,
        started_at=start,
        ended_at=start + dt.timedelta(seconds=seconds),
        timezone=zone,
        duration_seconds=seconds,
        notes=worklog.description or "",
        billable=(worklog.billableSeconds or 0) > 0,
    )


def local_start(fields: TimeEntryFields, zone: str) -> tuple[dt.date, dt.time]:
    """``startDate`` and ``startTime`` for ``fields``: its start in ``zone``; else 09:00 on its
    date (the date is always the entry's own work date)."""
    if fields.started_at is None:
        return fields.date, DEFAULT_START
    local = fields.started_at.astimezone(zoneinfo.ZoneInfo(zone))
    return fields.date, local.time().replace(microsecond=0, tzinfo=None)


def _issue_id(value: str | None) -> int:
    if not value:
        raise InvalidMessageError("a Tempo worklog needs a Jira issue (task)")
    try:
        return int(value)
    except ValueError:
        raise InvalidMessageError(f"a Jira issue id is a number, not {value!r}") from None


def worklog_body(fields: TimeEntryFields, *, zone: str) -> dict[str, Any]:
    """The body of ``POST /4/worklogs`` and ``PUT /4/worklogs/{id}`` (a full replacement)."""
    date, time = local_start(fields, zone)
    seconds = fields.duration_seconds
    return {
        "authorAccountId": fields.user.external_id,
        "issueId": _issue_id(fields.task_external_id),
        "startDate": date.isoformat(),
        "startTime": time.strftime("%H:%M:%S"),
        "timeSpentSeconds": seconds,
        "billableSeconds": seconds if fields.billable else 0,
        "description": fields.notes,
    }


def same_worklog(worklog: Worklog, fields: TimeEntryFields, zone: str) -> bool:
    """``worklog`` is the one ``fields`` would create (how a create whose answer was lost is
        found: a worklog carries no external reference). Two source entries alike in every one of
    these fields are one worklog: the second is taken for the first's lost create."""
    date, time = local_start(fields, zone)
    return (
        worklog.author.accountId == fields.user.external_id
        and str(worklog.issue.id) == fields.task_external_id
        and worklog.startDate == date
        and (worklog.startTime or DEFAULT_START) == time
        and worklog.timeSpentSeconds == fields.duration_seconds
        and (worklog.description or "") == fields.notes
        and ((worklog.billableSeconds or 0) > 0) == fields.billable
    )
