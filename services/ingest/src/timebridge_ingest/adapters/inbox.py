"""The webhook delivery inbox in Postgres: one row per record waiting to be re-read.

Several replicas share it: a worker claims due rows with ``FOR UPDATE SKIP LOCKED`` and moves
them out by a lease, so a crashed worker's rows come back. A row is deleted only if no delivery
about its record came while it was being read (``seq`` unchanged); otherwise it is due again.
"""

import datetime as dt
from collections.abc import Sequence

import asyncpg
from timebridge_providers.kit.ports.observe import Hint

from timebridge_common.errors import TransientError
from timebridge_ingest.domain.inbox import PendingDelivery


class PostgresDeliveryInbox:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def put(self, integration_id: str, hint: Hint, now: dt.datetime, *, limit: int) -> bool:
        """Store the hint (a record already waiting only counts one more delivery).

        False when the integration already has ``limit`` other records waiting: the inbox stays
        bounded whatever is posted to the URL. Postgres unreachable is a :class:`TransientError`.
        """
        try:
            stored = await self._pool.fetchval(
                "INSERT INTO hook_deliveries (integration_id, record_id, record_date, user_id,"
                " task_id, next_attempt_at) SELECT $1, $2, $3, $4, $5, $6"
                " WHERE (SELECT count(*) FROM hook_deliveries WHERE integration_id = $1) < $7"
                " OR EXISTS (SELECT 1 FROM hook_deliveries"
                "  WHERE integration_id = $1 AND record_id = $2)"
                " ON CONFLICT (integration_id, record_id) DO UPDATE SET"
                " record_date = EXCLUDED.record_date, user_id = EXCLUDED.user_id,"
                " task_id = EXCLUDED.task_id, seq = hook_deliveries.seq + 1,"
                " received_at = now()"
                " RETURNING true",
                integration_id,
                hint.external_id,
                hint.date,
                hint.user_id,
                hint.task_id,
                now,
                limit,
            )
        except (asyncpg.PostgresConnectionError, OSError) as exc:
            raise TransientError(f"the delivery inbox is unavailable: {exc}") from exc
        return bool(stored)

    async def claim_due(
        self, now: dt.datetime, lease: dt.timedelta, limit: int
    ) -> list[PendingDelivery]:
        rows = await self._pool.fetch(
            "UPDATE hook_deliveries SET next_attempt_at = $1 + $2::interval,"
            " attempts = attempts + 1 WHERE (integration_id, record_id) IN"
            " (SELECT integration_id, record_id FROM hook_deliveries"
            "  WHERE next_attempt_at <= $1 ORDER BY next_attempt_at"
            "  FOR UPDATE SKIP LOCKED LIMIT $3)"
            " RETURNING integration_id, record_id, record_date, user_id, task_id, seq",
            now,
            lease,
            limit,
        )
        return [
            PendingDelivery(
                r["integration_id"],
                Hint(r["record_id"], r["record_date"], r["user_id"], r["task_id"]),
                r["seq"],
            )
            for r in rows
        ]

    async def done(self, pending: Sequence[PendingDelivery], now: dt.datetime) -> None:
        """Published: remove each row, unless a newer delivery came (then it is due now)."""
        keys = [(p.integration_id, p.hint.external_id, p.seq) for p in pending]
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.executemany(
                "DELETE FROM hook_deliveries"
                " WHERE integration_id = $1 AND record_id = $2 AND seq = $3",
                keys,
            )
            await conn.executemany(
                "UPDATE hook_deliveries SET next_attempt_at = $4, last_error = NULL"
                " WHERE integration_id = $1 AND record_id = $2 AND seq <> $3",
                [(*k, now) for k in keys],
            )

    async def retry(
        self, pending: Sequence[PendingDelivery], next_at: dt.datetime, error: str
    ) -> None:
        await self._pool.executemany(
            "UPDATE hook_deliveries SET next_attempt_at = $3, last_error = $4"
            " WHERE integration_id = $1 AND record_id = $2",
            [(p.integration_id, p.hint.external_id, next_at, error[:1000]) for p in pending],
        )

    async def drop(self, integration_id: str) -> None:
        """The integration is gone or no longer listens: nothing of it is re-read."""
        await self._pool.execute(
            "DELETE FROM hook_deliveries WHERE integration_id = $1", integration_id
        )

    async def pending(self, integration_id: str | None = None) -> int:
        count: int = await self._pool.fetchval(
            "SELECT count(*) FROM hook_deliveries WHERE $1::text IS NULL OR integration_id = $1",
            integration_id,
        )
        return count

    async def backlog(self, integration_id: str) -> tuple[int, str | None]:
        """How many records wait to be re-read, and the last error of one (sync health)."""
        row = await self._pool.fetchrow(
            "SELECT count(*) AS n, (SELECT last_error FROM hook_deliveries"
            "  WHERE integration_id = $1 AND last_error IS NOT NULL"
            "  ORDER BY next_attempt_at DESC LIMIT 1) AS error"
            " FROM hook_deliveries WHERE integration_id = $1",
            integration_id,
        )
        assert row is not None
        return int(row["n"]), row["error"]
