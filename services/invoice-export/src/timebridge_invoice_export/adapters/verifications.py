"""FreshBooks callback verifications awaited, in invoice-export's database.

See :mod:`timebridge_invoice_export.handlers.verifications` for why each row exists; every
statement here is one atomic step, so replicas and concurrent requests share the limits.
"""

import datetime as dt

import asyncpg

from timebridge_common.crypto import SecretBox

REGISTERING = "*"
"""The callback id of the row that says a registration is under way for a connection."""


def _context(connection_id: str, callback_id: str) -> str:
    return f"accounting-connection:{connection_id}/held-verifier:{callback_id}"


class PostgresVerifications:
    def __init__(self, pool: asyncpg.Pool, box: SecretBox) -> None:
        self._pool = pool
        self._box = box

    async def registering(self, connection_id: str, until: dt.datetime) -> None:
        await self._pool.execute(
            "INSERT INTO webhook_verifications (connection_id, callback_id, expires_at)"
            " VALUES ($1, $2, $3) ON CONFLICT (connection_id, callback_id)"
            " DO UPDATE SET expires_at = EXCLUDED.expires_at",
            connection_id,
            REGISTERING,
            until,
        )

    async def registered(self, connection_id: str) -> None:
        await self._pool.execute(
            "DELETE FROM webhook_verifications WHERE connection_id = $1 AND callback_id = $2",
            connection_id,
            REGISTERING,
        )

    async def awaited(self, connection_id: str, callback_id: str, until: dt.datetime) -> str | None:
        """Await ``callback_id`` (FreshBooks returned it to us) until ``until``, with a fresh
        attempt budget; the verifier held for it, if one was posted before, is handed back."""
        async with self._pool.acquire() as conn, conn.transaction():
            sealed = await conn.fetchval(
                "SELECT verifier_enc FROM webhook_verifications"
                " WHERE connection_id = $1 AND callback_id = $2 FOR UPDATE",
                connection_id,
                callback_id,
            )
            await conn.execute(
                "INSERT INTO webhook_verifications"
                " (connection_id, callback_id, awaited, attempts, verifier_enc, expires_at)"
                " VALUES ($1, $2, true, 0, NULL, $3) ON CONFLICT (connection_id, callback_id)"
                " DO UPDATE SET awaited = true, attempts = 0, verifier_enc = NULL,"
                " expires_at = EXCLUDED.expires_at",
                connection_id,
                callback_id,
                until,
            )
        if sealed is None:
            return None
        return self._box.decrypt(sealed, context=_context(connection_id, callback_id))

    async def attempt(
        self, connection_id: str, callback_id: str, now: dt.datetime, max_attempts: int
    ) -> bool:
        """Take one of the awaited callback's attempts; False when it is not awaited (any more)
        or its attempts are spent."""
        taken = await self._pool.fetchval(
            "UPDATE webhook_verifications SET attempts = attempts + 1"
            " WHERE connection_id = $1 AND callback_id = $2 AND awaited"
            " AND expires_at > $3 AND attempts < $4 RETURNING true",
            connection_id,
            callback_id,
            now,
            max_attempts,
        )
        return bool(taken)

    async def hold(
        self,
        connection_id: str,
        callback_id: str,
        verifier: str,
        now: dt.datetime,
        max_held: int,
    ) -> bool:
        """Keep a verifier posted for a callback we do not know yet, while a registration is
        under way and fewer than ``max_held`` are kept; False otherwise (nothing kept)."""
        sealed = self._box.encrypt(verifier, context=_context(connection_id, callback_id))
        held = await self._pool.fetchval(
            "INSERT INTO webhook_verifications"
            " (connection_id, callback_id, awaited, verifier_enc, expires_at)"
            " SELECT $1, $2, false, $3, r.expires_at FROM webhook_verifications r"
            " WHERE r.connection_id = $1 AND r.callback_id = $5 AND r.expires_at > $4"
            " AND (SELECT count(*) FROM webhook_verifications h WHERE h.connection_id = $1"
            "      AND NOT h.awaited AND h.callback_id <> $5) < $6"
            " ON CONFLICT (connection_id, callback_id) DO UPDATE"
            " SET verifier_enc = EXCLUDED.verifier_enc WHERE NOT webhook_verifications.awaited"
            " RETURNING true",
            connection_id,
            callback_id,
            sealed,
            now,
            REGISTERING,
            max_held,
        )
        return bool(held)

    async def done(self, connection_id: str, callback_id: str) -> None:
        await self._pool.execute(
            "DELETE FROM webhook_verifications WHERE connection_id = $1 AND callback_id = $2",
            connection_id,
            callback_id,
        )

    async def is_verified(self, connection_id: str, callback_id: str) -> bool:
        """Whether a verifier of ``callback_id`` is kept already (FreshBooks confirmed it)."""
        found = await self._pool.fetchval(
            "SELECT webhook_verifiers ? $2 FROM accounting_connections WHERE connection_id = $1",
            connection_id,
            callback_id,
        )
        return bool(found)

    async def purge(self, now: dt.datetime) -> None:
        await self._pool.execute("DELETE FROM webhook_verifications WHERE expires_at <= $1", now)
