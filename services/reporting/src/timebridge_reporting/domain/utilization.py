"""Utilization report: hours per user and team against capacity, a pure function of rows."""

from collections import defaultdict
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


def utilization_report(
    ctx: Context, params: ReportParams, rows: list[TimeRow], directory: Directory
) -> Report:
    """Billable and total hours per user and for the team against capacity."""
    per_user: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        if ctx.period.start <= row.work_date <= ctx.period.end and _wanted(row, params, directory):
            per_user[row.user_id][0] += row.seconds
            per_user[row.user_id][1] += row.billable_seconds
    days = working_days(ctx.period)
    p = params.hours_precision
    table_rows: list[tuple[Value, ...]] = []
    team = [0, 0, 0]
    labels: list[str] = []
    series: dict[str, list[int]] = {"billable": [], "non-billable": []}
    for user_id in sorted(per_user, key=directory.user):
        seconds, bill = per_user[user_id]
        per_day = params.capacity_hours.get(user_id, params.capacity_hours_per_day)
        capacity = int(per_day * 3600 * days)
        table_rows.append(_utilization_row(directory.user(user_id), seconds, bill, capacity, p))
        team = [team[0] + seconds, team[1] + bill, team[2] + capacity]
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
                _utilization_row("team", team[0], team[1], team[2], p),
            )
        ],
        notes=[f"capacity: {days} working days (Monday-Friday); time off not yet subtracted"],
        chart=chart,
    )


def _utilization_row(
    who: str, seconds: int, billable: int, capacity: int, precision: int
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
    )
