"""Utilization report: hours per user and team against capacity, a pure function of rows.

Capacity is each user's hours per day (configured per user, else the default) on every working
day (Monday to Friday) of the period, minus the approved time off an HR source recorded for that
user on those days. Time off counted in days takes that fraction of the user's day; a day's time
off never takes more than the day's capacity, and time off on a weekend takes nothing (there is
no capacity to take). Cancelled and denied requests take nothing: their days are not held.
"""

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from timebridge_reporting.domain.report_model import (
    Chart,
    Report,
    ReportParams,
    Table,
    Value,
    hours,
    working_days,
)
from timebridge_reporting.domain.reports import Context, Directory, TimeRow, _wanted


@dataclass(frozen=True, slots=True)
class TimeOffDay:
    """Approved time off of one user on one day, in the HR system's unit."""

    user_id: str
    day: dt.date
    amount: Decimal
    unit: str
    """``hours``, or ``days`` (a fraction of the user's working day)."""


@dataclass(frozen=True)
class TimeOff:
    """The approved time off of a period, as far as it is known."""

    days: Sequence[TimeOffDay] = ()
    unmatched_people: int = 0
    """People with time off whose email matches no user (their time off is not subtracted)."""
    recorded: bool = False
    """Whether an HR source has recorded any time off for the workspace."""


def _time_off_seconds(
    time_off: TimeOff, ctx: Context, per_day_of: dict[str, Decimal]
) -> dict[str, int]:
    """Seconds of capacity each user's approved time off takes in the period."""
    per_user_day: dict[tuple[str, dt.date], Decimal] = defaultdict(Decimal)
    for off in time_off.days:
        if not ctx.period.start <= off.day <= ctx.period.end or off.day.weekday() >= 5:
            continue
        day_seconds = per_day_of[off.user_id] * 3600
        taken = off.amount * 3600 if off.unit == "hours" else off.amount * day_seconds
        per_user_day[off.user_id, off.day] += taken
    taken_by: dict[str, int] = defaultdict(int)
    for (user_id, _), seconds in per_user_day.items():
        taken_by[user_id] += int(min(seconds, per_day_of[user_id] * 3600))
    return taken_by


def utilization_report(
    ctx: Context,
    params: ReportParams,
    rows: list[TimeRow],
    directory: Directory,
    time_off: TimeOff | None = None,
) -> Report:
    """Billable and total hours per user and for the team against capacity net of time off."""
    time_off = time_off or TimeOff()
    per_user: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        if ctx.period.start <= row.work_date <= ctx.period.end and _wanted(row, params, directory):
            per_user[row.user_id][0] += row.seconds
            per_user[row.user_id][1] += row.billable_seconds
    for off in time_off.days:  # someone away all period with no time logged is still shown
        if ctx.period.start <= off.day <= ctx.period.end and off.day.weekday() < 5:
            per_user.setdefault(off.user_id, [0, 0])
    users = {*per_user, *(off.user_id for off in time_off.days)}
    per_day_of = {
        u: Decimal(params.capacity_hours.get(u, params.capacity_hours_per_day)) for u in users
    }
    taken_by = _time_off_seconds(time_off, ctx, per_day_of)
    days = working_days(ctx.period)
    p = params.hours_precision
    table_rows: list[tuple[Value, ...]] = []
    team = [0, 0, 0, 0]
    labels: list[str] = []
    series: dict[str, list[int]] = {"billable": [], "non-billable": []}
    for user_id in sorted(per_user, key=directory.user):
        seconds, bill = per_user[user_id]
        gross = int(per_day_of[user_id] * 3600 * days)
        away = min(taken_by.get(user_id, 0), gross)
        capacity = gross - away
        table_rows.append(
            _utilization_row(directory.user(user_id), seconds, bill, capacity, away, p)
        )
        team = [team[0] + seconds, team[1] + bill, team[2] + capacity, team[3] + away]
        labels.append(directory.user(user_id))
        series["billable"].append(bill)
        series["non-billable"].append(seconds - bill)
    columns = (
        "user",
        "seconds",
        "billable_seconds",
        "capacity_seconds",
        "hours",
        "billable_hours",
        "capacity_hours",
        "utilization_pct",
        "billable_pct",
        "time_off_seconds",
        "time_off_hours",
    )
    chart = Chart("Hours against capacity", labels, series)
    return Report(
        "utilization",
        "Utilization",
        ctx.workspace_id,
        ctx.period,
        ctx.fresh_up_to,
        ctx.excluded,
        [
            Table(
                "utilization",
                columns,
                table_rows,
                _utilization_row("team", team[0], team[1], team[2], team[3], p),
            )
        ],
        notes=_notes(days, time_off),
        chart=chart,
    )


def _notes(days: int, time_off: TimeOff) -> list[str]:
    base = f"capacity: {days} working days (Monday-Friday)"
    if not time_off.recorded:
        return [f"{base}; no HR source has recorded time off, so none is subtracted"]
    notes = [
        f"{base} minus approved time off from the HR source (time_off_seconds; cancelled or"
        " denied requests are not subtracted)"
    ]
    if time_off.unmatched_people:
        notes.append(
            f"time off of {time_off.unmatched_people} people whose work email matches no user"
            " is not subtracted"
        )
    return notes


def _utilization_row(  # noqa: PLR0917 - one table row's numbers
    who: str, seconds: int, billable: int, capacity: int, time_off: int, precision: int
) -> tuple[Value, ...]:
    def pct(part: int) -> Decimal | None:
        return None if capacity == 0 else (Decimal(100 * part) / capacity).quantize(Decimal("0.1"))

    return (
        who,
        seconds,
        billable,
        capacity,
        hours(seconds, precision),
        hours(billable, precision),
        hours(capacity, precision),
        pct(seconds),
        pct(billable),
        time_off,
        hours(time_off, precision),
    )
