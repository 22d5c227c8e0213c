"""Time and billing reports: pure functions of read-model rows.

The utilization report lives in utilization.py, the performance report in performance.py.
"""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from timebridge_reporting.domain.report_model import (
    Chart,
    Period,
    Report,
    ReportParams,
    Table,
    Value,
    bucket,
    hours,
)

NO_CLIENT = "(no client)"
NO_PROJECT = "(no project)"


@dataclass(frozen=True, slots=True)
class TimeRow:
    """Seconds of one user on one project (and task) on one day, from the rollups or facts."""

    user_id: str
    project_id: str
    work_date: dt.date
    seconds: int
    billable_seconds: int
    task_id: str | None = None


@dataclass(frozen=True)
class Directory:
    """Names the reports show: clients of projects, clients' and users' names."""

    project_clients: dict[str, str] = field(default_factory=dict)
    client_names: dict[str, str] = field(default_factory=dict)
    user_names: dict[str, str] = field(default_factory=dict)

    def client_of(self, project_id: str) -> str:
        client = self.project_clients.get(project_id)
        return NO_CLIENT if client is None else self.client_names.get(client, client)

    def user(self, user_id: str) -> str:
        return self.user_names.get(user_id, user_id)


@dataclass(frozen=True)
class Context:
    """What every report states besides its numbers."""

    workspace_id: str
    period: Period
    fresh_up_to: dt.datetime | None
    excluded: dict[str, int]


def _wanted(row: TimeRow, params: ReportParams, directory: Directory) -> bool:
    if params.projects and row.project_id not in params.projects:
        return False
    client = directory.project_clients.get(row.project_id)
    return not params.clients or client in params.clients


def _group(row: TimeRow, params: ReportParams, directory: Directory) -> str:
    if params.group_by == "client":
        return directory.client_of(row.project_id)
    if params.group_by == "user":
        return directory.user(row.user_id)
    if params.group_by == "task":
        return row.task_id or "(no task)"
    return row.project_id or NO_PROJECT


def time_report(
    ctx: Context, params: ReportParams, rows: list[TimeRow], directory: Directory
) -> Report:
    """Hours per client/project/task/user and day/week/month, billable vs non-billable."""
    sums: dict[tuple[str, dt.date | None], list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        if ctx.period.start <= row.work_date <= ctx.period.end and _wanted(row, params, directory):
            group = _group(row, params, directory)
            key = (group, bucket(row.work_date, params.interval, params.week_start))
            sums[key][0] += row.seconds
            sums[key][1] += row.billable_seconds
    p = params.hours_precision
    table_rows: list[tuple[Value, ...]] = []
    total, billable = 0, 0
    for (group, start), (seconds, bill) in sorted(
        sums.items(), key=lambda kv: (kv[0][0], kv[0][1] or dt.date.min)
    ):
        table_rows.append(
            (group, start, seconds, bill, seconds - bill, hours(seconds, p), hours(bill, p))
        )
        total, billable = total + seconds, billable + bill
    columns = (
        params.group_by,
        "from",
        "seconds",
        "billable_seconds",
        "non_billable_seconds",
        "hours",
        "billable_hours",
    )
    totals = ("total", None, total, billable, total - billable, hours(total, p), hours(billable, p))
    per_group: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (group, _), (seconds, bill) in sums.items():
        per_group[group][0] += bill
        per_group[group][1] += seconds - bill
    labels = sorted(per_group)
    chart = Chart(
        f"Hours by {params.group_by}",
        labels,
        {
            "billable": [per_group[g][0] for g in labels],
            "non-billable": [per_group[g][1] for g in labels],
        },
    )
    return Report(
        "time",
        f"Time by {params.group_by} ({params.source})",
        ctx.workspace_id,
        ctx.period,
        ctx.fresh_up_to,
        ctx.excluded,
        [Table("time", columns, table_rows, totals)],
        chart=chart,
    )


@dataclass(frozen=True, slots=True)
class BillingRow:
    """Billable seconds of one project, and how many of them are on an invoice."""

    project_id: str
    billable_seconds: int
    invoiced_seconds: int


@dataclass(frozen=True, slots=True)
class InvoiceRow:
    invoice_id: str
    number: str | None
    provider: str
    client_id: str
    currency: str
    total: Decimal
    tool_status: str | None
    tool_total: Decimal | None
    amount_changed: bool
    deleted: bool
    amounts: dict[str, Decimal]
    """Exported amount per project id."""
    rate_sources: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Where the rates of each project's time lines came from (``InvoiceLine.rate_source``)."""


def billing_report(
    ctx: Context,
    params: ReportParams,
    rows: list[BillingRow],
    invoices: list[InvoiceRow],
    directory: Directory,
) -> Report:
    """Billable, unbilled, invoiced and paid per client and project; invoices with tool status.

    A client filter limits every table to those clients (a project by its client, an invoice by
    the client it was issued to), like the time report: a report for one client's contact must
    not carry another client's hours or invoices.
    """
    p = params.hours_precision
    if params.clients:
        rows = [r for r in rows if directory.project_clients.get(r.project_id) in params.clients]
        invoices = [i for i in invoices if i.client_id in params.clients]
    money: dict[tuple[str, str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 2)
    sources: dict[tuple[str, str], set[str]] = defaultdict(set)
    for invoice in invoices:
        if invoice.deleted:
            continue
        for project, used in invoice.rate_sources.items():
            sources[project, invoice.currency].update(used)
        for project, amount in invoice.amounts.items():
            key = (project, invoice.client_id, invoice.currency)
            money[key][0] += amount
            if invoice.tool_status == "paid":
                money[key][1] += amount
    table_rows: list[tuple[Value, ...]] = []
    seen_projects: set[str] = set()
    for row in sorted(rows, key=lambda r: (directory.client_of(r.project_id), r.project_id)):
        if params.projects and row.project_id not in params.projects:
            continue
        seen_projects.add(row.project_id)
        unbilled = row.billable_seconds - row.invoiced_seconds
        amounts = [(c, v) for (pr, _, c), v in money.items() if pr == row.project_id] or [
            ("", [Decimal(0), Decimal(0)])
        ]
        for currency, (invoiced, paid) in sorted(amounts):
            table_rows.append(
                (
                    directory.client_of(row.project_id),
                    row.project_id or NO_PROJECT,
                    row.billable_seconds,
                    row.invoiced_seconds,
                    unbilled,
                    hours(row.billable_seconds, p),
                    hours(unbilled, p),
                    currency or None,
                    invoiced,
                    paid,
                    _sources(sources, row.project_id, currency),
                )
            )
    for (project, client, currency), (invoiced, paid) in sorted(money.items()):
        if project not in seen_projects and not params.projects:
            name = directory.client_names.get(client, client)
            row_ = (name, project or NO_PROJECT, 0, 0, 0, hours(0, p), hours(0, p))
            table_rows.append(
                (*row_, currency, invoiced, paid, _sources(sources, project, currency))
            )
    columns = (
        "client",
        "project",
        "billable_seconds",
        "invoiced_seconds",
        "unbilled_seconds",
        "billable_hours",
        "unbilled_hours",
        "currency",
        "invoiced_amount",
        "paid_amount",
        "rate_source",
    )
    invoice_rows: list[tuple[Value, ...]] = [
        (
            i.invoice_id,
            i.number,
            directory.client_names.get(i.client_id, i.client_id),
            i.provider,
            i.currency,
            i.total,
            "deleted here" if i.deleted else i.tool_status or "draft",
            i.tool_total,
            "yes" if i.amount_changed else "no",
        )
        for i in invoices
    ]
    invoice_columns = (
        "invoice",
        "number",
        "client",
        "tool",
        "currency",
        "exported_total",
        "tool_status",
        "tool_total",
        "amount_changed",
    )
    return Report(
        "billing",
        "Billing",
        ctx.workspace_id,
        ctx.period,
        ctx.fresh_up_to,
        ctx.excluded,
        [
            Table("billing", columns, table_rows, _billing_totals(table_rows)),
            Table("invoices", invoice_columns, invoice_rows),
        ],
        notes=[
            "paid: invoices the accounting tool shows as fully paid",
            "rate_source: where the invoiced time lines' rates came from ('timebridge': its own"
            " rates; 'tracker:<integration>': the tracker's; 'not stated': an older invoice)",
        ],
    )


def _billing_totals(rows: list[tuple[Value, ...]]) -> tuple[Value, ...]:
    seconds = [sum(int(str(r[i])) for r in rows) for i in (2, 3, 4)]
    currencies = {r[7] for r in rows if r[7]}
    single = len(currencies) == 1
    invoiced = sum((Decimal(str(r[8])) for r in rows), Decimal(0)) if single else None
    paid = sum((Decimal(str(r[9])) for r in rows), Decimal(0)) if single else None
    currency = next(iter(currencies)) if single else None
    totals = (*seconds, hours(seconds[0]), hours(seconds[2]), currency, invoiced, paid, None)
    return ("total", None, *totals)


def _sources(sources: dict[tuple[str, str], set[str]], project: str, currency: str) -> str | None:
    return ", ".join(sorted(sources.get((project, currency), ()))) or None
