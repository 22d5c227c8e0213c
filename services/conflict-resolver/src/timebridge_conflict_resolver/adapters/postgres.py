"""Postgres storage of the conflict-resolver."""

from collections.abc import Mapping
from typing import Any

import asyncpg

from timebridge_common.db.inbox import once
from timebridge_common.events import Envelope
from timebridge_conflict_resolver.domain.matching import Observation

_COLUMNS = (
    "workspace_id, source, external_id, person, date, started_at, duration_seconds,"
    " updated_at, deleted"
)


def _observation(row: Mapping[str, Any]) -> Observation:
    return Observation(**dict(row))


class PostgresObservations:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def record(
        self, consumer: str, envelope: Envelope, observation: Observation
    ) -> list[Observation] | None:
        """Store ``observation`` (newest wins) and return the same person's entries that day.

        ``None`` when the event was already processed.
        """
        async with once(self._pool, consumer, envelope) as conn:
            if conn is None:
                return None
            await conn.execute(
                f"INSERT INTO observations ({_COLUMNS}) VALUES"  # noqa: S608 - constant columns
                " ($1,$2,$3,$4,$5,$6,$7,$8,$9)"
                " ON CONFLICT (workspace_id, source, external_id) DO UPDATE SET"
                " person = EXCLUDED.person, date = EXCLUDED.date,"
                " started_at = EXCLUDED.started_at, duration_seconds = EXCLUDED.duration_seconds,"
                " updated_at = EXCLUDED.updated_at, deleted = EXCLUDED.deleted"
                " WHERE observations.updated_at < EXCLUDED.updated_at",
                observation.workspace_id,
                observation.source,
                observation.external_id,
                observation.person,
                observation.date,
                observation.started_at,
                observation.duration_seconds,
                observation.updated_at,
                observation.deleted,
            )
            rows = await conn.fetch(
                f"SELECT {_COLUMNS} FROM observations"  # noqa: S608 - constant columns
                " WHERE workspace_id = $1 AND person = $2 AND date = $3",
                observation.workspace_id,
                observation.person,
                observation.date,
            )
            return [_observation(r) for r in rows]

    async def for_person_day(self, workspace_id: str, person: str, date: Any) -> list[Observation]:
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM observations"  # noqa: S608 - constant columns
            " WHERE workspace_id = $1 AND person = $2 AND date = $3 ORDER BY source, external_id",
            workspace_id,
            person.lower(),
            date,
        )
        return [_observation(r) for r in rows]
