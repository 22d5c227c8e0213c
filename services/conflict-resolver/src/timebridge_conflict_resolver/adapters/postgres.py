"""Postgres storage of the conflict-resolver: observations, links, leases, the review queue."""

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg

from timebridge_common.db.inbox import once
from timebridge_common.db.outbox import OutboxRow, enqueue, outbox_row
from timebridge_common.errors import TransientError
from timebridge_common.events import EntryMapped, EntrySynced, Envelope, TimeEntryFields
from timebridge_conflict_resolver.adapters import observations, sync_sql
from timebridge_conflict_resolver.adapters.known import known_of
from timebridge_conflict_resolver.domain.matching import Observation
from timebridge_conflict_resolver.domain.records import Slot, Write
from timebridge_conflict_resolver.domain.state import (
    Completion,
    ConflictItem,
    ConflictStatus,
    Lease,
    Leases,
    Link,
    TargetRecord,
)
from timebridge_conflict_resolver.handlers.ports import Ask, ConflictClosedError, Known

_COLUMNS = observations.COLUMNS


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
            await conn.execute(observations.UPSERT, *observations.row(observation))
            rows = await conn.fetch(
                f"SELECT {_COLUMNS} FROM observations"  # noqa: S608 - constant columns
                " WHERE workspace_id = $1 AND person = $2 AND date = $3",
                observation.workspace_id,
                observation.person,
                observation.date,
            )
            return [_observation(r) for r in rows]

    async def record_many(
        self, consumer: str, items: Sequence[tuple[Envelope, Observation]]
    ) -> list[list[Observation] | None]:
        """A batch of ``record`` in one transaction (``adapters/observations.py``)."""
        return await observations.record_many(self._pool, consumer, items)

    async def for_person_day(
        self, workspace_id: str, person: str, date: dt.date
    ) -> list[Observation]:
        rows = await self._pool.fetch(
            f"SELECT {_COLUMNS} FROM observations"  # noqa: S608 - constant columns
            " WHERE workspace_id = $1 AND person = $2 AND date = $3 ORDER BY source, external_id",
            workspace_id,
            person.lower(),
            date,
        )
        return [_observation(r) for r in rows]


_LINK = (
    "SELECT source, source_id, target, target_key, written, source_updated_at, active,"
    " source_entry FROM sync_links"
)
_TARGET = "SELECT system, key, target_id, confirmed, confirmed_at, origin FROM sync_targets"
_CONFLICT = (
    "SELECT conflict_id, workspace_id, integration_id, kind, reason, event, cause,"
    " source_version, target_version, target_external_id, status, resolution, created_at,"
    " resolved_at FROM conflicts"
)


def _fields(value: Any) -> TimeEntryFields | None:
    return None if value is None else TimeEntryFields.model_validate(value)


def _lease(row: asyncpg.Record) -> Lease:
    planned = _fields(row["planned"])
    return Lease(row["key"], row["owner"], row["operation"], planned, row["target_id"])


def _json(fields: TimeEntryFields | None) -> dict[str, Any] | None:
    return None if fields is None else fields.model_dump(mode="json")


def _text(fields: TimeEntryFields | None) -> str | None:
    """JSON text for a ``::jsonb`` cast (the pool's jsonb codec does not reach arrays)."""
    return None if fields is None else fields.model_dump_json()


def _link(row: Mapping[str, Any]) -> Link:
    written = _fields(row["written"])
    assert written is not None
    return Link(**{**dict(row), "written": written, "source_entry": _fields(row["source_entry"])})


def _target(row: Mapping[str, Any]) -> TargetRecord:
    return TargetRecord(**{**dict(row), "confirmed": _fields(row["confirmed"])})


def _conflict(row: Mapping[str, Any]) -> ConflictItem:
    return ConflictItem(
        **{
            **dict(row),
            "event": EntryMapped.model_validate(row["event"]),
            "cause": Envelope.from_headers(row["cause"]),
            "source_version": _fields(row["source_version"]),
            "target_version": _fields(row["target_version"]),
        }
    )


_EXPIRED = "the write lease expired and was taken over; deciding again"


def _outbox_row(
    outcome: tuple[EntrySynced, Envelope] | None,
) -> OutboxRow | tuple[None, None, None, None, None]:
    """The outcome's outbox row, staged by ``COMMIT_ALONE`` itself (nulls: no outcome)."""
    if outcome is None:
        return None, None, None, None, None
    return outbox_row(*outcome)


class PostgresSync:
    """Links, confirmed target states, write leases and the review queue (``SyncStore``)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._fresh: dict[str, set[uuid.UUID]] = {}

    async def prefetch_processed(self, consumer: str, event_ids: Sequence[uuid.UUID]) -> None:
        """Look a batch's events up in the inbox in one query, before its changes ask one by
        one (:meth:`processed`): one round trip and pool checkout per batch instead of per
        change. Only "not processed yet" is remembered, and answered once per event; anything
        else is asked again. A stale answer (another replica processing the event meanwhile)
        costs a redundant attempt whose commit then finds the claim taken: the same race as
        between a look-up and the commit before."""
        rows = await self._pool.fetch(
            "SELECT event_id FROM inbox WHERE consumer = $1 AND event_id = ANY($2::uuid[])",
            consumer,
            list(event_ids),
        )
        done = {r["event_id"] for r in rows}
        self._fresh[consumer] = {i for i in event_ids if i not in done}

    async def processed(self, consumer: str, event_id: uuid.UUID) -> bool:
        fresh = self._fresh.get(consumer)
        if fresh is not None and event_id in fresh:
            fresh.discard(event_id)
            return False
        found: bool = await self._pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM inbox WHERE consumer = $1 AND event_id = $2)",
            consumer,
            event_id,
        )
        return found

    async def known(self, ask: Ask) -> Known:
        """One statement (``sync_sql.KNOWN``) instead of a look-up each."""
        workspace, person, date = ask.day or (None, None, None)
        row = await self._pool.fetchrow(
            sync_sql.KNOWN,
            ask.integration_id,
            ask.source,
            ask.source_id,
            ask.target,
            list(ask.keys),
            ask.owner,
            ask.lease_s,
            workspace,
            person,
            date,
        )
        assert row is not None
        return known_of(row, ask.target)

    async def link(self, integration_id: str, source: str, source_id: str) -> Link | None:
        row = await self._pool.fetchrow(
            _LINK + " WHERE integration_id = $1 AND source = $2 AND source_id = $3",
            integration_id,
            source,
            source_id,
        )
        return _link(row) if row else None

    async def target(self, integration_id: str, system: str, key: str) -> TargetRecord | None:
        return await self._one_target("key = $3", integration_id, system, key)

    async def counterpart(
        self, integration_id: str, system: str, target_id: str
    ) -> TargetRecord | None:
        return await self._one_target("target_id = $3", integration_id, system, target_id)

    async def _one_target(self, where: str, *args: str) -> TargetRecord | None:
        """``where`` is one of the constant conditions above, never input."""
        row = await self._pool.fetchrow(
            f"{_TARGET} WHERE integration_id = $1 AND system = $2 AND {where}"
            " ORDER BY updated_at DESC LIMIT 1",
            *args,
        )
        return _target(row) if row else None

    async def contributions(self, integration_id: str, system: str, key: str) -> list[Link]:
        rows = await self._pool.fetch(
            _LINK + " WHERE integration_id = $1 AND target = $2 AND target_key = $3 AND active"
            " ORDER BY source, source_id",
            integration_id,
            system,
            key,
        )
        return [_link(r) for r in rows]

    async def linked(self, integration_id: str, system: str, entry_id: str) -> bool:
        found: bool = await self._pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM sync_targets WHERE integration_id = $1"
            " AND system = $2 AND target_id = $3) OR EXISTS (SELECT 1 FROM sync_links"
            " WHERE integration_id = $1 AND source = $2 AND source_id = $3 AND active)",
            integration_id,
            system,
            entry_id,
        )
        return found

    async def take_leases(
        self, owner: uuid.UUID, integration_id: str, slots: list[Slot], lease_s: float
    ) -> Leases:
        """One statement (``sync_sql.TAKE_LEASES``), all or none: it takes nothing while another
        owner holds a lease and rolls itself back if another inserted one meanwhile; it records
        the keys as attempted and answers which were never leased before."""
        system, keys = slots[0].system, [slot.key for slot in slots]
        try:
            found = await self._pool.fetch(
                sync_sql.TAKE_LEASES,
                integration_id,
                system,
                keys,
                owner,
                lease_s,
                [slot.target_id for slot in slots],
            )
        except asyncpg.PostgresError as exc:
            if exc.sqlstate == sync_sql.LEASES_TAKEN_MEANWHILE:
                raise TransientError(
                    "another attempt is writing this record", retry_after=lease_s
                ) from exc
            raise
        rows = [r for r in found if not r["taken"]]
        busy = [lease_s - float(r["age"]) for r in rows if r["owner"] != owner]
        if any(wait > 0 for wait in busy):
            raise TransientError("another attempt is writing this record", retry_after=max(busy))
        first = frozenset(r["key"] for r in found if r["taken"] and r["first"])
        return Leases({r["key"]: _lease(r) for r in rows}, first)

    async def plan_write(
        self, owner: uuid.UUID, integration_id: str, slot: Slot, write: Write
    ) -> None:
        await self._pool.execute(
            "UPDATE sync_intents SET operation = $5, planned = $6"
            " WHERE integration_id = $1 AND system = $2 AND key = $3 AND owner = $4",
            integration_id,
            slot.system,
            slot.key,
            owner,
            write.operation,
            _json(write.desired),
        )

    async def created(
        self, owner: uuid.UUID, integration_id: str, slot: Slot, target_id: str
    ) -> None:
        await self._pool.execute(
            "UPDATE sync_intents SET target_id = $5"
            " WHERE integration_id = $1 AND system = $2 AND key = $3 AND owner = $4",
            integration_id,
            slot.system,
            slot.key,
            owner,
            target_id,
        )

    async def writing(
        self, integration_id: str, system: str, target_id: str, owner: uuid.UUID, lease_s: float
    ) -> list[Lease]:
        rows = await self._pool.fetch(
            "SELECT key, owner, operation, planned, target_id FROM sync_intents"
            " WHERE integration_id = $1 AND system = $2 AND owner <> $4"
            " AND taken_at > now() - make_interval(secs => $5)"
            " AND (target_id = $3 OR (target_id IS NULL AND operation = 'create'))",
            integration_id,
            system,
            target_id,
            owner,
            lease_s,
        )
        return [_lease(r) for r in rows]

    async def release(self, owner: uuid.UUID) -> None:
        await self._pool.execute("DELETE FROM sync_intents WHERE owner = $1", owner)

    async def complete(self, completion: Completion) -> bool:
        """The claim, the release, the targets, the link and a superseded conflict in one
        statement (``sync_sql.COMMIT_DECISION``), then the outbox, in one transaction; a
        decision that opens, refreshes or resolves no conflict (nearly all) in one statement
        with its outbox row (``sync_sql.COMMIT_ALONE``), without a transaction around it."""
        c = completion
        targets = {(t.system, t.key): t for t in c.targets}.values()  # the last one of a key
        link = c.link
        status = None if c.outcome is None else c.outcome[0].status
        supersede = c.conflict is None and c.resolving is None and status not in {None, "error"}
        args = (
            c.claim[0] if c.claim else None,
            c.claim[1].event_id if c.claim else None,
            c.claim[1].type if c.claim else None,
            c.owner,
            c.event.integration_id,
            c.event.workspace_id,
            [t.system for t in targets],
            [t.key for t in targets],
            [t.target_id for t in targets],
            [_text(t.confirmed) for t in targets],
            [t.confirmed_at for t in targets],
            [t.origin for t in targets],
            link.source if link else None,
            link.source_id if link else None,
            link.target if link else None,
            link.target_key if link else None,
            _json(link.written) if link else None,
            link.source_updated_at if link else None,
            link.active if link else None,
            _json(link.source_entry) if link else None,
            supersede,
            c.event.source,
            c.event.source_external_id,
        )
        if c.conflict is None and c.resolving is None:
            try:
                done = await self._pool.fetchrow(
                    sync_sql.COMMIT_ALONE, *args, c.leases, *_outbox_row(c.outcome)
                )
            except asyncpg.PostgresError as exc:
                if exc.sqlstate == sync_sql.LEASE_EXPIRED:
                    raise TransientError(_EXPIRED) from exc
                raise
            assert done is not None
            return bool(done["claimed"])
        async with self._pool.acquire() as conn, conn.transaction():
            done = await conn.fetchrow(sync_sql.COMMIT_DECISION, *args)
            if not done["claimed"]:
                return False
            if done["released"] < c.leases:
                raise TransientError(_EXPIRED)
            if not supersede:
                await self._settle_conflicts(conn, c)
            if c.outcome is not None:
                await enqueue(conn, [c.outcome])
        return True

    @staticmethod
    async def _settle_conflicts(conn: asyncpg.Connection, c: Completion) -> None:
        """Open or refresh the entry's conflict, or close it: resolved, or overtaken by a
        newer decision about the same entry (an error leaves it open)."""
        item = c.conflict
        if item is not None:
            await conn.execute(
                "INSERT INTO conflicts (conflict_id, workspace_id, integration_id, source,"
                " source_id, target, target_external_id, kind, reason, event, cause,"
                " source_version, target_version)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                " ON CONFLICT (integration_id, source, source_id) WHERE status = 'open'"
                " DO UPDATE SET target_external_id = EXCLUDED.target_external_id,"
                " kind = EXCLUDED.kind, reason = EXCLUDED.reason, event = EXCLUDED.event,"
                " cause = EXCLUDED.cause, source_version = EXCLUDED.source_version,"
                " target_version = EXCLUDED.target_version, updated_at = now()",
                item.conflict_id,
                item.workspace_id,
                item.integration_id,
                item.event.source,
                item.event.source_external_id,
                item.event.target,
                item.target_external_id,
                item.kind,
                item.reason,
                item.event.model_dump(mode="json"),
                item.cause.to_headers(),
                _json(item.source_version),
                _json(item.target_version),
            )
            return
        status = None if c.outcome is None else c.outcome[0].status
        if c.resolving is not None and status != "error":
            resolved = await conn.execute(
                "UPDATE conflicts SET status = 'resolved', resolution = $2, resolved_at = now(),"
                " updated_at = now() WHERE conflict_id = $1 AND status = 'open'",
                *c.resolving,
            )
            if resolved != "UPDATE 1":
                raise ConflictClosedError(c.resolving[0])
        elif status not in {None, "error"}:
            await conn.execute(
                "UPDATE conflicts SET status = 'superseded', resolved_at = now(),"
                " updated_at = now() WHERE integration_id = $1 AND source = $2"
                " AND source_id = $3 AND status = 'open'",
                c.event.integration_id,
                c.event.source,
                c.event.source_external_id,
            )

    async def conflict(self, conflict_id: uuid.UUID) -> ConflictItem | None:
        row = await self._pool.fetchrow(_CONFLICT + " WHERE conflict_id = $1", conflict_id)
        return _conflict(row) if row else None

    async def conflicts(
        self, workspace_id: str, integration_id: str, status: ConflictStatus
    ) -> list[ConflictItem]:
        rows = await self._pool.fetch(
            _CONFLICT + " WHERE workspace_id = $1 AND integration_id = $2 AND status = $3"
            " ORDER BY created_at, conflict_id",
            workspace_id,
            integration_id,
            status,
        )
        return [_conflict(r) for r in rows]
