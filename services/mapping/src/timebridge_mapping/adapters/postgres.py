"""Postgres storage of the mapping service."""

import datetime as dt
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

import asyncpg
from pydantic import TypeAdapter, ValidationError
from timebridge_providers.kit.ports.directory import DirectoryTask

from timebridge_common.db.outbox import enqueue
from timebridge_common.events import Envelope, Event, TimeEntryFields
from timebridge_common.refusals import ConflictError
from timebridge_mapping.domain.entries import EntryKey, StoredEntry
from timebridge_mapping.domain.mappings import HeldEntry, ProjectMapping, ProjectRule, TaskLink
from timebridge_mapping.domain.users import DirectoryUser, UserDirectory

if TYPE_CHECKING:
    from timebridge_mapping.adapters.batch import BatchTx
_TICKET = TypeAdapter(DirectoryTask)
"""A Core ticket as the home directory gave it, cached as JSON."""
_ENTRY_COLUMNS = "workspace_id, source, external_id, fields, updated_at, deleted, last_event_id"
_SELECT = (
    f"SELECT {_ENTRY_COLUMNS} FROM source_entries"  # noqa: S608 - constant column list
    " WHERE workspace_id = $1 AND source = $2 AND external_id = $3"
)
_LINK = (
    "SELECT core_ticket_id, tracker_task_id, tracker_project_id, linked_by FROM task_links"
    " WHERE integration_id = $1"
)


def _row_to_entry(row: Mapping[str, Any]) -> StoredEntry:
    return StoredEntry(
        key=EntryKey(row["workspace_id"], row["source"], row["external_id"]),
        fields=TimeEntryFields.model_validate(row["fields"]),
        updated_at=row["updated_at"],
        deleted=row["deleted"],
        last_event_id=row["last_event_id"],
    )


def _row_to_link(row: Mapping[str, Any]) -> TaskLink:
    return TaskLink(
        row["core_ticket_id"], row["tracker_task_id"], row["tracker_project_id"], row["linked_by"]
    )


class _Tx:
    """One transaction on one connection; every method of ``MappingTx``."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    # Source entries and the outbox.

    async def get(self, key: EntryKey) -> StoredEntry | None:
        row = await self._conn.fetchrow(
            _SELECT + " FOR UPDATE", key.workspace_id, key.source, key.external_id
        )
        return _row_to_entry(row) if row else None

    async def save(self, entry: StoredEntry) -> None:
        await self._conn.execute(
            f"INSERT INTO source_entries ({_ENTRY_COLUMNS})"  # noqa: S608 - constant column list
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

    async def publish(self, events: Sequence[tuple[Event, Envelope]]) -> None:
        await enqueue(self._conn, events)

    # Users.

    async def directory(self, integration_id: str) -> UserDirectory:
        users = await self._conn.fetch(
            "SELECT side, user_id, email, name FROM directory_users WHERE integration_id = $1"
            " ORDER BY side, user_id",
            integration_id,
        )
        manual = await self._conn.fetch(
            "SELECT core_user_id, tracker_user_id FROM user_mappings WHERE integration_id = $1"
            " ORDER BY core_user_id",
            integration_id,
        )

        def side(name: str) -> tuple[DirectoryUser, ...]:
            return tuple(
                DirectoryUser(r["user_id"], r["email"], r["name"])
                for r in users
                if r["side"] == name
            )

        return UserDirectory(
            core=side("core"),
            tracker=side("tracker"),
            manual=tuple((r["core_user_id"], r["tracker_user_id"]) for r in manual),
        )

    async def refreshed_at(self, integration_id: str) -> dt.datetime | None:
        at: dt.datetime | None = await self._conn.fetchval(
            "SELECT refreshed_at FROM directory_refreshes WHERE integration_id = $1",
            integration_id,
        )
        return at

    async def directories(self) -> list[str]:
        rows = await self._conn.fetch(
            "SELECT integration_id FROM directory_refreshes ORDER BY integration_id"
        )
        return [r["integration_id"] for r in rows]

    async def replace_directory(
        self,
        integration_id: str,
        core: Sequence[DirectoryUser],
        tracker: Sequence[DirectoryUser],
        at: dt.datetime,
    ) -> None:
        await self._lock("directory", integration_id)
        await self._conn.execute(
            "DELETE FROM directory_users WHERE integration_id = $1", integration_id
        )
        await self._conn.executemany(
            "INSERT INTO directory_users (integration_id, side, user_id, email, name)"
            " VALUES ($1, $2, $3, $4, $5)",
            [
                (integration_id, side, u.id, u.email, u.name)
                for side, users in (("core", core), ("tracker", tracker))
                for u in users
            ],
        )
        await self._conn.execute(
            "INSERT INTO directory_refreshes (integration_id, refreshed_at) VALUES ($1, $2)"
            " ON CONFLICT (integration_id) DO UPDATE SET refreshed_at = EXCLUDED.refreshed_at",
            integration_id,
            at,
        )

    async def put_user_mapping(
        self, integration_id: str, core_user_id: str, tracker_user_id: str
    ) -> None:
        await self._unique(
            f"tracker user {tracker_user_id} is already mapped to another Core user",
            "INSERT INTO user_mappings (integration_id, core_user_id, tracker_user_id)"
            " VALUES ($1, $2, $3) ON CONFLICT (integration_id, core_user_id) DO UPDATE SET"
            " tracker_user_id = EXCLUDED.tracker_user_id, updated_at = now()",
            integration_id,
            core_user_id,
            tracker_user_id,
        )

    async def delete_user_mapping(self, integration_id: str, core_user_id: str) -> bool:
        return await self._deleted(
            "DELETE FROM user_mappings WHERE integration_id = $1 AND core_user_id = $2",
            integration_id,
            core_user_id,
        )

    # Projects and rules.

    async def project_mappings(self, integration_id: str) -> list[ProjectMapping]:
        rows = await self._conn.fetch(
            "SELECT core_project_id, tracker_project_id FROM project_mappings"
            " WHERE integration_id = $1 ORDER BY core_project_id",
            integration_id,
        )
        return [ProjectMapping(r["core_project_id"], r["tracker_project_id"]) for r in rows]

    async def tracker_project(self, integration_id: str, core_project_id: str) -> str | None:
        found: str | None = await self._conn.fetchval(
            "SELECT tracker_project_id FROM project_mappings"
            " WHERE integration_id = $1 AND core_project_id = $2",
            integration_id,
            core_project_id,
        )
        return found

    async def core_project(self, integration_id: str, tracker_project_id: str) -> str | None:
        found: str | None = await self._conn.fetchval(
            "SELECT core_project_id FROM project_mappings"
            " WHERE integration_id = $1 AND tracker_project_id = $2",
            integration_id,
            tracker_project_id,
        )
        return found

    async def put_project_mapping(self, integration_id: str, mapping: ProjectMapping) -> None:
        await self._unique(
            f"tracker project {mapping.tracker_project_id} is already mapped to another"
            " Core project",
            "INSERT INTO project_mappings (integration_id, core_project_id, tracker_project_id)"
            " VALUES ($1, $2, $3) ON CONFLICT (integration_id, core_project_id) DO UPDATE SET"
            " tracker_project_id = EXCLUDED.tracker_project_id, updated_at = now()",
            integration_id,
            mapping.core_project_id,
            mapping.tracker_project_id,
        )

    async def delete_project_mapping(self, integration_id: str, core_project_id: str) -> bool:
        return await self._deleted(
            "DELETE FROM project_mappings WHERE integration_id = $1 AND core_project_id = $2",
            integration_id,
            core_project_id,
        )

    async def rules(self, integration_id: str) -> list[ProjectRule]:
        rows = await self._conn.fetch(
            "SELECT core_project_id, default_task_id FROM project_rules"
            " WHERE integration_id = $1 ORDER BY core_project_id",
            integration_id,
        )
        return [ProjectRule(r["core_project_id"], r["default_task_id"]) for r in rows]

    async def rule(self, integration_id: str, core_project_id: str) -> str | None:
        found: str | None = await self._conn.fetchval(
            "SELECT default_task_id FROM project_rules"
            " WHERE integration_id = $1 AND core_project_id = $2",
            integration_id,
            core_project_id,
        )
        return found

    async def put_rule(self, integration_id: str, rule: ProjectRule) -> None:
        await self._conn.execute(
            "INSERT INTO project_rules (integration_id, core_project_id, default_task_id)"
            " VALUES ($1, $2, $3) ON CONFLICT (integration_id, core_project_id) DO UPDATE SET"
            " default_task_id = EXCLUDED.default_task_id, updated_at = now()",
            integration_id,
            rule.core_project_id,
            rule.default_task_id,
        )

    async def delete_rule(self, integration_id: str, core_project_id: str) -> bool:
        return await self._deleted(
            "DELETE FROM project_rules WHERE integration_id = $1 AND core_project_id = $2",
            integration_id,
            core_project_id,
        )

    # Tasks and tickets.

    async def lock_ticket(self, integration_id: str, ticket_id: str) -> None:
        await self._lock("task", f"{integration_id}:{ticket_id}")

    async def link_for_ticket(self, integration_id: str, ticket_id: str) -> TaskLink | None:
        row = await self._conn.fetchrow(
            _LINK + " AND core_ticket_id = $2", integration_id, ticket_id
        )
        return _row_to_link(row) if row else None

    async def link_for_task(self, integration_id: str, task_id: str) -> TaskLink | None:
        row = await self._conn.fetchrow(
            _LINK + " AND tracker_task_id = $2", integration_id, task_id
        )
        return _row_to_link(row) if row else None

    async def task_links(self, integration_id: str) -> list[TaskLink]:
        rows = await self._conn.fetch(_LINK + " ORDER BY core_ticket_id", integration_id)
        return [_row_to_link(r) for r in rows]

    async def put_task_link(self, integration_id: str, link: TaskLink) -> None:
        await self._unique(
            f"task {link.tracker_task_id} is already linked to another Core ticket",
            "INSERT INTO task_links (integration_id, core_ticket_id, tracker_task_id,"
            " tracker_project_id, linked_by) VALUES ($1, $2, $3, $4, $5)"
            " ON CONFLICT (integration_id, core_ticket_id) DO UPDATE SET"
            " tracker_task_id = EXCLUDED.tracker_task_id,"
            " tracker_project_id = EXCLUDED.tracker_project_id,"
            " linked_by = EXCLUDED.linked_by, updated_at = now()",
            integration_id,
            link.core_ticket_id,
            link.tracker_task_id,
            link.tracker_project_id,
            link.linked_by,
        )

    async def delete_task_link(self, integration_id: str, ticket_id: str) -> bool:
        return await self._deleted(
            "DELETE FROM task_links WHERE integration_id = $1 AND core_ticket_id = $2",
            integration_id,
            ticket_id,
        )

    async def cached_ticket(
        self, workspace_id: str, ticket_id: str, fresh_since: dt.datetime
    ) -> DirectoryTask | None:
        found = await self._conn.fetchval(
            "SELECT ticket FROM tickets WHERE workspace_id = $1 AND ticket_id = $2"
            " AND fetched_at >= $3",
            workspace_id,
            ticket_id,
            fresh_since,
        )
        if found is None:
            return None
        try:
            return _TICKET.validate_python(found)
        except ValidationError:
            return None  # cached in an older shape: read it again

    async def cache_ticket(self, workspace_id: str, ticket: DirectoryTask, at: dt.datetime) -> None:
        await self._conn.execute(
            "INSERT INTO tickets (workspace_id, ticket_id, ticket, fetched_at)"
            " VALUES ($1, $2, $3, $4) ON CONFLICT (workspace_id, ticket_id) DO UPDATE SET"
            " ticket = EXCLUDED.ticket, fetched_at = EXCLUDED.fetched_at",
            workspace_id,
            ticket.external_id,
            _TICKET.dump_python(ticket, mode="json"),
            at,
        )

    # Held entries.

    async def hold(self, held: HeldEntry) -> None:
        key = held.entry.key
        await self._conn.execute(
            "INSERT INTO held_entries"
            " (integration_id, workspace_id, source, external_id, reason, held_at)"
            " VALUES ($1, $2, $3, $4, $5, $6)"
            " ON CONFLICT (integration_id, workspace_id, source, external_id)"
            " DO UPDATE SET reason = EXCLUDED.reason",
            held.integration_id,
            key.workspace_id,
            key.source,
            key.external_id,
            held.reason,
            held.held_at,
        )

    async def is_held(self, integration_id: str, key: EntryKey) -> bool:
        found: bool = await self._conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM held_entries WHERE integration_id = $1"
            " AND workspace_id = $2 AND source = $3 AND external_id = $4)",
            integration_id,
            key.workspace_id,
            key.source,
            key.external_id,
        )
        return found

    async def unhold(self, integration_id: str, key: EntryKey) -> bool:
        return await self._deleted(
            "DELETE FROM held_entries WHERE integration_id = $1"
            " AND workspace_id = $2 AND source = $3 AND external_id = $4",
            integration_id,
            key.workspace_id,
            key.source,
            key.external_id,
        )

    async def held_entries(self, integration_id: str) -> list[HeldEntry]:
        rows = await self._conn.fetch(
            "SELECT h.integration_id, h.reason, h.held_at,"
            " e.workspace_id, e.source, e.external_id, e.fields, e.updated_at, e.deleted,"
            " e.last_event_id FROM held_entries h JOIN source_entries e USING"
            " (workspace_id, source, external_id) WHERE h.integration_id = $1"
            " ORDER BY h.held_at, e.external_id",
            integration_id,
        )
        return [
            HeldEntry(r["integration_id"], _row_to_entry(r), r["reason"], r["held_at"])
            for r in rows
        ]

    async def integrations_holding(self) -> list[str]:
        rows = await self._conn.fetch(
            "SELECT DISTINCT integration_id FROM held_entries ORDER BY integration_id"
        )
        return [r["integration_id"] for r in rows]

    # Entries waiting for their sync slot.

    async def schedule(
        self, integration_id: str, key: EntryKey, due_at: dt.datetime, now: dt.datetime
    ) -> None:
        await self._conn.execute(
            "INSERT INTO scheduled_entries"
            " (integration_id, workspace_id, source, external_id, due_at, scheduled_at)"
            " VALUES ($1, $2, $3, $4, $5, $6)"
            " ON CONFLICT (integration_id, workspace_id, source, external_id) DO NOTHING",
            integration_id,
            key.workspace_id,
            key.source,
            key.external_id,
            due_at,
            now,
        )

    async def unschedule(self, integration_id: str, key: EntryKey) -> bool:
        return await self._deleted(
            "DELETE FROM scheduled_entries WHERE integration_id = $1"
            " AND workspace_id = $2 AND source = $3 AND external_id = $4",
            integration_id,
            key.workspace_id,
            key.source,
            key.external_id,
        )

    async def is_scheduled(self, integration_id: str, key: EntryKey) -> bool:
        found: bool = await self._conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM scheduled_entries WHERE integration_id = $1"
            " AND workspace_id = $2 AND source = $3 AND external_id = $4)",
            integration_id,
            key.workspace_id,
            key.source,
            key.external_id,
        )
        return found

    async def scheduled_integrations(self) -> list[tuple[str, dt.datetime]]:
        rows = await self._conn.fetch(
            "SELECT integration_id, min(due_at) AS due_at FROM scheduled_entries"
            " GROUP BY integration_id ORDER BY integration_id"
        )
        return [(r["integration_id"], r["due_at"]) for r in rows]

    async def scheduled_keys(
        self, integration_id: str, due_by: dt.datetime | None, after: EntryKey | None, limit: int
    ) -> list[EntryKey]:
        rows = await self._conn.fetch(
            "SELECT workspace_id, source, external_id FROM scheduled_entries"
            " WHERE integration_id = $1 AND ($2::timestamptz IS NULL OR due_at <= $2) AND"
            " ($3::text IS NULL OR (workspace_id, source, external_id) > ($3, $4::text, $5::text))"
            " ORDER BY workspace_id, source, external_id LIMIT $6",
            integration_id,
            due_by,
            *((after.workspace_id, after.source, after.external_id) if after else (None,) * 3),
            limit,
        )
        return [EntryKey(r["workspace_id"], r["source"], r["external_id"]) for r in rows]

    async def take_scheduled(
        self, integration_id: str, key: EntryKey, due_by: dt.datetime | None
    ) -> bool:
        return await self._deleted(
            "DELETE FROM scheduled_entries WHERE integration_id = $1"
            " AND workspace_id = $2 AND source = $3 AND external_id = $4"
            " AND ($5::timestamptz IS NULL OR due_at <= $5)",
            integration_id,
            key.workspace_id,
            key.source,
            key.external_id,
            due_by,
        )

    # Helpers.

    async def _lock(self, kind: str, key: str) -> None:
        """A transaction-scoped advisory lock (two-int keys: apart from the outbox relay's)."""
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))", kind, key
        )

    async def _deleted(self, query: str, *args: Any) -> bool:
        status: str = await self._conn.execute(query, *args)
        return status != "DELETE 0"

    async def _unique(self, conflict: str, query: str, *args: Any) -> None:
        """Run ``query``; a unique violation (one-to-one mappings) is a ``ConflictError``."""
        try:
            async with self._conn.transaction():
                await self._conn.execute(query, *args)
        except asyncpg.UniqueViolationError:
            raise ConflictError(conflict) from None


class PostgresMappingStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    def batch(
        self, consumer: str, envelopes: Sequence[Envelope]
    ) -> AbstractAsyncContextManager["BatchTx"]:
        from timebridge_mapping.adapters.batch import open_batch  # noqa: PLC0415 - it extends _Tx

        return open_batch(self._pool, consumer, envelopes)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_Tx]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield _Tx(conn)

    async def get(self, key: EntryKey) -> StoredEntry | None:
        row = await self._pool.fetchrow(_SELECT, key.workspace_id, key.source, key.external_id)
        return _row_to_entry(row) if row else None
