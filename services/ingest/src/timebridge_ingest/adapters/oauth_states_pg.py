"""One-time OAuth consent states in ingest's Postgres (migrations 0013, 0015; JSON columns in
and out as Python objects, the pool's codec)."""

import datetime as dt

import asyncpg

from timebridge_common.events import IntegrationSettings
from timebridge_ingest.handlers.oauth_connect import ConsentStarted


class PostgresOAuthStates:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add(self, state_hash: str, started: ConsentStarted, expires_at: dt.datetime) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM oauth_states WHERE expires_at < now()")
            await conn.execute(
                "INSERT INTO oauth_states (state_hash, workspace_id, provider, admin_id, settings,"
                " fields, redirect_uri, expires_at, history_from)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                state_hash,
                started.workspace_id,
                started.provider,
                started.admin_id,
                started.settings.model_dump(mode="json"),
                dict(started.fields),
                started.redirect_uri,
                expires_at,
                started.history_from,
            )

    async def spend(
        self, state_hash: str, provider: str, now: dt.datetime
    ) -> ConsentStarted | None:
        """The state's consent, deleted in the same statement (a second caller gets None)."""
        row = await self._pool.fetchrow(
            "DELETE FROM oauth_states WHERE state_hash = $1 RETURNING workspace_id, provider,"
            " admin_id, settings, fields, redirect_uri, expires_at, history_from",
            state_hash,
        )
        if row is None or row["provider"] != provider or row["expires_at"] <= now:
            return None
        return ConsentStarted(
            workspace_id=row["workspace_id"],
            provider=row["provider"],
            admin_id=row["admin_id"],
            settings=IntegrationSettings.model_validate(row["settings"]),
            fields=dict(row["fields"]),
            redirect_uri=row["redirect_uri"],
            history_from=row["history_from"],
        )
