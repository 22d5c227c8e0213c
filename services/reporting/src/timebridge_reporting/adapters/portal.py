"""Postgres side of the portal: link requests, one-time links, sessions, and scoped reads.

Every read of reports takes the session's workspace and address as parameters of the query
itself: a run or definition of another workspace, or not addressed to the recipient, is simply
not found. Single use is one ``UPDATE ... WHERE used_at IS NULL ... RETURNING``: of two
concurrent exchanges of one link, one gets the row.
"""

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg

from timebridge_reporting.adapters.runs import Definition, definition_of
from timebridge_reporting.domain.portal import LinkLimits, may_request
from timebridge_reporting.domain.report_model import ReportParams


@dataclass(frozen=True, slots=True)
class LinkRequest:
    request_id: str
    workspace_id: str
    email: str
    requested_at: dt.datetime
    attempts: int


@dataclass(frozen=True, slots=True)
class PortalSession:
    workspace_id: str
    email: str
    clients: frozenset[str] | None
    """The client scope fixed at sign-in (``None``: all clients)."""
    expires_at: dt.datetime


@dataclass(frozen=True, slots=True)
class PortalRun:
    run_id: str
    definition_id: str
    params: ReportParams
    row: dict[str, Any]


MAX_PENDING_PER_WORKSPACE = 1000


class PostgresPortal:
    def __init__(self, pool: asyncpg.Pool, limits: LinkLimits | None = None) -> None:
        self._pool = pool
        self._limits = limits or LinkLimits()

    # Sign-in links -----------------------------------------------------------------------------

    async def record_request(self, workspace_id: str, email: str, now: dt.datetime) -> bool:
        """Record a link request unless the address asked too often (or the workspace has too
        many waiting); the same work is done whether or not the address is a recipient."""
        async with self._pool.acquire() as conn, conn.transaction():
            # One request at a time per address: concurrent ones see each other's rows.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 14))",
                f"{workspace_id}\n{email}",
            )
            previous = await conn.fetch(
                "SELECT requested_at FROM portal_link_requests WHERE workspace_id = $1"
                " AND email = $2 AND requested_at > $3",
                workspace_id,
                email,
                now - dt.timedelta(hours=1),
            )
            if not may_request([r["requested_at"] for r in previous], now, self._limits):
                return False
            waiting = await conn.fetchval(
                "SELECT count(*) FROM portal_link_requests WHERE workspace_id = $1"
                " AND status = 'pending'",
                workspace_id,
            )
            if waiting >= MAX_PENDING_PER_WORKSPACE:
                return False
            await conn.execute(
                "INSERT INTO portal_link_requests (request_id, workspace_id, email, requested_at,"
                " next_attempt_at) VALUES ($1, $2, $3, $4, $4)",
                f"plr_{uuid.uuid4().hex}",
                workspace_id,
                email,
                now,
            )
        return True

    @asynccontextmanager
    async def due_request(
        self, now: dt.datetime
    ) -> AsyncIterator[tuple[asyncpg.Connection, LinkRequest] | None]:
        """A pending request, locked for this transaction (``FOR UPDATE SKIP LOCKED``)."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT request_id, workspace_id, email, requested_at, attempts"
                " FROM portal_link_requests WHERE status = 'pending' AND next_attempt_at <= $1"
                " ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED",
                now,
            )
            yield None if row is None else (conn, LinkRequest(**dict(row)))

    @staticmethod
    async def recipient_known(conn: asyncpg.Connection, workspace_id: str, email: str) -> bool:
        return bool(
            await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM report_definitions WHERE workspace_id = $1"
                " AND deleted_at IS NULL AND EXISTS (SELECT 1 FROM"
                " jsonb_array_elements_text(body->'recipients') r WHERE lower(r) = $2))",
                workspace_id,
                email,
            )
        )

    @staticmethod
    async def add_link(
        conn: asyncpg.Connection,
        request: LinkRequest,
        token_hash: bytes,
        now: dt.datetime,
        ttl: dt.timedelta,
    ) -> None:
        await conn.execute(
            "INSERT INTO portal_links (token_hash, request_id, workspace_id, email, created_at,"
            " expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            token_hash,
            request.request_id,
            request.workspace_id,
            request.email,
            now,
            now + ttl,
        )

    @staticmethod
    async def settle(
        conn: asyncpg.Connection,
        request: LinkRequest,
        status: str,
        *,
        error: str | None = None,
        retry_at: dt.datetime | None = None,
    ) -> None:
        """``status``: sent, ignored (not a recipient), failed; pending with ``retry_at``."""
        await conn.execute(
            "UPDATE portal_link_requests SET status = $2, attempts = attempts + 1,"
            " last_error = $3, next_attempt_at = coalesce($4, next_attempt_at)"
            " WHERE request_id = $1",
            request.request_id,
            status,
            None if error is None else error[:2000],
            retry_at,
        )

    async def forget_old(self, now: dt.datetime) -> None:
        """Settled requests and dead links older than a day are of no use to anyone."""
        day = now - dt.timedelta(days=1)
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "DELETE FROM portal_links WHERE expires_at < $1 OR used_at < $1", day
            )
            await conn.execute(
                "DELETE FROM portal_link_requests r WHERE status <> 'pending'"
                " AND requested_at < $1 AND NOT EXISTS"
                " (SELECT 1 FROM portal_links l WHERE l.request_id = r.request_id)",
                day,
            )
            await conn.execute("DELETE FROM portal_sessions WHERE expires_at < $1", day)

    async def use_link(self, token_hash: bytes, now: dt.datetime) -> tuple[str, str] | None:
        """(workspace, address) of a link that is valid now, marking it used; else None."""
        row = await self._pool.fetchrow(
            "UPDATE portal_links SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL"
            " AND expires_at > $2 RETURNING workspace_id, email",
            token_hash,
            now,
        )
        return None if row is None else (row["workspace_id"], row["email"])

    # Sessions ----------------------------------------------------------------------------------

    async def open_session(
        self,
        token_hash: bytes,
        *,
        workspace_id: str,
        email: str,
        clients: frozenset[str] | None,
        now: dt.datetime,
        ttl: dt.timedelta,
    ) -> dt.datetime:
        expires = now + ttl
        await self._pool.execute(
            "INSERT INTO portal_sessions (token_hash, workspace_id, email, clients, created_at,"
            " expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
            token_hash,
            workspace_id,
            email,
            None if clients is None else sorted(clients),
            now,
            expires,
        )
        return expires

    async def session(self, token_hash: bytes, now: dt.datetime) -> PortalSession | None:
        row = await self._pool.fetchrow(
            "SELECT workspace_id, email, clients, expires_at FROM portal_sessions"
            " WHERE token_hash = $1 AND ended_at IS NULL AND expires_at > $2",
            token_hash,
            now,
        )
        if row is None:
            return None
        clients = None if row["clients"] is None else frozenset(row["clients"])
        return PortalSession(row["workspace_id"], row["email"], clients, row["expires_at"])

    async def end_session(self, token_hash: bytes, now: dt.datetime) -> None:
        await self._pool.execute(
            "UPDATE portal_sessions SET ended_at = $2 WHERE token_hash = $1 AND ended_at IS NULL",
            token_hash,
            now,
        )

    # What a recipient may see ------------------------------------------------------------------

    async def definitions_of(self, workspace_id: str, email: str) -> list[Definition]:
        """Live definitions of the workspace that deliver to ``email``."""
        rows = await self._pool.fetch(
            "SELECT * FROM report_definitions WHERE workspace_id = $1 AND deleted_at IS NULL"
            " AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(body->'recipients') r"
            " WHERE lower(r) = $2) ORDER BY lower(name), definition_id",
            workspace_id,
            email,
        )
        return [definition_of(r) for r in rows]

    async def client_names(self, workspace_id: str, clients: list[str]) -> dict[str, str]:
        rows = await self._pool.fetch(
            "SELECT client_id, name FROM report_clients WHERE workspace_id = $1"
            " AND client_id = any($2::text[])",
            workspace_id,
            clients,
        )
        return {r["client_id"]: r["name"] for r in rows}

    async def runs_to(
        self,
        workspace_id: str,
        email: str,
        definition_ids: list[str],
        run_id: str | None = None,
        limit: int = 100,
    ) -> list[PortalRun]:
        """Runs of these definitions addressed to ``email`` (one run if ``run_id``), newest
        first, each with this recipient's own delivery only."""
        rows = await self._pool.fetch(
            "SELECT r.run_id, r.definition_id, r.params, r.status, r.cause, r.period_start,"
            " r.period_end, r.fresh_up_to, r.requested_at, r.finished_at, r.formats,"
            " (SELECT d.status FROM report_deliveries d WHERE d.run_id = r.run_id"
            "  AND lower(d.recipient) = $2 LIMIT 1) AS delivery,"
            " (SELECT array_agg(o.format ORDER BY o.format) FROM report_outputs o"
            "  WHERE o.run_id = r.run_id) AS outputs"
            " FROM report_runs r WHERE r.workspace_id = $1 AND r.definition_id = any($3::text[])"
            " AND EXISTS (SELECT 1 FROM unnest(r.recipients) x WHERE lower(x) = $2)"
            " AND ($4::text IS NULL OR r.run_id = $4)"
            " ORDER BY r.requested_at DESC, r.run_id LIMIT $5",
            workspace_id,
            email,
            definition_ids,
            run_id,
            limit,
        )
        found = []
        for row in rows:
            data = dict(row)
            params = ReportParams.model_validate(data.pop("params"))
            data["outputs"] = list(data["outputs"] or [])
            found.append(PortalRun(row["run_id"], row["definition_id"], params, data))
        return found

    async def output(self, run_id: str, fmt: str) -> bytes | None:
        body: bytes | None = await self._pool.fetchval(
            "SELECT body FROM report_outputs WHERE run_id = $1 AND format = $2", run_id, fmt
        )
        return body

    async def requests_since(self, workspace_id: str, email: str, since: dt.datetime) -> int:
        """Runs this recipient asked for through the portal since ``since`` (rate limit)."""
        count: int = await self._pool.fetchval(
            "SELECT count(*) FROM report_runs WHERE workspace_id = $1 AND cause = 'portal'"
            " AND requested_at > $3 AND recipients = ARRAY[$2]::text[]",
            workspace_id,
            email,
            since,
        )
        return count
