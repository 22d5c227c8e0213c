"""Postgres read models of the reporting service."""

import datetime as dt
from typing import Any

import asyncpg

from timebridge_common.db.inbox import once
from timebridge_common.events import EntrySynced, Envelope, InvoiceExported


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
            return True

    async def record_invoice(
        self, consumer: str, envelope: Envelope, event: InvoiceExported
    ) -> bool:
        async with once(self._pool, consumer, envelope) as conn:
            if conn is None:
                return False
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
            return True

    async def sync_log(
        self,
        workspace_id: str,
        *,
        integration_id: str | None,
        status: str | None,
        since: dt.datetime | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            "SELECT event_id::text, integration_id, source, source_external_id, target,"
            " target_external_id, status, operation, reason, provider_response, user_email,"
            " source_updated_at, synced_at FROM sync_log WHERE workspace_id = $1"
            " AND ($2::text IS NULL OR integration_id = $2)"
            " AND ($3::text IS NULL OR status = $3)"
            " AND ($4::timestamptz IS NULL OR synced_at >= $4)"
            " ORDER BY synced_at DESC, event_id LIMIT $5",
            workspace_id,
            integration_id,
            status,
            since,
            limit,
        )
        return [dict(r) for r in rows]
