"""The credential store in PostgreSQL: one row per connection, secrets sealed per column.

``locked`` holds the row lock (``SELECT ... FOR UPDATE``) for the whole refresh, so one process
refreshes and every other waits, then reads the rotated tokens; what the slot saves commits when
the context exits, before the caller hands anything out. A row whose sealed value does not
decrypt (copied from another connection or tenant, or a wrong key) is never handed out.
"""

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace

import asyncpg

from timebridge_common.crypto import DecryptionError, SecretBox
from timebridge_common.outbound.oauth import Tokens
from timebridge_common.refusals import ConflictError
from timebridge_credentials.domain.credentials import (
    NewCredential,
    Secret,
    Status,
    StoredCredential,
    seal_context,
)

_COLUMNS = (
    "workspace_id, connection_id, provider, kind, base_url, extra, secret_sealed, access_sealed,"
    " refresh_sealed, expires_at, state, last_error, last_error_at, last_refreshed_at, revision,"
    " updated_at"
)


class PostgresCredentialStore:
    def __init__(self, pool: asyncpg.Pool, box: SecretBox) -> None:
        self._pool = pool
        self._box = box

    async def get(self, workspace_id: str, connection_id: str) -> StoredCredential | None:
        row = await self._pool.fetchrow(
            f"SELECT {_COLUMNS} FROM credentials"  # noqa: S608 - constant columns
            " WHERE workspace_id = $1 AND connection_id = $2",
            workspace_id,
            connection_id,
        )
        return None if row is None else self._open(row)

    @asynccontextmanager
    async def locked(self, workspace_id: str, connection_id: str) -> AsyncIterator["_Slot | None"]:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"SELECT {_COLUMNS} FROM credentials"  # noqa: S608 - constant columns
                " WHERE workspace_id = $1 AND connection_id = $2 FOR UPDATE",
                workspace_id,
                connection_id,
            )
            yield None if row is None else _Slot(conn, self._box, self._open(row))

    async def put(self, new: NewCredential, now: dt.datetime) -> Status:
        ws, cid = new.workspace_id, new.connection_id
        secret = access = refresh = None
        expires_at = None
        if isinstance(new.secret, Secret):
            secret = self._box.encrypt(new.secret.value, context=seal_context(ws, cid, "secret"))
        else:
            access = self._box.encrypt(
                new.secret.access_token, context=seal_context(ws, cid, "access")
            )
            refresh = self._box.encrypt(
                new.secret.refresh_token, context=seal_context(ws, cid, "refresh")
            )
            expires_at = new.secret.expires_at
        row = await self._pool.fetchrow(
            "INSERT INTO credentials (workspace_id, connection_id, provider, kind, base_url, extra,"  # noqa: S608 - constant columns
            " secret_sealed, access_sealed, refresh_sealed, expires_at, updated_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            " ON CONFLICT (workspace_id, connection_id) DO UPDATE SET provider = EXCLUDED.provider,"
            " kind = EXCLUDED.kind, base_url = EXCLUDED.base_url, extra = EXCLUDED.extra,"
            " secret_sealed = EXCLUDED.secret_sealed, access_sealed = EXCLUDED.access_sealed,"
            " refresh_sealed = EXCLUDED.refresh_sealed, expires_at = EXCLUDED.expires_at,"
            " state = 'ok', last_error = NULL, last_error_at = NULL,"
            " revision = credentials.revision + 1, updated_at = EXCLUDED.updated_at"
            f" RETURNING {_COLUMNS}",
            ws,
            cid,
            new.provider,
            new.kind,
            new.base_url,
            dict(new.extra),
            secret,
            access,
            refresh,
            expires_at,
            now,
        )
        assert row is not None
        return _status(row)

    async def delete(self, workspace_id: str, connection_id: str) -> bool:
        deleted = await self._pool.fetchval(
            "DELETE FROM credentials WHERE workspace_id = $1 AND connection_id = $2 RETURNING true",
            workspace_id,
            connection_id,
        )
        return bool(deleted)

    async def statuses(self, workspace_id: str) -> list[Status]:
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM credentials"  # noqa: S608 - constant columns
            " WHERE workspace_id = $1 ORDER BY connection_id",
            workspace_id,
        )
        return [_status(r) for r in rows]

    async def refused(
        self, workspace_id: str, connection_id: str, reason: str, now: dt.datetime
    ) -> Status | None:
        row = await self._pool.fetchrow(
            "UPDATE credentials SET state = CASE WHEN kind = 'api_key'"  # noqa: S608 - constant
            " THEN 'needs_reauthorisation' ELSE state END,"
            " expires_at = CASE WHEN kind = 'oauth2' THEN LEAST(expires_at, $4) END,"
            " last_error = $3, last_error_at = $4, updated_at = $4"
            " WHERE workspace_id = $1 AND connection_id = $2"
            f" RETURNING {_COLUMNS}",
            workspace_id,
            connection_id,
            reason,
            now,
        )
        return None if row is None else _status(row)

    def _open(self, row: asyncpg.Record) -> StoredCredential:
        ws, cid = row["workspace_id"], row["connection_id"]
        try:
            if row["kind"] == "api_key":
                value = self._box.decrypt(
                    row["secret_sealed"], context=seal_context(ws, cid, "secret")
                )
                secret: Secret | Tokens = Secret(value)
            else:
                secret = Tokens(
                    self._box.decrypt(
                        row["access_sealed"], context=seal_context(ws, cid, "access")
                    ),
                    self._box.decrypt(
                        row["refresh_sealed"], context=seal_context(ws, cid, "refresh")
                    ),
                    row["expires_at"],
                )
        except DecryptionError as exc:
            raise ConflictError(
                f"the stored credential of connection {cid} does not decrypt: put it again"
            ) from exc
        return StoredCredential(_status(row), secret, row["base_url"], dict(row["extra"]))


@dataclass
class _Slot:
    conn: asyncpg.Connection
    box: SecretBox
    credential: StoredCredential

    async def save_tokens(self, tokens: Tokens, now: dt.datetime) -> None:
        status = self.credential.status
        ws, cid = status.workspace_id, status.connection_id
        await self.conn.execute(
            "UPDATE credentials SET access_sealed = $3, refresh_sealed = $4, expires_at = $5,"
            " last_refreshed_at = $6, last_error = NULL, last_error_at = NULL, updated_at = $6"
            " WHERE workspace_id = $1 AND connection_id = $2",
            ws,
            cid,
            self.box.encrypt(tokens.access_token, context=seal_context(ws, cid, "access")),
            self.box.encrypt(tokens.refresh_token, context=seal_context(ws, cid, "refresh")),
            tokens.expires_at,
            now,
        )
        self.credential = replace(self.credential, secret=tokens)

    async def needs_reauthorisation(self, reason: str, now: dt.datetime) -> None:
        await self._failed("needs_reauthorisation", reason, now)

    async def refresh_failed(self, reason: str, now: dt.datetime) -> None:
        await self._failed("ok", reason, now)

    async def _failed(self, state: str, reason: str, now: dt.datetime) -> None:
        status = self.credential.status
        await self.conn.execute(
            "UPDATE credentials SET state = $3, last_error = $4, last_error_at = $5,"
            " updated_at = $5 WHERE workspace_id = $1 AND connection_id = $2",
            status.workspace_id,
            status.connection_id,
            state,
            reason,
            now,
        )


def _status(row: asyncpg.Record) -> Status:
    return Status(
        workspace_id=row["workspace_id"],
        connection_id=row["connection_id"],
        provider=row["provider"],
        kind=row["kind"],
        state=row["state"],
        revision=row["revision"],
        updated_at=row["updated_at"],
        expires_at=row["expires_at"],
        last_refreshed_at=row["last_refreshed_at"],
        last_error=row["last_error"],
        last_error_at=row["last_error_at"],
    )
