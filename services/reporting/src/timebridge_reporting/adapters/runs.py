"""Postgres store of report definitions, runs, outputs and deliveries.

Exactly once: a run is unique per (workspace, definition, run_key), where the key is the
schedule's period, the triggering event's id or the request's id; whoever inserts it first wins
and every other replica or retry finds it. Pending runs and deliveries are claimed with
``FOR UPDATE SKIP LOCKED`` and the work commits with the claim, so a crash leaves them pending.
"""

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from timebridge_common.db.outbox import enqueue
from timebridge_common.events import Envelope
from timebridge_reporting.domain.definitions import DefinitionBody
from timebridge_reporting.domain.report_model import Period, ReportParams
from timebridge_reporting.domain.tracker_summary import summary_request, summary_wait


@dataclass(frozen=True, slots=True)
class Definition:
    workspace_id: str
    definition_id: str
    body: DefinitionBody
    next_fire_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


@dataclass(frozen=True, slots=True)
class RunRequest:
    workspace_id: str
    definition_id: str
    run_key: str
    cause: str
    params: ReportParams
    formats: tuple[str, ...]
    recipients: tuple[str, ...]
    period: Period


@dataclass(frozen=True, slots=True)
class ClaimedRun:
    run_id: str
    request: RunRequest
    attempts: int


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def definition_of(row: asyncpg.Record) -> Definition:
    return Definition(
        row["workspace_id"],
        row["definition_id"],
        DefinitionBody.model_validate(row["body"]),
        row["next_fire_at"],
        row["created_at"],
        row["updated_at"],
    )


class NameTakenError(Exception):
    """Another live definition of the workspace has this name (names answer emailed requests)."""


class PostgresRuns:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    # Definitions -------------------------------------------------------------------------------

    async def create(
        self,
        workspace_id: str,
        body: DefinitionBody,
        now: dt.datetime,
        next_fire: dt.datetime | None,
    ) -> Definition:
        try:
            row = await self._pool.fetchrow(
                "INSERT INTO report_definitions (workspace_id, definition_id, name, body,"
                " next_fire_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)"
                " RETURNING *",
                workspace_id,
                new_id("rdef"),
                body.name,
                body.model_dump(mode="json"),
                next_fire,
                now,
            )
        except asyncpg.UniqueViolationError:
            raise NameTakenError(body.name) from None
        return definition_of(row)

    async def replace(
        self,
        workspace_id: str,
        definition_id: str,
        body: DefinitionBody,
        now: dt.datetime,
        next_fire: dt.datetime | None,
    ) -> Definition | None:
        try:
            row = await self._pool.fetchrow(
                "UPDATE report_definitions SET name = $3, body = $4, next_fire_at = $5,"
                " updated_at = $6 WHERE workspace_id = $1 AND definition_id = $2"
                " AND deleted_at IS NULL RETURNING *",
                workspace_id,
                definition_id,
                body.name,
                body.model_dump(mode="json"),
                next_fire,
                now,
            )
        except asyncpg.UniqueViolationError:
            raise NameTakenError(body.name) from None
        return None if row is None else definition_of(row)

    async def delete(self, workspace_id: str, definition_id: str, now: dt.datetime) -> bool:
        """Soft delete: its history stays; what it had not yet rendered or sent is cancelled."""
        async with self._pool.acquire() as conn, conn.transaction():
            done = await conn.fetchval(
                "UPDATE report_definitions SET deleted_at = $3, next_fire_at = NULL"
                " WHERE workspace_id = $1 AND definition_id = $2 AND deleted_at IS NULL"
                " RETURNING true",
                workspace_id,
                definition_id,
                now,
            )
            await conn.execute(
                "UPDATE report_runs SET status = 'cancelled', finished_at = $3"
                " WHERE workspace_id = $1 AND definition_id = $2 AND status = 'pending'",
                workspace_id,
                definition_id,
                now,
            )
            await conn.execute(
                "UPDATE report_deliveries SET status = 'cancelled' WHERE status = 'pending'"
                " AND run_id IN (SELECT run_id FROM report_runs WHERE workspace_id = $1"
                " AND definition_id = $2)",
                workspace_id,
                definition_id,
            )
        return bool(done)

    async def get(self, workspace_id: str, definition_id: str) -> Definition | None:
        row = await self._pool.fetchrow(
            "SELECT * FROM report_definitions WHERE workspace_id = $1 AND definition_id = $2"
            " AND deleted_at IS NULL",
            workspace_id,
            definition_id,
        )
        return None if row is None else definition_of(row)

    async def all(self, workspace_id: str) -> list[Definition]:
        rows = await self._pool.fetch(
            "SELECT * FROM report_definitions WHERE workspace_id = $1 AND deleted_at IS NULL"
            " ORDER BY created_at, definition_id",
            workspace_id,
        )
        return [definition_of(r) for r in rows]

    # Runs ----------------------------------------------------------------------------------------

    async def request(
        self, request: RunRequest, now: dt.datetime, conn: asyncpg.Connection | None = None
    ) -> tuple[str, bool]:
        """Insert the run unless its key exists; return its id and whether it is new."""
        if conn is None:
            async with self._pool.acquire() as own, own.transaction():
                return await self.request(request, now, own)
        sql = (
            "INSERT INTO report_runs (run_id, workspace_id, definition_id, run_key, cause, params,"
            " formats, recipients, period_start, period_end, requested_at, not_before)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            " ON CONFLICT (workspace_id, definition_id, run_key) DO NOTHING RETURNING run_id"
        )
        args = (
            new_id("run"),
            request.workspace_id,
            request.definition_id,
            request.run_key,
            request.cause,
            request.params.model_dump(mode="json"),
            list(request.formats),
            list(request.recipients),
            request.period.start,
            request.period.end,
            now,
            now + summary_wait(request.params.kind),
        )
        target = conn
        created = await target.fetchval(sql, *args)
        if created is not None:
            if request.params.kind == "reconciliation":  # the trackers' own summaries, fresh
                event, event_id = summary_request(
                    request.workspace_id, str(created), request.period, now
                )
                await enqueue(
                    conn,
                    [(event, Envelope.for_event(event, producer="reporting", event_id=event_id))],
                )
            return str(created), True
        existing = await target.fetchval(
            "SELECT run_id FROM report_runs WHERE workspace_id = $1 AND definition_id = $2"
            " AND run_key = $3",
            request.workspace_id,
            request.definition_id,
            request.run_key,
        )
        return str(existing), False

    async def runs(
        self, workspace_id: str, definition_id: str | None, limit: int = 50
    ) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            "SELECT r.run_id, r.definition_id, r.run_key, r.cause, r.status, r.attempts, r.error,"
            " r.period_start, r.period_end, r.fresh_up_to, r.requested_at, r.finished_at,"
            " r.formats, coalesce((SELECT jsonb_agg(jsonb_build_object('recipient', d.recipient,"
            "  'status', d.status, 'attempts', d.attempts, 'last_error', d.last_error,"
            "  'sent_at', d.sent_at, 'message_id', d.message_id) ORDER BY d.recipient)"
            "  FROM report_deliveries d WHERE d.run_id = r.run_id), '[]') AS deliveries"
            " FROM report_runs r WHERE r.workspace_id = $1"
            " AND ($2::text IS NULL OR r.definition_id = $2)"
            " ORDER BY r.requested_at DESC, r.run_id LIMIT $3",
            workspace_id,
            definition_id,
            limit,
        )
        return [dict(r) for r in rows]

    async def output(self, workspace_id: str, run_id: str, fmt: str) -> bytes | None:
        body: bytes | None = await self._pool.fetchval(
            "SELECT o.body FROM report_outputs o JOIN report_runs r USING (run_id)"
            " WHERE r.workspace_id = $1 AND o.run_id = $2 AND o.format = $3",
            workspace_id,
            run_id,
            fmt,
        )
        return body

    async def outputs(self, run_id: str) -> dict[str, bytes]:
        rows = await self._pool.fetch(
            "SELECT format, body FROM report_outputs WHERE run_id = $1", run_id
        )
        return {r["format"]: bytes(r["body"]) for r in rows}


def claimed(row: asyncpg.Record) -> ClaimedRun:
    return ClaimedRun(
        row["run_id"],
        RunRequest(
            row["workspace_id"],
            row["definition_id"],
            row["run_key"],
            row["cause"],
            ReportParams.model_validate(row["params"]),
            tuple(row["formats"]),
            tuple(row["recipients"]),
            Period(start=row["period_start"], end=row["period_end"]),
        ),
        row["attempts"],
    )
