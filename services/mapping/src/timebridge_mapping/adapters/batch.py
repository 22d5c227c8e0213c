"""A batch of consumed events in one Postgres transaction: every ``MappingTx`` method, plus the
batch's reads and writes as one statement each (``unnest`` reads, pipelined ``executemany``
writes), whatever the batch's size."""

import datetime as dt
import uuid
from collections.abc import AsyncIterator, Sequence, Set
from contextlib import asynccontextmanager

import asyncpg

from timebridge_common.db.inbox import claim_many
from timebridge_common.events import Envelope
from timebridge_mapping.adapters.postgres import _ENTRY_COLUMNS, _row_to_entry, _Tx
from timebridge_mapping.domain.entries import EntryKey, StoredEntry

_GET_MANY = (
    f"SELECT {_ENTRY_COLUMNS} FROM source_entries"  # noqa: S608 - constant column list
    " WHERE (workspace_id, source, external_id) IN"
    " (SELECT * FROM unnest($1::text[], $2::text[], $3::text[]))"
    " ORDER BY workspace_id, source, external_id FOR UPDATE"
)
_SAVE = (
    f"INSERT INTO source_entries ({_ENTRY_COLUMNS})"  # noqa: S608 - constant column list
    " VALUES ($1, $2, $3, $4, $5, $6, $7)"
    " ON CONFLICT (workspace_id, source, external_id) DO UPDATE SET"
    " fields = EXCLUDED.fields, updated_at = EXCLUDED.updated_at,"
    " deleted = EXCLUDED.deleted, last_event_id = EXCLUDED.last_event_id, stored_at = now()"
)
_SCHEDULE = (
    "INSERT INTO scheduled_entries"
    " (integration_id, workspace_id, source, external_id, due_at, scheduled_at)"
    " VALUES ($1, $2, $3, $4, $5, $6)"
    " ON CONFLICT (integration_id, workspace_id, source, external_id) DO NOTHING"
)

_TAKE_SCHEDULED = (
    "DELETE FROM scheduled_entries WHERE integration_id = $1"
    " AND (workspace_id, source, external_id) IN"
    " (SELECT * FROM unnest($2::text[], $3::text[], $4::text[]))"
    " AND ($5::timestamptz IS NULL OR due_at <= $5)"
    " RETURNING workspace_id, source, external_id"
)

_HELD = (
    "SELECT workspace_id, source, external_id FROM held_entries WHERE integration_id = $1"
    " AND (workspace_id, source, external_id) IN"
    " (SELECT * FROM unnest($2::text[], $3::text[], $4::text[]))"
)


def _columns(keys: Sequence[EntryKey]) -> tuple[list[str], list[str], list[str]]:
    return (
        [k.workspace_id for k in keys],
        [k.source for k in keys],
        [k.external_id for k in keys],
    )


class BatchTx(_Tx):
    def __init__(
        self, conn: asyncpg.Connection, consumer: str, claimed: frozenset[uuid.UUID]
    ) -> None:
        super().__init__(conn)
        self._consumer = consumer
        self._claimed = claimed

    @property
    def claimed(self) -> frozenset[uuid.UUID]:
        return self._claimed

    async def get_many(self, keys: Sequence[EntryKey]) -> dict[EntryKey, StoredEntry]:
        if not keys:
            return {}
        rows = await self._conn.fetch(_GET_MANY, *_columns(keys))
        entries = (_row_to_entry(r) for r in rows)
        return {e.key: e for e in entries}

    async def unclaim(self, event_ids: Sequence[uuid.UUID], keep: Set[uuid.UUID]) -> None:
        mine = [i for i in event_ids if i in self._claimed and i not in keep]
        if mine:
            await self._conn.execute(
                "DELETE FROM inbox WHERE consumer = $1 AND event_id = ANY($2::uuid[])",
                self._consumer,
                mine,
            )

    async def save_many(self, entries: Sequence[StoredEntry]) -> None:
        if entries:
            await self._conn.executemany(
                _SAVE,
                [
                    (
                        e.key.workspace_id,
                        e.key.source,
                        e.key.external_id,
                        e.fields.model_dump(mode="json"),
                        e.updated_at,
                        e.deleted,
                        e.last_event_id,
                    )
                    for e in entries
                ],
            )

    async def take_scheduled_many(
        self, integration_id: str, keys: Sequence[EntryKey], due_by: dt.datetime | None
    ) -> set[EntryKey]:
        if not keys:
            return set()
        rows = await self._conn.fetch(_TAKE_SCHEDULED, integration_id, *_columns(keys), due_by)
        return {EntryKey(r["workspace_id"], r["source"], r["external_id"]) for r in rows}

    async def held_keys(self, integration_id: str, keys: Sequence[EntryKey]) -> set[EntryKey]:
        if not keys:
            return set()
        rows = await self._conn.fetch(_HELD, integration_id, *_columns(keys))
        return {EntryKey(r["workspace_id"], r["source"], r["external_id"]) for r in rows}

    async def schedule_many(
        self, waits: Sequence[tuple[str, EntryKey, dt.datetime]], now: dt.datetime
    ) -> None:
        if waits:
            await self._conn.executemany(
                _SCHEDULE,
                [
                    (integration, k.workspace_id, k.source, k.external_id, due_at, now)
                    for integration, k, due_at in waits
                ],
            )


@asynccontextmanager
async def open_batch(
    pool: asyncpg.Pool, consumer: str, envelopes: Sequence[Envelope]
) -> AsyncIterator[BatchTx]:
    """A transaction claiming ``envelopes`` for ``consumer``; claims commit with the work."""
    async with pool.acquire() as conn, conn.transaction():
        claimed = await claim_many(conn, consumer, envelopes) if envelopes else set()
        yield BatchTx(conn, consumer, frozenset(claimed))
