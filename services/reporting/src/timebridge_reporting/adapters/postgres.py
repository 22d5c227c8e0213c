"""Postgres read models of the reporting service."""

import datetime as dt
from dataclasses import dataclass
from typing import Any

import asyncpg

from timebridge_common.db.inbox import once
from timebridge_common.events import (
    EntrySynced,
    Envelope,
    InvoiceDeleted,
    InvoiceExported,
    InvoiceStatusChanged,
)
from timebridge_reporting.domain.sync_log import SyncLogQuery


@dataclass(frozen=True, slots=True)
class Health:
    """An integration's sync health: the guide's "Monitor sync health: check logs regularly"."""

    last_success_at: dt.datetime | None
    last_error_at: dt.datetime | None
    errors_24h: int
    backlog: int
    """Entries whose last outcome is queued, conflict or error: waiting for someone or a retry."""
    open_conflicts: int


class PostgresReadModels:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record_sync(self, consumer: str, envelope: Envelope, event: EntrySynced) -> bool:
        async with once(self._pool, consumer, envelope) as conn:
            if conn is None:
                return False
            await conn.execute(
                "INSERT INTO sync_log (event_id, workspace_id, integration_id, source,"
                " source_external_id, target, target_external_id, status, operation, reason,"
                " provider_response, user_email, source_updated_at, synced_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                envelope.event_id,
                event.workspace_id,
                event.integration_id,
                event.source,
                event.source_external_id,
                event.target,
                event.target_external_id,
                event.status,
                event.operation,
                event.reason,
                event.provider_response,
                event.entry.user.email if event.entry else None,
                event.source_updated_at,
                event.synced_at,
            )
            await conn.execute(
                "INSERT INTO entry_status (workspace_id, integration_id, source,"
                " source_external_id, target, target_external_id, status, reason, synced_at,"
                " event_id)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                " ON CONFLICT (workspace_id, integration_id, source, source_external_id, target)"
                " DO UPDATE SET target_external_id = EXCLUDED.target_external_id,"
                " status = EXCLUDED.status, reason = EXCLUDED.reason,"
                " synced_at = EXCLUDED.synced_at, event_id = EXCLUDED.event_id"
                " WHERE entry_status.synced_at <= EXCLUDED.synced_at",
                event.workspace_id,
                event.integration_id,
                event.source,
                event.source_external_id,
                event.target,
                event.target_external_id,
                event.status,
                event.reason,
                event.synced_at,
                envelope.event_id,
            )
            return True

    async def record_invoice(
        self, consumer: str, envelope: Envelope, event: InvoiceExported
    ) -> bool:
        async with once(self._pool, consumer, envelope) as conn:
            if conn is None:
                return False
            await _lock_invoice(conn, event.workspace_id, event.invoice_id)
            await conn.execute(
                "INSERT INTO invoices (workspace_id, invoice_id, provider, provider_invoice_id,"
                " number, currency, total, period_start, period_end, status, exported_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                " ON CONFLICT (workspace_id, invoice_id) DO NOTHING",
                event.workspace_id,
                event.invoice_id,
                event.provider,
                event.provider_invoice_id,
                event.number,
                event.currency,
                event.total,
                event.period_start,
                event.period_end,
                event.status,
                event.exported_at,
            )
            await conn.executemany(
                "INSERT INTO invoiced_entries (workspace_id, entry_id, invoice_id, invoiced_at)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (workspace_id, entry_id) DO UPDATE SET"
                " invoice_id = EXCLUDED.invoice_id, invoiced_at = EXCLUDED.invoiced_at",
                [
                    (event.workspace_id, entry_id, event.invoice_id, event.exported_at)
                    for entry_id in event.entry_ids
                ],
            )
            await _apply_early_changes(conn, event.workspace_id, event.invoice_id)
            return True

    async def record_invoice_status(
        self, consumer: str, envelope: Envelope, event: InvoiceStatusChanged
    ) -> bool:
        """The tool's view of the invoice; an older change than the one held changes nothing."""
        async with once(self._pool, consumer, envelope) as conn:
            if conn is None:
                return False
            await _lock_invoice(conn, event.workspace_id, event.invoice_id)
            args = (
                event.workspace_id,
                event.invoice_id,
                event.status,
                event.number,
                event.total,
                event.amount_changed,
                event.changed_at,
            )
            known = await conn.fetchval(
                "SELECT true FROM invoices WHERE workspace_id = $1 AND invoice_id = $2",
                event.workspace_id,
                event.invoice_id,
            )
            if known:
                await conn.execute(
                    "UPDATE invoices SET tool_status = $3, number = coalesce($4, number),"
                    " tool_total = $5, amount_changed = $6, changed_at = $7"
                    " WHERE workspace_id = $1 AND invoice_id = $2"
                    " AND (changed_at IS NULL OR changed_at <= $7)",
                    *args,
                )
            else:  # its export is still on its way (another topic): applied when it arrives
                await conn.execute(
                    "INSERT INTO invoice_changes_early (workspace_id, invoice_id, tool_status,"
                    " number, tool_total, amount_changed, changed_at)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (workspace_id, invoice_id)"
                    " DO UPDATE SET tool_status = EXCLUDED.tool_status,"
                    " number = coalesce(EXCLUDED.number, invoice_changes_early.number),"
                    " tool_total = EXCLUDED.tool_total, amount_changed = EXCLUDED.amount_changed,"
                    " changed_at = EXCLUDED.changed_at"
                    " WHERE invoice_changes_early.changed_at IS NULL"
                    " OR invoice_changes_early.changed_at <= EXCLUDED.changed_at",
                    *args,
                )
            return True

    async def record_invoice_deleted(
        self, consumer: str, envelope: Envelope, event: InvoiceDeleted
    ) -> bool:
        """Its entries are uninvoiced again."""
        async with once(self._pool, consumer, envelope) as conn:
            if conn is None:
                return False
            await _lock_invoice(conn, event.workspace_id, event.invoice_id)
            updated = await conn.fetchval(
                "UPDATE invoices SET deleted_at = $3 WHERE workspace_id = $1 AND invoice_id = $2"
                " RETURNING true",
                event.workspace_id,
                event.invoice_id,
                event.deleted_at,
            )
            if not updated:  # deleted before its export was read: remembered for it
                await conn.execute(
                    "INSERT INTO invoice_changes_early (workspace_id, invoice_id, deleted_at)"
                    " VALUES ($1, $2, $3) ON CONFLICT (workspace_id, invoice_id)"
                    " DO UPDATE SET deleted_at = EXCLUDED.deleted_at",
                    event.workspace_id,
                    event.invoice_id,
                    event.deleted_at,
                )
            await conn.execute(
                "DELETE FROM invoiced_entries WHERE workspace_id = $1 AND invoice_id = $2",
                event.workspace_id,
                event.invoice_id,
            )
            return True

    async def invoices(self, workspace_id: str) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            "SELECT i.invoice_id, i.provider, i.provider_invoice_id, i.number, i.currency,"
            " i.total, i.tool_status, i.tool_total, i.amount_changed, i.period_start,"
            " i.period_end, i.exported_at, i.deleted_at, count(e.entry_id) AS entries"
            " FROM invoices i LEFT JOIN invoiced_entries e USING (workspace_id, invoice_id)"
            " WHERE i.workspace_id = $1 GROUP BY i.workspace_id, i.invoice_id"
            " ORDER BY i.exported_at DESC, i.invoice_id",
            workspace_id,
        )
        return [dict(r) for r in rows]

    async def entry_invoice(self, workspace_id: str, entry_id: str) -> dict[str, Any] | None:
        row = await self._pool.fetchrow(
            "SELECT e.invoice_id, e.invoiced_at, i.number, i.provider, i.tool_status"
            " FROM invoiced_entries e JOIN invoices i USING (workspace_id, invoice_id)"
            " WHERE e.workspace_id = $1 AND e.entry_id = $2",
            workspace_id,
            entry_id,
        )
        return None if row is None else dict(row)

    async def sync_log(self, workspace_id: str, query: SyncLogQuery) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            "SELECT event_id::text, integration_id, source, source_external_id, target,"
            " target_external_id, status, operation, reason, provider_response, user_email,"
            " source_updated_at, synced_at FROM sync_log WHERE workspace_id = $1"
            " AND ($2::text IS NULL OR integration_id = $2)"
            " AND ($3::text IS NULL OR status = $3)"
            " AND ($4::timestamptz IS NULL OR synced_at >= $4)"
            " AND ($5::timestamptz IS NULL OR synced_at < $5)"
            " AND ($6::text IS NULL OR source_external_id = $6 OR target_external_id = $6)"
            " AND ($7::text IS NULL OR lower(user_email) = lower($7))"
            " ORDER BY synced_at DESC, event_id LIMIT $8",
            workspace_id,
            query.integration_id,
            query.status,
            query.since,
            query.until,
            query.entry,
            query.user,
            query.limit,
        )
        return [dict(r) for r in rows]

    async def entry_status(
        self, workspace_id: str, source: str, source_external_id: str
    ) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            "SELECT integration_id, target, target_external_id, status, reason, synced_at"
            " FROM entry_status WHERE workspace_id = $1 AND source = $2"
            " AND source_external_id = $3 ORDER BY integration_id, target",
            workspace_id,
            source,
            source_external_id,
        )
        return [dict(r) for r in rows]

    async def health(self, workspace_id: str, integration_id: str, now: dt.datetime) -> Health:
        row = await self._pool.fetchrow(
            "SELECT"
            " (SELECT max(synced_at) FROM sync_log WHERE workspace_id = $1"
            "  AND integration_id = $2 AND status = 'synced') AS last_success_at,"
            " (SELECT max(synced_at) FROM sync_log WHERE workspace_id = $1"
            "  AND integration_id = $2 AND status = 'error') AS last_error_at,"
            " (SELECT count(*) FROM sync_log WHERE workspace_id = $1 AND integration_id = $2"
            "  AND status = 'error' AND synced_at >= $3) AS errors_24h,"
            " (SELECT count(*) FROM entry_status WHERE workspace_id = $1"
            "  AND integration_id = $2 AND status IN ('queued', 'conflict', 'error')) AS backlog,"
            " (SELECT count(*) FROM entry_status WHERE workspace_id = $1"
            "  AND integration_id = $2 AND status = 'conflict') AS open_conflicts",
            workspace_id,
            integration_id,
            now - dt.timedelta(hours=24),
        )
        return Health(**dict(row))


async def _lock_invoice(conn: asyncpg.Connection, workspace_id: str, invoice_id: str) -> None:
    """Serialise the three invoice topics' handlers for one invoice until the transaction ends.

    Without it a status change and its export handled at the same moment by two consumers each
    miss the other's uncommitted row: the change is parked as early and never applied.
    """
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('invoice/' || $1 || '/' || $2, 0))",
        workspace_id,
        invoice_id,
    )


async def _apply_early_changes(
    conn: asyncpg.Connection, workspace_id: str, invoice_id: str
) -> None:
    """A status change or deletion read before this export: apply it now."""
    early = await conn.fetchrow(
        "DELETE FROM invoice_changes_early WHERE workspace_id = $1 AND invoice_id = $2 RETURNING *",
        workspace_id,
        invoice_id,
    )
    if early is None:
        return
    if early["changed_at"] is not None:
        await conn.execute(
            "UPDATE invoices SET tool_status = $3, number = coalesce($4, number),"
            " tool_total = $5, amount_changed = $6, changed_at = $7"
            " WHERE workspace_id = $1 AND invoice_id = $2",
            workspace_id,
            invoice_id,
            early["tool_status"],
            early["number"],
            early["tool_total"],
            early["amount_changed"],
            early["changed_at"],
        )
    if early["deleted_at"] is not None:
        await conn.execute(
            "UPDATE invoices SET deleted_at = $3 WHERE workspace_id = $1 AND invoice_id = $2",
            workspace_id,
            invoice_id,
            early["deleted_at"],
        )
        await conn.execute(
            "DELETE FROM invoiced_entries WHERE workspace_id = $1 AND invoice_id = $2",
            workspace_id,
            invoice_id,
        )
