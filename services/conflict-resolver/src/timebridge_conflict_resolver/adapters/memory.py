"""In-memory fakes of the resolver's store ports, for fast unit tests of the handlers.

They keep the Postgres adapters' semantics that the handlers rely on: an inbox claim is taken
once, a completion commits all or nothing and releases its owner's leases (failing, as Postgres
does, when a lease expired and was taken over), a lease held by another owner excludes writers
until it is ``lease_s`` old, and an open conflict is refreshed, resolved or superseded.
"""

import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace

from timebridge_providers.kit.ports.entries import EntryStore, Operation
from timebridge_providers.kit.session import Access

from timebridge_common.errors import InvalidMessageError, TransientError
from timebridge_common.events import ConnectionChanged, EntrySynced, Envelope
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


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class _Intent:
    owner: uuid.UUID
    taken_at: dt.datetime
    operation: Operation | None = None
    planned: Write | None = None
    target_id: str | None = None


def _lease(key: str, intent: _Intent) -> Lease:
    planned = intent.planned.desired if intent.planned else None
    return Lease(key, intent.owner, intent.operation, planned, intent.target_id)


@dataclass
class MemorySync:
    """``SyncStore`` in memory; ``published`` is the outbox, in commit order."""

    clock: Callable[[], dt.datetime] = _utc_now
    inbox: set[tuple[str, uuid.UUID]] = field(default_factory=set)
    links: dict[tuple[str, str, str], Link] = field(default_factory=dict)
    targets: dict[tuple[str, str, str], TargetRecord] = field(default_factory=dict)
    intents: dict[tuple[str, str, str], _Intent] = field(default_factory=dict)
    attempts: set[tuple[str, str, str]] = field(default_factory=set)
    """Every slot ever leased (``sync_attempts``): never forgotten."""
    items: dict[uuid.UUID, ConflictItem] = field(default_factory=dict)
    published: list[tuple[EntrySynced, Envelope]] = field(default_factory=list)

    async def processed(self, consumer: str, event_id: uuid.UUID) -> bool:
        return (consumer, event_id) in self.inbox

    async def link(self, integration_id: str, source: str, source_id: str) -> Link | None:
        return self.links.get((integration_id, source, source_id))

    async def known(self, ask: Ask) -> Known:
        """The single look-ups put together (the day's observations are not kept here)."""
        link = await self.link(ask.integration_id, ask.source, ask.source_id)
        copy = await self.counterpart(ask.integration_id, ask.source, ask.source_id)
        keys = dict.fromkeys((*ask.keys, *([link.target_key] if link and link.active else [])))
        leases = []
        if ask.owner is not None:
            leases = await self.writing(
                ask.integration_id, ask.source, ask.source_id, ask.owner, ask.lease_s
            )
        return Known(
            link=link,
            copy=copy,
            copy_origins=(
                await self.contributions(ask.integration_id, copy.system, copy.key) if copy else []
            ),
            leases=leases,
            targets={k: await self.target(ask.integration_id, ask.target, k) for k in keys},
            contributions={
                k: await self.contributions(ask.integration_id, ask.target, k) for k in keys
            },
            same_day=None,
        )

    async def target(self, integration_id: str, system: str, key: str) -> TargetRecord | None:
        return self.targets.get((integration_id, system, key))

    async def counterpart(
        self, integration_id: str, system: str, target_id: str
    ) -> TargetRecord | None:
        found = [
            t
            for (i, s, _), t in self.targets.items()
            if (i, s) == (integration_id, system) and t.target_id == target_id
        ]
        return found[-1] if found else None

    async def contributions(self, integration_id: str, system: str, key: str) -> list[Link]:
        found = [
            link
            for (i, _, _), link in self.links.items()
            if i == integration_id and (link.target, link.target_key) == (system, key)
            if link.active
        ]
        return sorted(found, key=lambda link: (link.source, link.source_id))

    async def linked(self, integration_id: str, system: str, entry_id: str) -> bool:
        as_target = await self.counterpart(integration_id, system, entry_id)
        link = self.links.get((integration_id, system, entry_id))
        return as_target is not None or bool(link and link.active)

    async def take_leases(
        self, owner: uuid.UUID, integration_id: str, slots: list[Slot], lease_s: float
    ) -> Leases:
        now = self.clock()
        keys = [(integration_id, slot.system, slot.key) for slot in slots]
        before = {k: self.intents[k] for k in keys if k in self.intents}
        busy = [
            lease_s - (now - i.taken_at).total_seconds()
            for i in before.values()
            if i.owner != owner
        ]
        if any(wait > 0 for wait in busy):
            raise TransientError("another attempt is writing this record", retry_after=max(busy))
        for k, slot in zip(keys, slots, strict=True):
            mine = before.get(k)
            kept = mine if mine is not None and mine.owner == owner else None
            self.intents[k] = _Intent(
                owner,
                now,
                kept.operation if kept else None,
                kept.planned if kept else None,
                slot.target_id or (kept.target_id if kept else None),
            )
        first = frozenset(k[2] for k in keys if self._first(k, before))
        self.attempts.update(keys)
        return Leases({k[2]: _lease(k[2], i) for k, i in before.items()}, first)

    def _first(
        self, slot: tuple[str, str, str], before: dict[tuple[str, str, str], _Intent]
    ) -> bool:
        """As ``sync_sql.TAKE_LEASES``: never leased, no lease there, no record nor link to it."""
        integration_id, system, key = slot
        linked = any(
            i == integration_id and link.active and (link.target, link.target_key) == (system, key)
            for (i, _, _), link in self.links.items()
        )
        return not (slot in self.attempts or slot in before or slot in self.targets or linked)

    async def plan_write(
        self, owner: uuid.UUID, integration_id: str, slot: Slot, write: Write
    ) -> None:
        intent = self.intents.get((integration_id, slot.system, slot.key))
        if intent is not None and intent.owner == owner:
            intent.operation, intent.planned = write.operation, write

    async def created(
        self, owner: uuid.UUID, integration_id: str, slot: Slot, target_id: str
    ) -> None:
        intent = self.intents.get((integration_id, slot.system, slot.key))
        if intent is not None and intent.owner == owner:
            intent.target_id = target_id

    async def writing(
        self, integration_id: str, system: str, target_id: str, owner: uuid.UUID, lease_s: float
    ) -> list[Lease]:
        now = self.clock()
        return [
            _lease(key, i)
            for (integration, s, key), i in self.intents.items()
            if (integration, s) == (integration_id, system) and i.owner != owner
            if (now - i.taken_at).total_seconds() < lease_s
            if i.target_id == target_id or (i.target_id is None and i.operation == "create")
        ]

    async def release(self, owner: uuid.UUID) -> None:
        for key in [k for k, i in self.intents.items() if i.owner == owner]:
            del self.intents[key]

    async def complete(self, completion: Completion) -> bool:
        c = completion
        if c.claim is not None:
            claim = (c.claim[0], c.claim[1].event_id)
            if claim in self.inbox:
                return False
        mine = [k for k, i in self.intents.items() if i.owner == c.owner]
        if len(mine) < c.leases:
            raise TransientError("the write lease expired and was taken over; deciding again")
        self._settle_conflicts(c)  # raises before anything is changed
        for key in mine:
            del self.intents[key]
        integration = c.event.integration_id
        for t in c.targets:
            self.targets[(integration, t.system, t.key)] = t
        if c.link is not None:
            self.links[(integration, c.link.source, c.link.source_id)] = c.link
        if c.outcome is not None:
            self.published.append(c.outcome)
        if c.claim is not None:
            self.inbox.add((c.claim[0], c.claim[1].event_id))
        return True

    def _settle_conflicts(self, c: Completion) -> None:
        entry = (c.event.integration_id, c.event.source, c.event.source_external_id)
        open_items = [
            i
            for i in self.items.values()
            if i.status == "open"
            and (i.integration_id, i.event.source, i.event.source_external_id) == entry
        ]
        if c.conflict is not None:
            if open_items:
                kept = open_items[0]
                self.items[kept.conflict_id] = replace(
                    c.conflict, conflict_id=kept.conflict_id, created_at=kept.created_at
                )
            else:
                self.items[c.conflict.conflict_id] = replace(c.conflict, created_at=self.clock())
            return
        status = None if c.outcome is None else c.outcome[0].status
        if c.resolving is not None and status != "error":
            conflict_id, keep = c.resolving
            item = self.items.get(conflict_id)
            if item is None or item.status != "open":
                raise ConflictClosedError(conflict_id)
            self.items[conflict_id] = replace(
                item, status="resolved", resolution=keep, resolved_at=self.clock()
            )
        elif status not in {None, "error"}:
            for item in open_items:
                self.items[item.conflict_id] = replace(
                    item, status="superseded", resolved_at=self.clock()
                )

    async def conflict(self, conflict_id: uuid.UUID) -> ConflictItem | None:
        return self.items.get(conflict_id)

    async def conflicts(
        self, workspace_id: str, integration_id: str, status: ConflictStatus
    ) -> list[ConflictItem]:
        return [
            i
            for i in self.items.values()
            if (i.workspace_id, i.integration_id, i.status)
            == (workspace_id, integration_id, status)
        ]


@dataclass
class MemoryObservations:
    """``ObservationIndex`` (and ``ObservationStore``) in memory."""

    seen: dict[tuple[str, str, str], Observation] = field(default_factory=dict)
    inbox: set[tuple[str, uuid.UUID]] = field(default_factory=set)

    async def record(
        self, consumer: str, envelope: Envelope, observation: Observation
    ) -> list[Observation] | None:
        if (consumer, envelope.event_id) in self.inbox:
            return None
        self.inbox.add((consumer, envelope.event_id))
        o = observation
        key = (o.workspace_id, o.source, o.external_id)
        known = self.seen.get(key)
        if known is None or known.updated_at <= o.updated_at:
            self.seen[key] = o
        return await self.for_person_day(o.workspace_id, o.person, o.date)

    async def record_many(
        self, consumer: str, items: Sequence[tuple[Envelope, Observation]]
    ) -> list[list[Observation] | None]:
        """``record`` of each item, in order."""
        return [await self.record(consumer, envelope, o) for envelope, o in items]

    async def for_person_day(
        self, workspace_id: str, person: str, date: dt.date
    ) -> list[Observation]:
        found = [
            o
            for o in self.seen.values()
            if (o.workspace_id, o.person, o.date) == (workspace_id, person.lower(), date)
        ]
        return sorted(found, key=lambda o: (o.source, o.external_id))


@dataclass
class MemoryConnections:
    """``Connections`` in memory (no secrets: the credential owner holds them)."""

    known: dict[str, ConnectionChanged] = field(default_factory=dict)

    def add(self, connection: ConnectionChanged) -> None:
        self.known[connection.connection_id] = connection

    async def get(self, connection_id: str) -> ConnectionChanged | None:
        return self.known.get(connection_id)

    async def connected(
        self, workspace_id: str, provider: str | None = None
    ) -> list[ConnectionChanged]:
        return sorted(
            (
                c
                for c in self.known.values()
                if c.workspace_id == workspace_id
                and c.status == "connected"
                and provider in {None, c.provider}
            ),
            key=lambda c: c.connection_id,
        )

    async def missing(self, what: str) -> TransientError | InvalidMessageError:
        return TransientError(f"{what} is not known here yet")


@dataclass
class MemoryEntryStores:
    """``EntryStores`` handing out one store per system (the kit's ``FakeEntryStore``, say);
    ``opened`` records each opening's system and access."""

    stores: dict[str, EntryStore]
    opened: list[tuple[str, Access]] = field(default_factory=list)

    @contextlib.asynccontextmanager
    async def open(self, system: str, access: Access) -> AsyncIterator[EntryStore]:
        self.opened.append((system, access))
        yield self.stores[system]
