"""Read-side queries of the API (contracts with scopes and budgets, budget history)."""

from typing import Any

import asyncpg

from timebridge_contracts.adapters.postgres import (
    budget_of,
    contract_of,
    milestone_of,
    scope_of,
)
from timebridge_contracts.handlers.contracts import (
    budget_view,
    contract_view,
    milestone_view,
    scope_view,
)


class Reads:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def contracts(self, ws: str, status: str | None) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            "SELECT * FROM contracts WHERE workspace_id = $1 AND ($2::text IS NULL OR status = $2)"
            " ORDER BY created_at, contract_id",
            ws,
            status,
        )
        return [contract_view(contract_of(r)) for r in rows]

    async def contract(self, ws: str, contract_id: str) -> dict[str, Any] | None:
        row = await self._pool.fetchrow(
            "SELECT * FROM contracts WHERE workspace_id = $1 AND contract_id = $2", ws, contract_id
        )
        if row is None:
            return None
        scopes = await self._pool.fetch(
            "SELECT * FROM scopes WHERE workspace_id = $1 AND contract_id = $2"
            " ORDER BY created_at, scope_id",
            ws,
            contract_id,
        )
        budgets = await self._pool.fetch(
            "SELECT * FROM budgets WHERE workspace_id = $1 AND contract_id = $2 ORDER BY budget_id",
            ws,
            contract_id,
        )
        return contract_view(contract_of(row)) | {
            "scopes": [scope_view(scope_of(s)) for s in scopes],
            "budgets": [budget_view(budget_of(b)) for b in budgets],
        }

    async def budget(self, ws: str, budget_id: str) -> dict[str, Any] | None:
        row = await self._pool.fetchrow(
            "SELECT * FROM budgets WHERE workspace_id = $1 AND budget_id = $2", ws, budget_id
        )
        if row is None:
            return None
        revisions = await self._pool.fetch(
            "SELECT * FROM budget_revisions WHERE workspace_id = $1 AND budget_id = $2"
            " ORDER BY revision",
            ws,
            budget_id,
        )
        fired = await self._pool.fetch(
            "SELECT period_key, threshold, crossing, crossed_at FROM budget_fired"
            " WHERE workspace_id = $1 AND budget_id = $2 AND revision = $3 AND rearmed_at IS NULL"
            " ORDER BY period_key, threshold",
            ws,
            budget_id,
            row["revision"],
        )
        return budget_view(budget_of(row)) | {
            "revisions": [
                {
                    "revision": r["revision"],
                    "unit": r["unit"],
                    "amount": str(r["amount"]),
                    "period": r["period"],
                    "thresholds": list(r["thresholds"]),
                    "currency": r["currency"],
                    "changed_at": r["changed_at"].isoformat(),
                    "changed_by": r["changed_by"],
                }
                for r in revisions
            ],
            "crossed": [
                {
                    "period": f["period_key"],
                    "threshold": f["threshold"],
                    "crossing": f["crossing"],
                    "crossed_at": f["crossed_at"].isoformat(),
                }
                for f in fired
            ],
        }

    async def milestones(self, ws: str, project_id: str) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            "SELECT * FROM milestones WHERE workspace_id = $1 AND project_id = $2"
            " ORDER BY created_at, milestone_id",
            ws,
            project_id,
        )
        return [milestone_view(milestone_of(r)) for r in rows]
