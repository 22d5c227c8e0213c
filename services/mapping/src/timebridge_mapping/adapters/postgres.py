"""Postgres storage of the mapping service."""

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from timebridge_common.db.inbox import once
from timebridge_common.events import Envelope, TimeEntryFields
from timebridge_mapping.domain.entries import EntryKey, StoredEntry

_SELECT = (
    "SELECT workspace_id, source, external_id, fields, updated_at, deleted, last_event_id"
    " FROM source_entries WHERE workspace_id = $1 AND source = $2 AND external_id = $3"
)


def _row_to_entry(row: Mapping[str, Any]) -> StoredEntry:
    return StoredEntry(
        key=EntryKey(row["workspace_id"], row["source"], row["external_id"]),
        fields=TimeEntryFields.model_validate(row["fields"]),
        updated_at=row["updated_at"],
        deleted=row["deleted"],
        last_event_id=row["last_event_id"],
    )


class _Tx:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def get(self, key: EntryKey) -> StoredEntry | None:
        row = await self._conn.fetchrow(
            _SELECT + " FOR UPDATE", key.workspace_id, key.source, key.external_id
        )
        return _row_to_entry(row) if row else None

    async def save(self, entry: StoredEntry) -> None:
        await self._conn.execute(
            "INSERT INTO source_entries"
            " (workspace_id, source, external_id, fields, updated_at, deleted, last_event_id)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)"
            " ON CONFLICT (workspace_id, source, external_id) DO UPDATE SET"
            " fields = EXCLUDED.fields, updated_at = EXCLUDED.updated_at,"
            " deleted = EXCLUDED.deleted, last_event_id = EXCLUDED.last_event_id,"
            " stored_at = now()",
            entry.key.workspace_id,
            entry.key.source,
            entry.key.external_id,
            entry.fields.model_dump(mode="json"),
            entry.updated_at,
            entry.deleted,
            entry.last_event_id,
        )


class PostgresMappingStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @asynccontextmanager
    async def once(self, consumer: str, envelope: Envelope) -> AsyncIterator[_Tx | None]:
        async with once(self._pool, consumer, envelope) as conn:
            yield _Tx(conn) if conn is not None else None

    async def get(self, key: EntryKey) -> StoredEntry | None:
        row = await self._pool.fetchrow(_SELECT, key.workspace_id, key.source, key.external_id)
        return _row_to_entry(row) if row else None
