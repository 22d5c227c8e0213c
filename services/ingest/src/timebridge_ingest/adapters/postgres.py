"""Postgres repositories of the ingest service."""

import asyncpg

from timebridge_common.crypto import SecretBox


class PostgresWebhookSecrets:
    """Webhook secrets, encrypted at rest and bound to their workspace and source."""

    def __init__(self, pool: asyncpg.Pool, box: SecretBox) -> None:
        self._pool = pool
        self._box = box

    @staticmethod
    def _context(workspace_id: str, source: str) -> str:
        return f"webhook-secret:{workspace_id}:{source}"

    async def get(self, workspace_id: str, source: str) -> str | None:
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
