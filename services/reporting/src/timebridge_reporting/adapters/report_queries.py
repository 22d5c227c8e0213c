"""Postgres reads behind the reports: rollups, facts, sync outcomes and invoices of a period."""

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import asyncpg
from timebridge_providers.installed import registry

from timebridge_reporting.adapters.budgets import PostgresBudgets, time_row
from timebridge_reporting.adapters.time_off import time_off_in
from timebridge_reporting.adapters.tracker_summaries import held_and_ours
from timebridge_reporting.domain import reconciliation as rec
from timebridge_reporting.domain.performance import Budgets
from timebridge_reporting.domain.report_model import Period
from timebridge_reporting.domain.reports import BillingRow, Directory, InvoiceRow, TimeRow
from timebridge_reporting.domain.tracker_summary import HeldSummary, OurTotal
from timebridge_reporting.domain.utilization import TimeOff

NOT_IN_CORE = ("queued", "conflict", "error")


class PostgresReportQueries:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def time_off(self, workspace_id: str, period: Period, source: str) -> TimeOff:
        """Approved HR time off of the period per user and day (utilization's capacity)."""
        return await time_off_in(self._pool, workspace_id, period, source)

    async def freshness(self, workspace_id: str) -> dt.datetime | None:
        value: dt.datetime | None = await self._pool.fetchval(
            "SELECT seen_up_to FROM report_freshness WHERE workspace_id = $1", workspace_id
        )
        return value

    async def time_rows(
        self,
        workspace_id: str,
        period: Period,
        source: str,
        *,
        by_task: bool = False,
        per_day: bool = True,
        per_project: bool = True,
    ) -> list[TimeRow]:
        """From the rollups (per task: from the entries, which are not rolled up by task).

        ``per_day=False`` sums the period in SQL (one row per user and project, dated at the
        period's start): what utilization and performance need, and far fewer rows to ship;
        ``per_project=False`` also folds the projects (utilization without project filters).
        """
        if by_task:
            sql = (
                "SELECT user_id, project_id, task_id, work_date, sum(seconds) AS seconds,"
                " sum(CASE WHEN billable THEN seconds ELSE 0 END) AS billable_seconds"
                " FROM report_entries WHERE workspace_id = $1 AND source = $2"
                " AND work_date BETWEEN $3 AND $4 AND NOT deleted AND NOT running"
                " GROUP BY 1, 2, 3, 4"
            )
        elif per_day:
            sql = (
                "SELECT user_id, project_id, NULL AS task_id, work_date, seconds, billable_seconds"
                " FROM report_rollups WHERE workspace_id = $1 AND work_date BETWEEN $3 AND $4"
                " AND source = $2 AND entries > 0"
            )
        elif not per_project:
            sql = (
                "SELECT user_id COLLATE \"C\" AS user_id, '' AS project_id, NULL AS task_id,"
                " $3::date AS work_date, sum(seconds) AS seconds,"
                " sum(billable_seconds) AS billable_seconds FROM report_rollups"
                " WHERE workspace_id = $1 AND work_date BETWEEN $3 AND $4 AND source = $2"
                " AND entries > 0 GROUP BY 1"
            )
        else:
            sql = (
                # Grouped in the "C" collation: byte order sorts several times faster than the
                # locale's, and the order is the domain's business anyway.
                'SELECT user_id COLLATE "C" AS user_id, project_id COLLATE "C" AS project_id,'
                " NULL AS task_id, $3::date AS work_date, sum(seconds) AS seconds,"
                " sum(billable_seconds) AS billable_seconds FROM report_rollups"
                " WHERE workspace_id = $1 AND work_date BETWEEN $3 AND $4 AND source = $2"
                " AND entries > 0 GROUP BY 1, 2"
            )
        rows = await self._pool.fetch(sql, workspace_id, source, period.start, period.end)
        return [time_row(r) for r in rows]

    async def directory(self, workspace_id: str) -> Directory:
        async with self._pool.acquire() as conn:
            projects = await conn.fetch(
                "SELECT project_id, client_id FROM report_project_clients WHERE workspace_id = $1",
                workspace_id,
            )
            clients = await conn.fetch(
                "SELECT client_id, name FROM report_clients WHERE workspace_id = $1", workspace_id
            )
            users = await conn.fetch(
                "SELECT user_id, name FROM report_users WHERE workspace_id = $1", workspace_id
            )
        return Directory(
            {r["project_id"]: r["client_id"] for r in projects},
            {r["client_id"]: r["name"] for r in clients},
            {r["user_id"]: r["name"] for r in users},
        )

    async def excluded(self, workspace_id: str, period: Period, source: str) -> dict[str, int]:
        """Left out of the totals: running timers, and tracker entries not (yet) in Core."""
        running = await self._pool.fetchval(
            "SELECT count(*) FROM report_entries WHERE workspace_id = $1 AND source = $2"
            " AND work_date BETWEEN $3 AND $4 AND running AND NOT deleted",
            workspace_id,
            source,
            period.start,
            period.end,
        )
        held = await self._pool.fetch(
            "SELECT CASE WHEN s.reason ILIKE '%user is mapped%' THEN 'unmapped_user'"
            " WHEN s.status = 'conflict' THEN 'in_conflict' ELSE s.status END AS why, count(*)"
            " FROM entry_status s JOIN report_entries e ON e.workspace_id = s.workspace_id"
            " AND e.source = s.source AND e.external_id = s.source_external_id"
            " WHERE s.workspace_id = $1 AND s.target = 'core' AND s.status = ANY($4::text[])"
            " AND e.work_date BETWEEN $2 AND $3 AND NOT e.deleted GROUP BY 1",
            workspace_id,
            period.start,
            period.end,
            list(NOT_IN_CORE),
        )
        excluded = {"running_timers": int(running)}
        excluded |= {f"tracker_entries_{r['why']}": int(r["count"]) for r in held}
        return excluded

    async def billing_rows(self, workspace_id: str, period: Period) -> list[BillingRow]:
        rows = await self._pool.fetch(
            "SELECT e.project_id, sum(e.seconds) AS billable,"
            " sum(CASE WHEN i.entry_id IS NULL THEN 0 ELSE e.seconds END) AS invoiced"
            " FROM report_entries e LEFT JOIN invoiced_entries i"
            " ON i.workspace_id = e.workspace_id AND i.entry_id = e.external_id"
            " WHERE e.workspace_id = $1 AND e.source = 'core' AND e.billable AND NOT e.deleted"
            " AND NOT e.running AND e.work_date BETWEEN $2 AND $3 GROUP BY 1 ORDER BY 1",
            workspace_id,
            period.start,
            period.end,
        )
        return [BillingRow(r["project_id"], int(r["billable"]), int(r["invoiced"])) for r in rows]

    async def invoices(self, workspace_id: str, period: Period) -> list[InvoiceRow]:
        """Invoices whose billing period overlaps ``period``, with their amounts per project."""
        rows = await self._pool.fetch(
            "SELECT i.invoice_id, i.number, i.provider, i.currency, i.total, i.tool_status,"
            " i.tool_total, i.amount_changed, i.deleted_at IS NOT NULL AS deleted,"
            " coalesce(min(a.client_id), '') AS client_id,"
            " coalesce(jsonb_object_agg(a.project_id, a.amount::text)"
            "  FILTER (WHERE a.project_id IS NOT NULL), '{}') AS amounts"
            ", coalesce((SELECT jsonb_object_agg(r.project_id, to_jsonb(r.rate_sources))"
            "  FROM report_invoice_rates r WHERE r.workspace_id = i.workspace_id"
            "  AND r.invoice_id = i.invoice_id), '{}') AS rate_sources"
            " FROM invoices i LEFT JOIN report_invoice_amounts a"
            " ON a.workspace_id = i.workspace_id AND a.invoice_id = i.invoice_id"
            " WHERE i.workspace_id = $1 AND i.period_start <= $3 AND i.period_end >= $2"
            " GROUP BY i.workspace_id, i.invoice_id ORDER BY i.exported_at, i.invoice_id",
            workspace_id,
            period.start,
            period.end,
        )
        return [
            InvoiceRow(
                r["invoice_id"],
                r["number"],
                r["provider"],
                r["client_id"],
                r["currency"],
                r["total"],
                r["tool_status"],
                r["tool_total"],
                r["amount_changed"],
                r["deleted"],
                {k: Decimal(v) for k, v in _json(r["amounts"]).items()},
                {k: tuple(v) for k, v in _json(r["rate_sources"]).items()},
            )
            for r in rows
        ]

    async def budgets(self, workspace_id: str, up_to: dt.date) -> Budgets:
        """The budgets, their projects' time up to ``up_to`` and the invoiced rates."""
        store = PostgresBudgets(self._pool)
        budgets = await store.budgets(workspace_id)
        projects = sorted({p for b in budgets for p, _ in b.items})
        rows = await store.budget_time(workspace_id, projects, up_to) if projects else []
        return Budgets(budgets, rows, await store.project_rates(workspace_id))

    async def tracker_summaries(
        self, workspace_id: str, period: Period
    ) -> tuple[list[HeldSummary], list[OurTotal]]:
        async with self._pool.acquire() as conn:
            return await held_and_ours(conn, workspace_id, period)

    async def reconciliation_inputs(
        self, workspace_id: str, period: Period
    ) -> tuple[list[rec.Entry], list[rec.Outcome], list[rec.Integration]]:
        async with self._pool.acquire() as conn:
            entries = await conn.fetch(
                "SELECT source, external_id, user_id, work_date, seconds, deleted, integration_id"
                " FROM report_entries WHERE workspace_id = $1 AND work_date BETWEEN $2 AND $3",
                workspace_id,
                period.start,
                period.end,
            )
            outcomes = await conn.fetch(
                "SELECT s.integration_id, s.source, s.source_external_id, s.target,"
                " s.target_external_id, s.status, s.reason FROM entry_status s"
                " JOIN report_entries e ON e.workspace_id = s.workspace_id"
                " AND ((e.source = s.source AND e.external_id = s.source_external_id)"
                "  OR (e.source = s.target AND e.external_id = s.target_external_id))"
                " WHERE s.workspace_id = $1 AND e.work_date BETWEEN $2 AND $3"
                " ORDER BY s.synced_at",
                workspace_id,
                period.start,
                period.end,
            )
            integrations = await conn.fetch(
                "SELECT connection_id, provider, state -> 'settings' ->> 'direction' AS direction"
                " FROM connections WHERE workspace_id = $1 AND provider <> 'core'"
                " AND status = 'connected' AND provider <> ALL($2::text[])"
                " ORDER BY connection_id",
                workspace_id,
                sorted(registry().names("hr")),  # HR sources (time off) are no sync targets
            )
        return (
            [rec.Entry(**dict(r)) for r in entries],
            list(dict.fromkeys(rec.Outcome(**dict(r)) for r in outcomes)),
            [
                rec.Integration(r["connection_id"], r["provider"], r["direction"] or "two_way")
                for r in integrations
            ],
        )


def _json(value: object) -> dict[str, Any]:
    loaded = json.loads(value) if isinstance(value, str) else value
    assert isinstance(loaded, dict)
    return loaded
