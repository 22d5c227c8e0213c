"""Postgres storage of invoice-export."""

from typing import Any, Literal

import asyncpg

from timebridge_common.db.inbox import once
from timebridge_common.events import Envelope
from timebridge_invoice_export.domain.ledger import LedgerChange

Applied = Literal["applied", "stale", "locked", "duplicate"]


class PostgresLedger:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def apply(self, consumer: str, envelope: Envelope, change: LedgerChange) -> Applied:
        async with once(self._pool, consumer, envelope) as conn:
            if conn is None:
                return "duplicate"
            key = change.key
            row = await conn.fetchrow(
                "SELECT source_updated_at, invoice_id FROM billable_entries"
                " WHERE workspace_id = $1 AND source = $2 AND source_external_id = $3 FOR UPDATE",
                key.workspace_id,
                key.source,
                key.source_external_id,
            )
            if row is not None and row["source_updated_at"] >= change.source_updated_at:
                return "stale"
            if row is not None and row["invoice_id"] is not None:
                await conn.execute(
                    "INSERT INTO locked_entry_changes (workspace_id, source, source_external_id,"
                    " invoice_id, source_updated_at) VALUES ($1, $2, $3, $4, $5)"
                    " ON CONFLICT DO NOTHING",
                    key.workspace_id,
                    key.source,
                    key.source_external_id,
                    row["invoice_id"],
                    change.source_updated_at,
                )
                return "locked"
            e = change.entry
            if e is None:
                await conn.execute(
                    "UPDATE billable_entries SET removed = true, source_updated_at = $4"
                    " WHERE workspace_id = $1 AND source = $2 AND source_external_id = $3",
                    key.workspace_id,
                    key.source,
                    key.source_external_id,
                    change.source_updated_at,
                )
                return "applied"
            await conn.execute(
                "INSERT INTO billable_entries (workspace_id, source, source_external_id,"
                " user_email, project_external_id, task_external_id, date, duration_seconds,"
                " notes, source_updated_at, removed)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, false)"
                " ON CONFLICT (workspace_id, source, source_external_id) DO UPDATE SET"
                " user_email = EXCLUDED.user_email,"
                " project_external_id = EXCLUDED.project_external_id,"
                " task_external_id = EXCLUDED.task_external_id, date = EXCLUDED.date,"
                " duration_seconds = EXCLUDED.duration_seconds, notes = EXCLUDED.notes,"
                " source_updated_at = EXCLUDED.source_updated_at, removed = false",
                key.workspace_id,
                key.source,
                key.source_external_id,
                e.user_email,
                e.project_external_id,
                e.task_external_id,
                e.date,
                e.duration_seconds,
                e.notes,
                change.source_updated_at,
            )
            return "applied"

    async def uninvoiced(self, workspace_id: str) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            "SELECT source, source_external_id, user_email, project_external_id,"
            " task_external_id, date, duration_seconds, notes FROM billable_entries"
            " WHERE workspace_id = $1 AND NOT removed AND invoice_id IS NULL"
            " ORDER BY date, source, source_external_id",
            workspace_id,
        )
        return [dict(r) for r in rows]
