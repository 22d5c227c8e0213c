"""Postgres side of emailed report requests: who may ask, what names mean, what was asked."""

import datetime as dt
from dataclasses import dataclass

import asyncpg

from timebridge_reporting.adapters.runs import Definition, definition_of


@dataclass(frozen=True, slots=True)
class Received:
    """One received request: to which workspace, its Message-ID, from whom, about what."""

    workspace_id: str
    message_id: str
    sender: str
    subject: str


class PostgresInbound:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def definitions(self, workspace_id: str) -> list[Definition]:
        rows = await self._pool.fetch(
            "SELECT * FROM report_definitions WHERE workspace_id = $1 AND deleted_at IS NULL"
            " ORDER BY created_at",
            workspace_id,
        )
        return [definition_of(r) for r in rows]

    async def client_or_project(
        self, workspace_id: str, target: str, scope: frozenset[str] | None = None
    ) -> tuple[str, str] | None:
        """("client", id) for a client's name or id, ("project", id) for a known project id.

        With a client ``scope`` only those clients and their projects are found: one outside it
        is answered like an unknown name, so a request cannot probe other clients' names.
        """
        if scope is not None:
            return await self._scoped(workspace_id, target, sorted(scope))
        client = await self._pool.fetchval(
            "SELECT client_id FROM report_clients WHERE workspace_id = $1"
            " AND (lower(name) = lower($2) OR client_id = $2) ORDER BY client_id LIMIT 1",
            workspace_id,
            target,
        )
        if client is not None:
            return "client", str(client)
        project = await self._pool.fetchval(
            "SELECT project_id FROM report_project_clients WHERE workspace_id = $1"
            " AND lower(project_id) = lower($2)"
            " UNION ALL SELECT project_id FROM report_rollups WHERE workspace_id = $1"
            " AND lower(project_id) = lower($2) LIMIT 1",
            workspace_id,
            target,
        )
        return None if project is None else ("project", str(project))

    async def _scoped(
        self, workspace_id: str, target: str, clients: list[str]
    ) -> tuple[str, str] | None:
        client = await self._pool.fetchval(
            "SELECT client_id FROM report_clients WHERE workspace_id = $1"
            " AND (lower(name) = lower($2) OR client_id = $2) AND client_id = ANY($3::text[])"
            " ORDER BY client_id LIMIT 1",
            workspace_id,
            target,
            clients,
        )
        if client is not None:
            return "client", str(client)
        project = await self._pool.fetchval(
            "SELECT project_id FROM report_project_clients WHERE workspace_id = $1"
            " AND lower(project_id) = lower($2) AND client_id = ANY($3::text[]) LIMIT 1",
            workspace_id,
            target,
            clients,
        )
        return None if project is None else ("project", str(project))

    async def record(
        self,
        received: Received,
        outcome: str,
        now: dt.datetime,
        *,
        detail: str | None = None,
        conn: asyncpg.Connection | None = None,
    ) -> bool:
        """Record a received request; ``False`` if this message was already handled."""
        target = conn if conn is not None else self._pool
        inserted = await target.fetchval(
            "INSERT INTO report_requests (workspace_id, message_id, sender, subject, outcome,"
            " detail, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT DO NOTHING RETURNING true",
            received.workspace_id,
            received.message_id[:300],
            received.sender[:320],
            received.subject[:300],
            outcome,
            None if detail is None else detail[:2000],
            now,
        )
        return bool(inserted)

    @staticmethod
    async def link_run(conn: asyncpg.Connection, received: Received, run_id: str) -> None:
        await conn.execute(
            "UPDATE report_requests SET run_id = $3 WHERE workspace_id = $1 AND message_id = $2",
            received.workspace_id,
            received.message_id[:300],
            run_id,
        )

    async def requests(self, workspace_id: str, limit: int = 50) -> list[dict[str, object]]:
        rows = await self._pool.fetch(
            "SELECT message_id, sender, subject, outcome, run_id, detail, received_at"
            " FROM report_requests WHERE workspace_id = $1 ORDER BY received_at DESC LIMIT $2",
            workspace_id,
            limit,
        )
        return [dict(r) for r in rows]

    def transaction_pool(self) -> asyncpg.Pool:
        return self._pool
