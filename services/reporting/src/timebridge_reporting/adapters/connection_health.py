"""Postgres read model of connections' health changes (``ConnectionHealthChanged``)."""

from typing import Any

import asyncpg

from timebridge_common.db.inbox import once
from timebridge_common.events import Envelope
from timebridge_common.events.health import ConnectionHealthChanged
from timebridge_reporting.domain.connection_health import ConnectionLogQuery

_COLUMNS = (
    "event_id, workspace_id, connection_id, integration_id, provider, state, previous_state,"
    " error_class, message, provider_response, failures, changed_at"
)


class PostgresConnectionHealth:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record(
        self, consumer: str, envelope: Envelope, event: ConnectionHealthChanged
    ) -> bool:
        """Log the change once; the current state keeps the newest change (one partition per
        connection keeps them in order, the guard keeps a replayed old one from winning)."""
        async with once(self._pool, consumer, envelope) as conn:
            if conn is None:
                return False
            await conn.execute(
                f"INSERT INTO connection_health_log ({_COLUMNS})"  # noqa: S608 - constant columns
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                " ON CONFLICT (event_id) DO NOTHING",
                envelope.event_id,
                event.workspace_id,
                event.connection_id,
                event.integration_id,
                event.provider,
                event.state,
                event.previous_state,
                event.error_class,
                event.message,
                event.provider_response,
                event.failures,
                event.changed_at,
            )
            await conn.execute(
                "INSERT INTO connection_health (workspace_id, connection_id, integration_id,"
                " provider, state, error_class, message, provider_response, failures,"
                " changed_at, event_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
                " ON CONFLICT (workspace_id, connection_id) DO UPDATE SET"
                " integration_id = EXCLUDED.integration_id, provider = EXCLUDED.provider,"
                " state = EXCLUDED.state, error_class = EXCLUDED.error_class,"
                " message = EXCLUDED.message, provider_response = EXCLUDED.provider_response,"
                " failures = EXCLUDED.failures, changed_at = EXCLUDED.changed_at,"
                " event_id = EXCLUDED.event_id"
                " WHERE connection_health.changed_at <= EXCLUDED.changed_at",
                event.workspace_id,
                event.connection_id,
                event.integration_id,
                event.provider,
                event.state,
                event.error_class,
                event.message,
                event.provider_response,
                event.failures,
                event.changed_at,
                envelope.event_id,
            )
            return True

    async def changes(self, workspace_id: str, query: ConnectionLogQuery) -> list[dict[str, Any]]:
        """The workspace's connection changes, newest first."""
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM connection_health_log WHERE workspace_id = $1"  # noqa: S608
            " AND ($2::text IS NULL OR integration_id = $2)"
            " AND ($3::timestamptz IS NULL OR changed_at >= $3)"
            " AND ($4::timestamptz IS NULL OR changed_at < $4)"
            " ORDER BY changed_at DESC, event_id LIMIT $5",
            workspace_id,
            query.integration_id,
            query.since,
            query.until,
            query.limit,
        )
        return [dict(r) for r in rows]

    async def current(self, workspace_id: str, integration_id: str) -> dict[str, Any] | None:
        """The integration's connection state as its last change left it (``None``: no change
        seen yet, i.e. its polls have worked since it was connected)."""
        row = await self._pool.fetchrow(
            "SELECT state, error_class, message, provider_response, failures,"
            " changed_at AS since FROM connection_health"
            " WHERE workspace_id = $1 AND integration_id = $2"
            " ORDER BY changed_at DESC LIMIT 1",
            workspace_id,
            integration_id,
        )
        return None if row is None else dict(row)
