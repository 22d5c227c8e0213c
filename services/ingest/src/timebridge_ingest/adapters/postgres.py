"""Postgres repositories of the ingest service."""

import datetime as dt
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import asyncpg

from timebridge_common.crypto import SecretBox
from timebridge_common.db.outbox import enqueue
from timebridge_common.events import Envelope, Event, IntegrationSettings
from timebridge_ingest.domain.connections import Integration, Workspace
from timebridge_ingest.domain.polling import PollHealth


class PostgresWebhookSecrets:
    """Webhook secrets, encrypted at rest and bound to their workspace and source.

    Decrypted secrets are cached for ``ttl_s`` (every webhook needs one): a secret changed through
    another replica takes effect here within that time; one changed through this replica at once.
    """

    def __init__(self, pool: asyncpg.Pool, box: SecretBox, *, ttl_s: float = 30.0) -> None:
        self._pool = pool
        self._box = box
        self._ttl_s = ttl_s
        self._cache: dict[tuple[str, str], tuple[float, str | None]] = {}

    @staticmethod
    def _context(workspace_id: str, source: str) -> str:
        return f"webhook-secret:{workspace_id}:{source}"

    async def get(self, workspace_id: str, source: str) -> str | None:
        cached = self._cache.get((workspace_id, source))
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        secret = await self._load(workspace_id, source)
        self._cache[(workspace_id, source)] = (time.monotonic() + self._ttl_s, secret)
        return secret

    async def _load(self, workspace_id: str, source: str) -> str | None:
        stored = await self._pool.fetchval(
            "SELECT secret_enc FROM webhook_secrets WHERE workspace_id = $1 AND source = $2",
            workspace_id,
            source,
        )
        if stored is None:
            return None
        return self._box.decrypt(stored, context=self._context(workspace_id, source))

    async def put(self, workspace_id: str, source: str, secret: str) -> None:
        await self._pool.execute(
            "INSERT INTO webhook_secrets (workspace_id, source, secret_enc) VALUES ($1, $2, $3)"
            " ON CONFLICT (workspace_id, source)"
            " DO UPDATE SET secret_enc = EXCLUDED.secret_enc, updated_at = now()",
            workspace_id,
            source,
            self._box.encrypt(secret, context=self._context(workspace_id, source)),
        )
        self._cache.pop((workspace_id, source), None)


class _ConnectionsTx:
    def __init__(self, conn: asyncpg.Connection, box: SecretBox) -> None:
        self._conn = conn
        self._box = box

    async def workspace(self, workspace_id: str, *, for_update: bool = False) -> Workspace | None:
        row = await self._conn.fetchrow(
            "SELECT workspace_id, core_base_url, core_token_enc, revision, at_owner"  # noqa: S608
            " FROM workspaces WHERE workspace_id = $1" + (" FOR UPDATE" if for_update else ""),
            workspace_id,
        )
        return None if row is None else self._workspace(row)

    def _workspace(self, row: Mapping[str, Any]) -> Workspace:
        workspace_id, sealed = row["workspace_id"], row["core_token_enc"]
        token = (
            None
            if sealed is None
            else self._box.decrypt(sealed, context=f"core-token:{workspace_id}")
        )
        return Workspace(
            workspace_id, row["core_base_url"], token, row["revision"], at_owner=row["at_owner"]
        )

    async def not_at_owner(self) -> tuple[list[Workspace], list[Integration]]:
        """The workspaces and connected integrations whose secret the owner does not hold."""
        workspaces = await self._conn.fetch(
            "SELECT workspace_id, core_base_url, core_token_enc, revision, at_owner"
            " FROM workspaces WHERE NOT at_owner AND core_token_enc IS NOT NULL"
            " ORDER BY workspace_id"
        )
        integrations = await self._conn.fetch(
            _INTEGRATION + " WHERE NOT at_owner AND status = 'connected'"
            " AND api_key_enc IS NOT NULL ORDER BY created_at, integration_id"
        )
        return [self._workspace(r) for r in workspaces], [
            self._integration(r) for r in integrations
        ]

    async def mark_at_owner(self, connection_id: str) -> None:
        """The owner holds this connection's secret now (a Core one is ``core_<workspace>``):
        the copy here is wiped."""
        await self._conn.execute(
            "UPDATE integrations SET at_owner = true, api_key_enc = NULL WHERE integration_id = $1",
            connection_id,
        )
        if connection_id.startswith("core_"):
            await self._conn.execute(
                "UPDATE workspaces SET at_owner = true, core_token_enc = NULL"
                " WHERE workspace_id = $1",
                connection_id.removeprefix("core_"),
            )

    async def put_workspace(self, workspace: Workspace) -> None:
        await self._conn.execute(
            "INSERT INTO workspaces (workspace_id, core_base_url, core_token_enc, revision,"
            " at_owner) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (workspace_id) DO UPDATE SET"
            " core_base_url = EXCLUDED.core_base_url, core_token_enc = EXCLUDED.core_token_enc,"
            " revision = EXCLUDED.revision, at_owner = EXCLUDED.at_owner, updated_at = now()",
            workspace.workspace_id,
            workspace.core_base_url,
            self._sealed_token(workspace),
            workspace.revision,
            workspace.at_owner,
        )

    def _sealed_token(self, workspace: Workspace) -> str | None:
        """The Core token sealed, unless the owner holds it (then no copy is kept)."""
        if workspace.at_owner or workspace.core_token is None:
            return None
        context = f"core-token:{workspace.workspace_id}"
        return self._box.encrypt(workspace.core_token, context=context)

    async def integration(
        self, integration_id: str, *, for_update: bool = False
    ) -> Integration | None:
        row = await self._conn.fetchrow(
            _INTEGRATION + " WHERE integration_id = $1" + (" FOR UPDATE" if for_update else ""),
            integration_id,
        )
        return self._integration(row) if row else None

    async def integrations(self, workspace_id: str) -> list[Integration]:
        rows = await self._conn.fetch(
            _INTEGRATION + " WHERE workspace_id = $1 ORDER BY created_at, integration_id",
            workspace_id,
        )
        return [self._integration(r) for r in rows]

    async def integration_by_hook(self, hook_token_hash: str) -> Integration | None:
        row = await self._conn.fetchrow(
            _INTEGRATION + " WHERE hook_token_hash = $1", hook_token_hash
        )
        return self._integration(row) if row else None

    async def put_integration(self, integration: Integration) -> None:
        key = None if integration.at_owner else integration.api_key  # held there: no copy
        await self._conn.execute(
            "INSERT INTO integrations (integration_id, workspace_id, provider, base_url,"
            " api_key_enc, status, settings, account, hook_id, hook_token_hash, revision, extra,"
            " at_owner) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
            " ON CONFLICT (integration_id) DO UPDATE SET base_url = EXCLUDED.base_url,"
            " api_key_enc = EXCLUDED.api_key_enc, status = EXCLUDED.status,"
            " settings = EXCLUDED.settings, account = EXCLUDED.account,"
            " hook_id = EXCLUDED.hook_id, hook_token_hash = EXCLUDED.hook_token_hash,"
            " revision = EXCLUDED.revision, extra = EXCLUDED.extra,"
            " at_owner = EXCLUDED.at_owner, updated_at = now()",
            integration.integration_id,
            integration.workspace_id,
            integration.provider,
            integration.base_url,
            None if key is None else self._box.encrypt(key, context=_key_context(integration)),
            integration.status,
            integration.settings.model_dump(mode="json"),
            integration.account,
            integration.hook_id,
            integration.hook_token_hash,
            integration.revision,
            integration.extra,
            integration.at_owner,
        )

    async def add_pending_hook(self, hook_token_hash: str, workspace_id: str) -> None:
        await self._conn.execute(
            "INSERT INTO pending_hooks (hook_token_hash, workspace_id) VALUES ($1, $2)",
            hook_token_hash,
            workspace_id,
        )

    async def pending_hook_exists(self, hook_token_hash: str) -> bool:
        found: bool = await self._conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pending_hooks WHERE hook_token_hash = $1)",
            hook_token_hash,
        )
        return found

    async def remove_pending_hook(self, hook_token_hash: str) -> None:
        await self._conn.execute(
            "DELETE FROM pending_hooks WHERE hook_token_hash = $1", hook_token_hash
        )

    async def publish(self, events: Sequence[tuple[Event, Envelope]]) -> None:
        await enqueue(self._conn, events)

    def _integration(self, row: Mapping[str, Any]) -> Integration:
        integration = Integration(
            integration_id=row["integration_id"],
            workspace_id=row["workspace_id"],
            provider=row["provider"],
            base_url=row["base_url"],
            api_key=None,
            status=row["status"],
            settings=IntegrationSettings.model_validate(row["settings"]),
            account=dict(row["account"]),
            extra=dict(row["extra"]),
            hook_id=row["hook_id"],
            hook_token_hash=row["hook_token_hash"],
            revision=row["revision"],
            at_owner=row["at_owner"],
        )
        if row["api_key_enc"] is None:
            return integration
        key = self._box.decrypt(row["api_key_enc"], context=_key_context(integration))
        return replace(integration, api_key=key)


_INTEGRATION = (
    "SELECT integration_id, workspace_id, provider, base_url, api_key_enc, status, settings,"
    " account, hook_id, hook_token_hash, revision, extra, at_owner FROM integrations"
)


def _key_context(integration: Integration) -> str:
    return f"api-key:{integration.workspace_id}:{integration.integration_id}"


class PostgresConnections:
    def __init__(self, pool: asyncpg.Pool, box: SecretBox) -> None:
        self._pool = pool
        self._box = box

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_ConnectionsTx]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield _ConnectionsTx(conn, self._box)


class PostgresPolling:
    """Poll schedules, cursors and the health of each connection's observation."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def claim_due(self, now: dt.datetime, lease: dt.timedelta) -> list[str]:
        """Take the due connections: their next poll moves out by ``lease`` (a crash retries)."""
        rows = await self._pool.fetch(
            "UPDATE poll_schedule SET next_poll_at = $1 + $2::interval WHERE connection_id IN"
            " (SELECT connection_id FROM poll_schedule WHERE next_poll_at <= $1"
            "  ORDER BY next_poll_at FOR UPDATE SKIP LOCKED LIMIT 20) RETURNING connection_id",
            now,
            lease,
        )
        return [r["connection_id"] for r in rows]

    async def done(
        self,
        connection_id: str,
        *,
        next_at: dt.datetime,
        now: dt.datetime,
        error: str | None,
        error_kind: str | None = None,
    ) -> None:
        """Record the poll: a success clears the error and the failure count."""
        await self._pool.execute(
            "UPDATE poll_schedule SET next_poll_at = $2, last_polled_at = $3, last_error = $4,"
            " error_kind = $5,"
            " last_ok_at = CASE WHEN $4::text IS NULL THEN $3 ELSE last_ok_at END,"
            " failures = CASE WHEN $4::text IS NULL THEN 0 ELSE failures + 1 END"
            " WHERE connection_id = $1",
            connection_id,
            next_at,
            now,
            None if error is None else error[:1000],
            error_kind,
        )

    async def cursor(self, connection_id: str) -> str | None:
        cursor: str | None = await self._pool.fetchval(
            "SELECT cursor FROM poll_schedule WHERE connection_id = $1", connection_id
        )
        return cursor

    async def set_cursor(
        self, connection_id: str, cursor: str, *, workspace_id: str, now: dt.datetime
    ) -> None:
        """Save the cursor (scheduling the connection, due now, if it was not yet)."""
        await self._pool.execute(
            "INSERT INTO poll_schedule (connection_id, workspace_id, next_poll_at, cursor)"
            " VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (connection_id) DO UPDATE SET cursor = EXCLUDED.cursor",
            connection_id,
            workspace_id,
            now,
            cursor,
        )

    async def health(self, connection_id: str) -> PollHealth | None:
        row = await self._pool.fetchrow(
            "SELECT next_poll_at, last_polled_at, last_ok_at, last_error, error_kind, failures,"
            " hook_note, hook_note_at FROM poll_schedule WHERE connection_id = $1",
            connection_id,
        )
        return None if row is None else PollHealth(**dict(row))

    async def note_hook(self, connection_id: str, note: str, now: dt.datetime) -> None:
        """What happened to the connection's webhook (shown in its health)."""
        await self._pool.execute(
            "UPDATE poll_schedule SET hook_note = $2, hook_note_at = $3 WHERE connection_id = $1",
            connection_id,
            note[:1000],
            now,
        )

    async def poll_now(self, connection_id: str, now: dt.datetime) -> None:
        """Make the connection due now (a gap to re-poll)."""
        await self._pool.execute(
            "UPDATE poll_schedule SET next_poll_at = least(next_poll_at, $2)"
            " WHERE connection_id = $1",
            connection_id,
            now,
        )

    async def sync_schedules(self, now: dt.datetime) -> None:
        """Schedule every workspace's Core and every connected tracker whose changes matter
        (not a one-way Core -> tracker integration); drop the rest."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO poll_schedule (connection_id, workspace_id, next_poll_at)"  # noqa: S608
                " SELECT integration_id, workspace_id, $1::timestamptz FROM integrations"
                " WHERE " + _LISTENED + " UNION ALL"
                " SELECT 'core_' || workspace_id, workspace_id, $1::timestamptz FROM workspaces"
                " ON CONFLICT (connection_id) DO NOTHING",
                now,
            )
            await conn.execute(
                "DELETE FROM poll_schedule WHERE connection_id IN (SELECT integration_id"  # noqa: S608
                " FROM integrations WHERE NOT (" + _LISTENED + "))"
            )


_LISTENED = (
    "status = 'connected' AND coalesce(settings->>'direction', 'two_way') <> 'core_to_tracker'"
)
"""Integrations whose tracker is polled (``domain.connections.listens_to_tracker``)."""
