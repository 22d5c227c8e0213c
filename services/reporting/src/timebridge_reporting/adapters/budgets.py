"""Budgets (BudgetChanged) and the invoiced rates that price them: writes and the reads of the
performance report."""

import datetime as dt
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import asyncpg

from timebridge_common.events import Envelope
from timebridge_common.events.budgets import BudgetChanged
from timebridge_reporting.domain.performance import BudgetRow, ProjectRate
from timebridge_reporting.domain.reports import TimeRow


class PostgresBudgets:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record(self, envelope: Envelope, event: BudgetChanged) -> bool:
        """Keep the latest announcement per budget; ``False`` if an equal or newer one is held."""
        items = [[i.project_id, i.ticket_id] for i in event.items]
        status: str = await self._pool.execute(
            "INSERT INTO report_budgets (workspace_id, budget_id, revision, target_kind,"
            " target_id, contract_id, items, unit, amount, currency, period, changed_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12)"
            " ON CONFLICT (workspace_id, budget_id) DO UPDATE SET revision = EXCLUDED.revision,"
            " target_kind = EXCLUDED.target_kind, target_id = EXCLUDED.target_id,"
            " contract_id = EXCLUDED.contract_id, items = EXCLUDED.items, unit = EXCLUDED.unit,"
            " amount = EXCLUDED.amount, currency = EXCLUDED.currency, period = EXCLUDED.period,"
            " changed_at = EXCLUDED.changed_at"
            " WHERE (report_budgets.revision, report_budgets.changed_at)"
            " < (EXCLUDED.revision, EXCLUDED.changed_at)",
            event.workspace_id,
            event.budget_id,
            event.revision,
            event.target_kind,
            event.target_id,
            event.contract_id,
            json.dumps(items),
            event.unit,
            event.amount,
            event.currency,
            event.period,
            event.changed_at,
        )
        await self._pool.execute(
            "INSERT INTO report_freshness (workspace_id, seen_up_to) VALUES ($1, $2)"
            " ON CONFLICT (workspace_id) DO UPDATE SET"
            " seen_up_to = greatest(report_freshness.seen_up_to, EXCLUDED.seen_up_to)",
            envelope.workspace_id,
            envelope.occurred_at,
        )
        return status.endswith(" 1")

    async def budgets(self, workspace_id: str) -> list[BudgetRow]:
        rows = await self._pool.fetch(
            "SELECT budget_id, revision, unit, amount, currency, period, items"
            " FROM report_budgets WHERE workspace_id = $1 ORDER BY budget_id",
            workspace_id,
        )
        return [
            BudgetRow(
                r["budget_id"],
                r["revision"],
                r["unit"],
                r["amount"],
                r["currency"],
                r["period"],
                tuple((str(p), t) for p, t in _loads(r["items"])),
            )
            for r in rows
        ]

    async def budget_time(
        self, workspace_id: str, project_ids: list[str], up_to: dt.date
    ) -> list[TimeRow]:
        """The home system's time on these projects per user, task and day, up to ``up_to``."""
        rows = await self._pool.fetch(
            "SELECT user_id, project_id, task_id, work_date, sum(seconds) AS seconds,"
            " sum(CASE WHEN billable THEN seconds ELSE 0 END) AS billable_seconds"
            " FROM report_entries WHERE workspace_id = $1 AND source = 'core'"
            " AND project_id = ANY($2::text[]) AND work_date <= $3 AND NOT deleted"
            " AND NOT running GROUP BY 1, 2, 3, 4",
            workspace_id,
            project_ids,
            up_to,
        )
        return [time_row(r) for r in rows]

    async def project_rates(self, workspace_id: str) -> list[ProjectRate]:
        """Per project and currency: what its invoices' time lines billed (deleted ones not)."""
        rows = await self._pool.fetch(
            "SELECT r.project_id, r.currency, r.hours, r.amount, r.rate_sources"
            " FROM report_invoice_rates r JOIN invoices i ON i.workspace_id = r.workspace_id"
            " AND i.invoice_id = r.invoice_id WHERE r.workspace_id = $1 AND i.deleted_at IS NULL",
            workspace_id,
        )
        per: dict[tuple[str, str], tuple[Decimal, Decimal, set[str]]] = {}
        for r in rows:
            key = (r["project_id"], r["currency"])
            h, a, s = per.get(key, (Decimal(0), Decimal(0), set()))
            per[key] = (h + r["hours"], a + r["amount"], s | set(r["rate_sources"]))
        return [
            ProjectRate(project, currency, h, a, tuple(sorted(s)))
            for (project, currency), (h, a, s) in sorted(per.items())
        ]


def time_row(r: Mapping[str, Any]) -> TimeRow:
    """A row of time (user, project, task, day, seconds, billable part) as the reports take it."""
    return TimeRow(
        r["user_id"],
        r["project_id"],
        r["work_date"],
        int(r["seconds"]),
        int(r["billable_seconds"]),
        r["task_id"],
    )


def _loads(value: object) -> list[list[str | None]]:
    loaded = json.loads(value) if isinstance(value, str) else value
    assert isinstance(loaded, list)
    return loaded


def rate_rows(
    workspace_id: str,
    invoice_id: str,
    currency: str,
    lines: list[tuple[str, Decimal, Decimal, str]],
) -> list[tuple[str, str, str, str, Decimal, Decimal, list[str]]]:
    """One row per project of an invoice's time lines: (project, hours, amount, rate source)."""
    per: dict[str, tuple[Decimal, Decimal, set[str]]] = {}
    for project, qty, amount, source in lines:
        h, a, s = per.get(project, (Decimal(0), Decimal(0), set()))
        per[project] = (h + qty, a + amount, s | {source})
    return [
        (workspace_id, invoice_id, p, currency, h, a, sorted(s)) for p, (h, a, s) in per.items()
    ]
