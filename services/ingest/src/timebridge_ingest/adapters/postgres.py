"""Postgres repositories of the ingest service."""

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
            "SELECT workspace_id, core_base_url, core_token_enc, revision FROM workspaces"  # noqa: S608
            " WHERE workspace_id = $1" + (" FOR UPDATE" if for_update else ""),
            workspace_id,
        )
        if row is None:
            return None
        token = self._box.decrypt(row["core_token_enc"], context=f"core-token:{workspace_id}")
        return Workspace(workspace_id, row["core_base_url"], token, row["revision"])

    async def put_workspace(self, workspace: Workspace) -> None:
        await self._conn.execute(
            "INSERT INTO workspaces (workspace_id, core_base_url, core_token_enc, revision)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (workspace_id) DO UPDATE SET"
            " core_base_url = EXCLUDED.core_base_url, core_token_enc = EXCLUDED.core_token_enc,"
            " revision = EXCLUDED.revision, updated_at = now()",
            workspace.workspace_id,
            workspace.core_base_url,
            self._box.encrypt(workspace.core_token, context=f"core-token:{workspace.workspace_id}"),
            workspace.revision,
        )

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

    async def integration_by_hook(self, hook_token: str) -> Integration | None:
        row = await self._conn.fetchrow(_INTEGRATION + " WHERE hook_token = $1", hook_token)
        return self._integration(row) if row else None

    async def put_integration(self, integration: Integration) -> None:
        key = integration.api_key
        await self._conn.execute(
            "INSERT INTO integrations (integration_id, workspace_id, provider, base_url,"
            " api_key_enc, status, settings, account, hook_id, hook_token, revision)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            " ON CONFLICT (integration_id) DO UPDATE SET base_url = EXCLUDED.base_url,"
            " api_key_enc = EXCLUDED.api_key_enc, status = EXCLUDED.status,"
            " settings = EXCLUDED.settings, account = EXCLUDED.account,"
            " hook_id = EXCLUDED.hook_id, hook_token = EXCLUDED.hook_token,"
            " revision = EXCLUDED.revision, updated_at = now()",
            integration.integration_id,
            integration.workspace_id,
            integration.provider,
            integration.base_url,
            None if key is None else self._box.encrypt(key, context=_key_context(integration)),
            integration.status,
            integration.settings.model_dump(mode="json"),
            integration.account,
            integration.hook_id,
            integration.hook_token,
            integration.revision,
        )

    async def add_pending_hook(self, hook_token: str, workspace_id: str) -> None:
        await self._conn.execute(
            "INSERT INTO pending_hooks (hook_token, workspace_id) VALUES ($1, $2)",
            hook_token,
            workspace_id,
        )

    async def pending_hook_exists(self, hook_token: str) -> bool:
        found: bool = await self._conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM pending_hooks WHERE hook_token = $1)", hook_token
        )
        return found

    async def remove_pending_hook(self, hook_token: str) -> None:
        await self._conn.execute("DELETE FROM pending_hooks WHERE hook_token = $1", hook_token)

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
            hook_id=row["hook_id"],
            hook_token=row["hook_token"],
            revision=row["revision"],
        )
        if row["api_key_enc"] is None:
            return integration
        key = self._box.decrypt(row["api_key_enc"], context=_key_context(integration))
        return replace(integration, api_key=key)


_INTEGRATION = (
    "SELECT integration_id, workspace_id, provider, base_url, api_key_enc, status, settings,"
    " account, hook_id, hook_token, revision FROM integrations"
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
