"""Building one report: read the rows it needs, hand them to the pure report functions."""

import datetime as dt
from typing import Protocol

from timebridge_reporting.domain import reconciliation as rec
from timebridge_reporting.domain import tracker_summary as ts
from timebridge_reporting.domain.performance import Budgets, as_of, performance_report
from timebridge_reporting.domain.report_model import Period, Report, ReportParams
from timebridge_reporting.domain.reports import (
    BillingRow,
    Context,
    Directory,
    InvoiceRow,
    TimeRow,
    billing_report,
    time_report,
)
from timebridge_reporting.domain.utilization import TimeOff, utilization_report


class ReportQueries(Protocol):
    async def freshness(self, workspace_id: str) -> dt.datetime | None: ...

    async def time_rows(
        self,
        workspace_id: str,
        period: Period,
        source: str,
        *,
        by_task: bool = False,
        per_day: bool = True,
        per_project: bool = True,
    ) -> list[TimeRow]: ...

    async def directory(self, workspace_id: str) -> Directory: ...

    async def excluded(self, workspace_id: str, period: Period, source: str) -> dict[str, int]: ...

    async def billing_rows(self, workspace_id: str, period: Period) -> list[BillingRow]: ...

    async def invoices(self, workspace_id: str, period: Period) -> list[InvoiceRow]: ...

    async def reconciliation_inputs(
        self, workspace_id: str, period: Period
    ) -> tuple[list[rec.Entry], list[rec.Outcome], list[rec.Integration]]: ...

    async def budgets(self, workspace_id: str, up_to: dt.date) -> Budgets: ...

    async def tracker_summaries(
        self, workspace_id: str, period: Period
    ) -> tuple[list[ts.HeldSummary], list[ts.OurTotal]]: ...

    async def time_off(self, workspace_id: str, period: Period, source: str) -> TimeOff: ...


async def build_report(
    queries: ReportQueries, workspace_id: str, params: ReportParams, period: Period
) -> Report:
    # Freshness first: every event seen up to it is in the rows read after it.
    fresh = await queries.freshness(workspace_id)
    ctx = Context(
        workspace_id, period, fresh, await queries.excluded(workspace_id, period, params.source)
    )
    directory = await queries.directory(workspace_id)
    if params.kind in {"time", "utilization", "performance"}:
        by_task = params.kind == "time" and params.group_by == "task"
        per_day = params.kind == "time" and params.interval != "total"
        filtered = bool(params.projects or params.clients)
        per_project = params.kind != "utilization" or filtered
        rows = await queries.time_rows(
            workspace_id,
            period,
            params.source,
            by_task=by_task,
            per_day=per_day,
            per_project=per_project,
        )
        if params.kind == "time":
            return time_report(ctx, params, rows, directory)
        if params.kind == "utilization":
            time_off = await queries.time_off(workspace_id, period, params.source)
            return utilization_report(ctx, params, rows, directory, time_off)
        budgets = await queries.budgets(workspace_id, as_of(ctx))
        return performance_report(ctx, params, rows, directory, budgets)
    invoices = await queries.invoices(workspace_id, period)
    if params.kind == "billing":
        billing = await queries.billing_rows(workspace_id, period)
        return billing_report(ctx, params, billing, invoices, directory)
    entries, outcomes, integrations = await queries.reconciliation_inputs(workspace_id, period)
    report = rec.reconcile(
        ctx,
        entries,
        outcomes,
        integrations,
        [
            rec.Invoice(
                i.invoice_id,
                i.number,
                i.provider,
                i.total,
                i.tool_total,
                i.tool_status,
                i.amount_changed,
                i.deleted,
            )
            for i in invoices
        ],
    )
    # The trackers' own summaries vs the tracker entries held here (where a summary was fetched).
    summaries, ours = await queries.tracker_summaries(workspace_id, period)
    trackers = [ts.Tracker(i.integration_id, i.provider) for i in integrations]
    table, notes = ts.compare(trackers, summaries, ours)
    report.tables.append(table)
    report.notes.extend(notes)
    return report
