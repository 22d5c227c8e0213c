"""Import runs in ingest's Postgres (migration 0011)."""

import datetime as dt
from collections.abc import Mapping
from typing import Any

import asyncpg

from timebridge_ingest.domain.imports import ACTIVE, ImportRun

_COLUMNS = (
    "import_id, workspace_id, integration_id, kind, from_date, to_date, window_days,"
    " covered_until, days_done, windows_done, entries_observed, state, last_error,"
    " requested_at, started_at, finished_at, next_attempt_at"
)
_ACTIVE = "state IN ('queued', 'running', 'waiting')"
assert {"queued", "running", "waiting"} == ACTIVE


def _run(row: Mapping[str, Any]) -> ImportRun:
    return ImportRun(**{k: row[k] for k in _COLUMNS.replace(" ", "").split(",")})


class PostgresImports:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add(self, run: ImportRun) -> ImportRun | None:
        for _ in range(3):  # the unfinished run may finish between the two statements
            async with self._pool.acquire() as conn, conn.transaction():
                if await self._insert(conn, run):
                    return None
                row = await conn.fetchrow(
                    f"SELECT {_COLUMNS} FROM import_runs"  # noqa: S608
                    f" WHERE integration_id = $1 AND {_ACTIVE}",
                    run.integration_id,
                )
            if row is not None:
                return _run(row)
        raise RuntimeError("import run neither stored nor found unfinished")

    @staticmethod
    async def _insert(conn: asyncpg.Connection, run: ImportRun) -> bool:
        inserted = await conn.fetchval(
            f"INSERT INTO import_runs ({_COLUMNS})"  # noqa: S608 - constant columns
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,"
            " $17) ON CONFLICT DO NOTHING RETURNING import_id",
            run.import_id,
            run.workspace_id,
            run.integration_id,
            run.kind,
            run.from_date,
            run.to_date,
            run.window_days,
            run.covered_until,
            run.days_done,
            run.windows_done,
            run.entries_observed,
            run.state,
            run.last_error,
            run.requested_at,
            run.started_at,
            run.finished_at,
            run.next_attempt_at,
        )
        return inserted is not None

    async def runs(self, workspace_id: str, integration_id: str, limit: int) -> list[ImportRun]:
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM import_runs"  # noqa: S608
            " WHERE workspace_id = $1 AND integration_id = $2"
            " ORDER BY requested_at DESC, import_id LIMIT $3",
            workspace_id,
            integration_id,
            limit,
        )
        return [_run(r) for r in rows]

    async def get(self, workspace_id: str, integration_id: str, import_id: str) -> ImportRun | None:
        row = await self._pool.fetchrow(
            f"SELECT {_COLUMNS} FROM import_runs"  # noqa: S608
            " WHERE workspace_id = $1 AND integration_id = $2 AND import_id = $3",
            workspace_id,
            integration_id,
            import_id,
        )
        return None if row is None else _run(row)

    async def claim(self, now: dt.datetime, lease: dt.timedelta) -> ImportRun | None:
        row = await self._pool.fetchrow(
            "UPDATE import_runs SET lease_until = $1 + $2::interval"  # noqa: S608
            " WHERE import_id = (SELECT import_id FROM import_runs"
            f" WHERE {_ACTIVE} AND next_attempt_at <= $1"
            " AND (lease_until IS NULL OR lease_until <= $1)"
            " ORDER BY next_attempt_at, requested_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
            f" RETURNING {_COLUMNS}",
            now,
            lease,
        )
        return None if row is None else _run(row)

    async def save(self, run: ImportRun, *, claimed: ImportRun) -> bool:
        """Conditional on the progress the claim saw: a stale claim records nothing."""
        status: str = await self._pool.execute(
            "UPDATE import_runs SET covered_until = $2, days_done = $3, windows_done = $4,"
            " entries_observed = $5, state = $6, last_error = $7, started_at = $8,"
            " finished_at = $9, next_attempt_at = $10, lease_until = NULL"
            " WHERE import_id = $1 AND windows_done = $11 AND state = $12",
            run.import_id,
            run.covered_until,
            run.days_done,
            run.windows_done,
            run.entries_observed,
            run.state,
            run.last_error,
            run.started_at,
            run.finished_at,
            run.next_attempt_at,
            claimed.windows_done,
            claimed.state,
        )
        return status.endswith(" 1")
