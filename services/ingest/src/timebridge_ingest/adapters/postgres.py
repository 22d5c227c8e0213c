"""Postgres repositories of the ingest service."""

import time

import asyncpg

from timebridge_common.crypto import SecretBox


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
