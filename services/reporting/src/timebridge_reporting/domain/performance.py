"""The performance report: per project, hours and amount against budget, burn rate, forecast.

Pure. Budgets are the contracts service's (``BudgetChanged``, kept in ``report_budgets``); time
is the home system's entries held here. A budget counts what it covers (projects, or one ticket
of a project) like the contracts service does: all of it for a total budget, the calendar month
for a monthly one, up to the report's *as-of* day (the period's end, or the freshness day if
earlier). Money is billable hours x the project's invoiced hourly rate: the billing facts here
(exported invoice lines, ``InvoiceExported``) are the only prices reporting sees, so the rate
source is stated per row; without an invoice line in the budget's currency there is no amount.
"""

import datetime as dt
import math
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from timebridge_reporting.domain.report_model import Report, ReportParams, Table, Value, hours
from timebridge_reporting.domain.reports import NO_PROJECT, Context, Directory, TimeRow, _wanted

_HOUR = Decimal(3600)
_CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class BudgetRow:
    """A budget as contracts last announced it."""

    budget_id: str
    revision: int
    unit: str
    amount: Decimal
    currency: str | None
    period: str
    items: tuple[tuple[str, str | None], ...]
    """(project id, ticket id or None) it covers."""

    def covers(self, project_id: str, task_id: str | None) -> bool:
        return any(p == project_id and (t is None or t == task_id) for p, t in self.items)


@dataclass(frozen=True, slots=True)
class ProjectRate:
    """What a project's exported time lines billed in one currency: hours, amount, sources."""

    project_id: str
    currency: str
    hours: Decimal
    amount: Decimal
    sources: tuple[str, ...]

    @property
    def hourly(self) -> Decimal | None:
        return None if self.hours <= 0 else self.amount / self.hours


def as_of(ctx: Context) -> dt.date:
    """The last day the report can speak for: its end, or the day events are seen up to."""
    fresh = ctx.fresh_up_to.date() if ctx.fresh_up_to is not None else ctx.period.end
    return max(ctx.period.start, min(ctx.period.end, fresh))


def budget_window(budget: BudgetRow, day: dt.date) -> tuple[dt.date | None, dt.date]:
    """The days a budget counts up to ``day``: all of them, or the month of ``day``."""
    return (None if budget.period == "total" else day.replace(day=1)), day


@dataclass(frozen=True, slots=True)
class Standing:
    budget: BudgetRow
    seconds: int
    amount: Decimal | None
    spent: Decimal | None
    """In the budget's unit (hours or money); None: money without a rate."""
    percent: Decimal | None
    burn_per_week: Decimal | None
    forecast: dt.date | str | None
    rate_source: str


def standing(
    budget: BudgetRow, rows: list[TimeRow], rates: list[ProjectRate], day: dt.date
) -> Standing:
    """Consumption, burn rate (per week over the elapsed days) and the day it will be used up."""
    start, end = budget_window(budget, day)
    covered = [
        r
        for r in rows
        if (start is None or r.work_date >= start)
        and r.work_date <= end
        and budget.covers(r.project_id, r.task_id)
    ]
    seconds = sum(r.seconds for r in covered)
    amount, source = _amount(budget, covered, rates)
    spent = (Decimal(seconds) / _HOUR).quantize(_CENT) if budget.unit == "hours" else amount
    first = start or min((r.work_date for r in covered), default=day)
    weeks = Decimal((day - first).days + 1) / 7
    percent = burn = None
    forecast: dt.date | str | None = None
    if spent is not None:
        if budget.amount > 0:
            percent = (spent * 100 / budget.amount).quantize(Decimal("0.1"))
        burn = (spent / weeks).quantize(_CENT)
        if spent >= budget.amount:
            forecast = "used up"
        elif burn > 0:
            days_left = math.ceil((budget.amount - spent) / burn * 7)
            forecast = day + dt.timedelta(days=days_left)
    return Standing(budget, seconds, amount, spent, percent, burn, forecast, source)


def _amount(
    budget: BudgetRow, covered: list[TimeRow], rates: list[ProjectRate]
) -> tuple[Decimal | None, str]:
    billable: dict[str, int] = defaultdict(int)
    for row in covered:
        billable[row.project_id] += row.billable_seconds
    total = Decimal(0)
    sources: set[str] = set()
    for project, seconds in billable.items():
        if seconds == 0:
            continue
        rate = _rate_for(project, budget.currency, rates)
        if rate is None or rate.hourly is None:
            return (
                None,
                f"no rate: no exported invoice line of {project}"
                f" in {budget.currency or 'one currency'}",
            )
        total += Decimal(seconds) / _HOUR * rate.hourly
        sources.update(rate.sources)
    described = ", ".join(sorted(sources)) or "none needed"
    return total.quantize(_CENT), f"invoiced average rate ({described})"


def _rate_for(project: str, currency: str | None, rates: list[ProjectRate]) -> ProjectRate | None:
    mine = [r for r in rates if r.project_id == project]
    if currency is not None:
        mine = [r for r in mine if r.currency == currency]
    return mine[0] if len(mine) == 1 else None


@dataclass(frozen=True)
class Budgets:
    """The budgets, the time of their projects per task and day up to the as-of day (a total
    budget counts all of it), and the invoiced rates that price it."""

    budgets: list[BudgetRow]
    rows: list[TimeRow]
    rates: list[ProjectRate]


def performance_report(
    ctx: Context, params: ReportParams, rows: list[TimeRow], directory: Directory, b: Budgets
) -> Report:
    """One row per project and budget covering it (a project without one says so); ``rows``
    is the period's time per project."""
    budgets = b.budgets
    per_project: dict[str, int] = defaultdict(int)
    for row in rows:
        if ctx.period.start <= row.work_date <= ctx.period.end and _wanted(row, params, directory):
            per_project[row.project_id] += row.seconds
    day = as_of(ctx)
    for budget in budgets:
        for project, _ in budget.items:
            probe = TimeRow("", project, day, 0, 0)
            if _wanted(probe, params, directory):
                per_project.setdefault(project, 0)
    weeks = Decimal(len(ctx.period.days())) / 7
    p = params.hours_precision
    table_rows: list[tuple[Value, ...]] = []
    for project, seconds in sorted(per_project.items()):
        base: tuple[Value, ...] = (
            directory.client_of(project),
            project or NO_PROJECT,
            seconds,
            hours(seconds, p),
            (Decimal(seconds) / _HOUR / weeks).quantize(_CENT),
        )
        mine = [b for b in budgets if any(p_ == project for p_, _ in b.items)]
        if not mine:
            table_rows.append((*base, "no budget", *([None] * 9)))
            continue
        for budget in sorted(mine, key=lambda b: b.budget_id):
            s = standing(budget, b.rows, b.rates, day)
            table_rows.append(
                (
                    *base,
                    budget.budget_id,
                    f"{budget.unit}, {budget.period}",
                    budget.amount,
                    budget.currency,
                    hours(s.seconds, p),
                    s.amount,
                    s.percent,
                    s.burn_per_week,
                    s.forecast,
                    s.rate_source,
                )
            )
    columns = (
        "client",
        "project",
        "seconds",
        "hours",
        "hours_per_week",
        "budget",
        "budget_terms",
        "budget_amount",
        "currency",
        "budget_hours_used",
        "budget_amount_used",
        "consumption_pct",
        "burn_per_week",
        "forecast_to_completion",
        "rate_source",
    )
    notes = [
        f"as of {day.isoformat()}: a total budget counts all its time, a monthly one its month;"
        " burn per week (in the budget's unit) over the days elapsed since its first time",
        "amounts: billable hours x the project's average invoiced hourly rate"
        " (exported invoice lines, InvoiceExported); no rate, no amount",
        "a budget covering several projects shows the same use on each of them",
    ]
    if not budgets:
        notes.append("no budget: the contracts service announced none for this workspace")
    return Report(
        "performance",
        "Project performance",
        ctx.workspace_id,
        ctx.period,
        ctx.fresh_up_to,
        ctx.excluded,
        [Table("performance", columns, table_rows)],
        notes=notes,
    )
