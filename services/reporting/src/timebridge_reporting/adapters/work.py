"""Claiming report work in Postgres: due schedules, pending runs, due deliveries.

Each claim is a transaction holding a row lock (``FOR UPDATE SKIP LOCKED``): replicas never take
the same row, and the work commits with the state change or not at all. A process that dies
mid-way releases its lock with its connection, and the row is claimed again.
"""

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg

from timebridge_common.db.outbox import enqueue
from timebridge_common.events import Envelope
from timebridge_common.events.reports import ReportDelivered
from timebridge_reporting.adapters.runs import ClaimedRun, Definition, claimed, definition_of

PRODUCER = "reporting"


@dataclass(frozen=True, slots=True)
class Delivery:
    idempotency_key: str
    run_id: str
    workspace_id: str
    recipient: str
    attempts: int
    message_id: str


@dataclass(frozen=True, slots=True)
class Outcome:
    fresh_up_to: dt.datetime | None
    outputs: dict[str, bytes]
    deliveries: list[tuple[str, str, str]]
    """(idempotency key, recipient, message id)."""


class PostgresWork:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @asynccontextmanager
    async def due_definition(
        self, now: dt.datetime
    ) -> AsyncIterator[tuple[asyncpg.Connection, Definition] | None]:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT * FROM report_definitions WHERE deleted_at IS NULL"
                " AND next_fire_at <= $1 ORDER BY next_fire_at LIMIT 1 FOR UPDATE SKIP LOCKED",
                now,
            )
            yield None if row is None else (conn, definition_of(row))

    @staticmethod
    async def set_next_fire(
        conn: asyncpg.Connection, definition: Definition, next_fire: dt.datetime | None
    ) -> None:
        await conn.execute(
            "UPDATE report_definitions SET next_fire_at = $3"
            " WHERE workspace_id = $1 AND definition_id = $2",
            definition.workspace_id,
            definition.definition_id,
            next_fire,
        )

    @asynccontextmanager
    async def pending_run(
        self, now: dt.datetime
    ) -> AsyncIterator[tuple[asyncpg.Connection, ClaimedRun] | None]:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT * FROM report_runs WHERE status = 'pending' AND not_before <= $1"
                " ORDER BY not_before, run_id LIMIT 1 FOR UPDATE SKIP LOCKED",
                now,
            )
            yield None if row is None else (conn, claimed(row))

    @staticmethod
    async def finish_run(
        conn: asyncpg.Connection, run: ClaimedRun, outcome: Outcome, now: dt.datetime
    ) -> None:
        await conn.executemany(
            "INSERT INTO report_outputs (run_id, format, body) VALUES ($1, $2, $3)"
            " ON CONFLICT DO NOTHING",
            [(run.run_id, fmt, body) for fmt, body in outcome.outputs.items()],
        )
        await conn.executemany(
            "INSERT INTO report_deliveries (idempotency_key, run_id, workspace_id, recipient,"
            " next_attempt_at, message_id) VALUES ($1, $2, $3, $4, $5, $6)"
            " ON CONFLICT (idempotency_key) DO NOTHING",
            [
                (key, run.run_id, run.request.workspace_id, recipient, now, message_id)
                for key, recipient, message_id in outcome.deliveries
            ],
        )
        await conn.execute(
            "UPDATE report_runs SET status = 'done', attempts = attempts + 1, error = NULL,"
            " fresh_up_to = $2, finished_at = $3 WHERE run_id = $1",
            run.run_id,
            outcome.fresh_up_to,
            now,
        )

    @staticmethod
    async def fail_run(
        conn: asyncpg.Connection, run: ClaimedRun, error: str, retry_at: dt.datetime | None
    ) -> None:
        """Retry later, or give up (``retry_at`` None): the error shows in the run history."""
        await conn.execute(
            "UPDATE report_runs SET attempts = attempts + 1, error = $2,"
            " status = CASE WHEN $3::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,"
            " not_before = coalesce($3, not_before) WHERE run_id = $1",
            run.run_id,
            error[:2000],
            retry_at,
        )

    @asynccontextmanager
    async def due_delivery(
        self, now: dt.datetime
    ) -> AsyncIterator[tuple[asyncpg.Connection, Delivery] | None]:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT idempotency_key, run_id, workspace_id, recipient, attempts, message_id"
                " FROM report_deliveries WHERE status = 'pending' AND next_attempt_at <= $1"
                " ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED",
                now,
            )
            yield None if row is None else (conn, Delivery(**dict(row)))

    @staticmethod
    async def delivered(
        conn: asyncpg.Connection, delivery: Delivery, run: ClaimedRun, now: dt.datetime
    ) -> None:
        """Mark it sent and stage ``ReportDelivered`` in the same transaction."""
        await conn.execute(
            "UPDATE report_deliveries SET status = 'sent', attempts = attempts + 1, sent_at = $2,"
            " last_error = NULL WHERE idempotency_key = $1",
            delivery.idempotency_key,
            now,
        )
        request = run.request
        event = ReportDelivered(
            workspace_id=request.workspace_id,
            delivery_key=delivery.idempotency_key,
            run_id=run.run_id,
            definition_id=request.definition_id or None,
            kind=request.params.kind,
            period_start=request.period.start,
            period_end=request.period.end,
            cause=request.cause,
            recipient=delivery.recipient,
            formats=request.formats,
            message_id=delivery.message_id,
            attempts=delivery.attempts + 1,
            delivered_at=now,
        )
        await enqueue(conn, [(event, Envelope.for_event(event, producer=PRODUCER))])

    @staticmethod
    async def delivery_failed(
        conn: asyncpg.Connection, delivery: Delivery, error: str, retry_at: dt.datetime | None
    ) -> None:
        await conn.execute(
            "UPDATE report_deliveries SET attempts = attempts + 1, last_error = $2,"
            " status = CASE WHEN $3::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,"
            " next_attempt_at = coalesce($3, next_attempt_at) WHERE idempotency_key = $1",
            delivery.idempotency_key,
            error[:2000],
            retry_at,
        )

    async def run_of(self, conn: asyncpg.Connection, run_id: str) -> ClaimedRun:
        row = await conn.fetchrow("SELECT * FROM report_runs WHERE run_id = $1", run_id)
        return claimed(row)

    async def failures(self, workspace_id: str) -> dict[str, int]:
        """For health: failed runs and deliveries (given up), and deliveries being retried."""
        row = await self._pool.fetchrow(
            "SELECT (SELECT count(*) FROM report_runs WHERE workspace_id = $1"
            "  AND status = 'failed') AS failed_runs,"
            " (SELECT count(*) FROM report_deliveries WHERE workspace_id = $1"
            "  AND status = 'failed') AS failed_deliveries,"
            " (SELECT count(*) FROM report_deliveries WHERE workspace_id = $1"
            "  AND status = 'pending' AND attempts > 0) AS retrying_deliveries",
            workspace_id,
        )
        return {k: int(v) for k, v in dict(row).items()}
