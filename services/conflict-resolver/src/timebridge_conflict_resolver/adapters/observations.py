"""A batch of ``TimeEntryLogged`` observations stored in one transaction (issue 12).

One at a time, each observation was a transaction of its own (begin, inbox claim, upsert,
same-day read, commit: five round trips per entry, ~6% of the resolver's CPU end to end plus
its PostgreSQL's). A batch now claims its events in one statement, upserts the claimed
observations in one ``executemany`` and reads the days they touch in one query, all committed
with the claims.

Per key (workspace, system, entry) the newest ``updated_at`` wins, as before; of several
versions of one entry in a batch only that newest is written (one statement cannot update a row
twice). The same-day entries returned for an observation are the day as the whole batch left it.
"""

from collections.abc import Sequence

import asyncpg

from timebridge_common.db.inbox import claim_many
from timebridge_common.events import Envelope
from timebridge_conflict_resolver.domain.matching import Observation

COLUMNS = (
    "workspace_id, source, external_id, person, date, started_at, duration_seconds,"
    " updated_at, deleted, task_external_id, user_external_id"
)
UPSERT = (
    f"INSERT INTO observations ({COLUMNS}) VALUES"  # noqa: S608 - constant columns
    " ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)"
    " ON CONFLICT (workspace_id, source, external_id) DO UPDATE SET"
    " person = EXCLUDED.person, date = EXCLUDED.date,"
    " started_at = EXCLUDED.started_at, duration_seconds = EXCLUDED.duration_seconds,"
    " updated_at = EXCLUDED.updated_at, deleted = EXCLUDED.deleted,"
    " task_external_id = EXCLUDED.task_external_id,"
    " user_external_id = EXCLUDED.user_external_id"
    " WHERE observations.updated_at <= EXCLUDED.updated_at"
)
_DAYS = (
    f"SELECT {COLUMNS} FROM observations"  # noqa: S608 - constant columns
    " WHERE (workspace_id, person, date) IN"
    " (SELECT * FROM unnest($1::text[], $2::text[], $3::date[]))"
)


def row(o: Observation) -> tuple[object, ...]:
    return (
        o.workspace_id,
        o.source,
        o.external_id,
        o.person,
        o.date,
        o.started_at,
        o.duration_seconds,
        o.updated_at,
        o.deleted,
        o.task_external_id,
        o.user_external_id,
    )


async def record_many(
    pool: asyncpg.Pool, consumer: str, items: Sequence[tuple[Envelope, Observation]]
) -> list[list[Observation] | None]:
    """Per item, the same person's entries that day, or ``None`` when its event was processed
    before (or earlier in the batch)."""
    async with pool.acquire() as conn, conn.transaction():
        claimed = await claim_many(conn, consumer, [envelope for envelope, _ in items])
        fresh: list[Observation | None] = []
        for envelope, observation in items:
            fresh.append(observation if envelope.event_id in claimed else None)
            claimed.discard(envelope.event_id)
        newest: dict[tuple[str, str, str], Observation] = {}
        for o in fresh:
            if o is None:
                continue
            key = (o.workspace_id, o.source, o.external_id)
            known = newest.get(key)
            if known is None or known.updated_at <= o.updated_at:
                newest[key] = o
        if not newest:
            return [None] * len(items)
        await conn.executemany(UPSERT, [row(o) for o in newest.values()])
        days = {(o.workspace_id, o.person, o.date) for o in newest.values()}
        rows = await conn.fetch(
            _DAYS, [d[0] for d in days], [d[1] for d in days], [d[2] for d in days]
        )
    by_day: dict[tuple[str, str, object], list[Observation]] = {}
    for r in rows:
        found = Observation(**dict(r))
        by_day.setdefault((found.workspace_id, found.person, found.date), []).append(found)
    return [
        None if o is None else by_day.get((o.workspace_id, o.person, o.date), []) for o in fresh
    ]
