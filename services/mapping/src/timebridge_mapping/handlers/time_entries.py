"""Handling ``TimeEntryLogged``: keep the newest version of every source entry, exactly once, and
map each new version for every integration whose direction takes it: at once for a real-time
integration, at the integration's next sync slot otherwise (a Core change is then only recorded as
waiting, and ``handlers/schedule.py`` maps the entry's newest version when the slot comes).

Events come in batches (``kafka.batch``): one transaction holds the batch's inbox claims, the
stored versions, what mapping stores for them (task links, held entries, waits) and the events
they yield (through the outbox). A redelivered batch finds its claims and changes nothing twice;
a failure leaves nothing behind to be published, and the whole batch is retried. The domain
decides per event (``apply_changes``, ``SyncSlots``); this handler gathers the I/O: one read of
the batch's entries, one write of their newest versions, one of the waits, one of the events.
One commit per event capped mapping at ~110 entries/s (issue 12).

An event the handler finds invalid (e.g. its connection will never exist) must leave nothing
behind, as if handled alone: the batch is then rolled back and handled one event per
transaction, in order, so that only the invalid ones are dead-lettered.
"""

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, cast

import structlog

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import ConnectionChanged, Envelope, Event, TimeEntryLogged
from timebridge_mapping.domain.direction import integrations_for, settings_of
from timebridge_mapping.domain.entries import EntryKey, StoredEntry, apply_changes, key_of
from timebridge_mapping.domain.schedule import SyncSlots
from timebridge_mapping.handlers.chunk_reads import ChunkReads
from timebridge_mapping.handlers.mapper import EntryMapper, envelope_for
from timebridge_mapping.handlers.ports import BatchTx, Connections, MappingStore, MappingTx

CONSUMER = "mapping.time-entry-logged"

Outcome = Literal["mapped", "scheduled", "stored", "duplicate", "stale"]
Change = tuple[Envelope, TimeEntryLogged]

log = structlog.get_logger(__name__)


@dataclass
class TimeEntries:
    store: MappingStore
    connections: Connections
    mapper: EntryMapper
    slots: SyncSlots = field(default_factory=SyncSlots)
    max_transaction_s: float = 10.0
    """A batch whose mapping calls providers commits in parts of about this long: a redelivery
    (the broker's poll interval passed) then redoes one part, not the whole batch."""
    monotonic: Callable[[], float] = time.monotonic

    async def on_logged(self, envelope: Envelope, event: TimeEntryLogged) -> Outcome:
        """One event alone (a batch of one)."""
        return (await self._handle_all([(envelope, event)]))[0]

    async def on_batch(self, changes: Sequence[Change]) -> list[InvalidMessageError | None]:
        """Handle ``changes`` in order; per change ``None``, or why it is invalid (no effect)."""
        try:
            await self._handle_all(changes)
        except InvalidMessageError as exc:
            if len(changes) == 1:
                return [exc]
        else:
            return [None] * len(changes)
        results: list[InvalidMessageError | None] = []
        for change in changes:  # in order: a key's later versions still follow its earlier
            try:
                await self._handle_all([change])
            except InvalidMessageError as exc:
                results.append(exc)
            else:
                results.append(None)
        return results

    async def _handle_all(self, changes: Sequence[Change]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        while len(outcomes) < len(changes):
            outcomes += await self._handle(changes[len(outcomes) :])
        return outcomes

    async def _handle(self, changes: Sequence[Change]) -> list[Outcome]:
        """Handle ``changes`` in one transaction, or the first of them if that takes longer than
        ``max_transaction_s`` (the others' claims are given back): the outcomes of those done."""
        started = self.monotonic()
        connected: dict[str, list[ConnectionChanged]] = {}
        for _, event in changes:
            if event.workspace_id not in connected:
                connected[event.workspace_id] = await self.connections.connected(event.workspace_id)
        envelopes = [envelope for envelope, _ in changes]
        async with self.store.batch(CONSUMER, envelopes) as tx:
            claimed = [(e, ev) for e, ev in changes if e.event_id in tx.claimed]
            held = await tx.get_many(sorted({key_of(ev) for _, ev in claimed}, key=_order))
            decided = apply_changes(held, tx.claimed, [(e.event_id, ev) for e, ev in changes])
            reads = await self._shared_reads(tx, connected, held)
            now = self.mapper.clock()
            newest: dict[EntryKey, StoredEntry] = {}
            waits: list[tuple[str, EntryKey, dt.datetime]] = []
            events: list[tuple[Event, Envelope]] = []
            outcomes: list[Outcome] = []
            for (envelope, event), entry in zip(changes, decided, strict=True):
                if isinstance(entry, str):
                    outcomes.append(entry)
                    continue
                newest[entry.key] = entry
                targets = integrations_for(
                    event.source, event.integration_id, connected[event.workspace_id]
                )
                outcome: Outcome = "stored"
                for integration in targets:
                    due_at = self.slots.defer_until(entry.key.source, settings_of(integration), now)
                    if due_at is not None:
                        waits.append((integration.connection_id, entry.key, due_at))
                        outcome = "scheduled" if outcome == "stored" else outcome
                        continue
                    # Switched to real time while an older version waited: this one supersedes.
                    await tx.unschedule(integration.connection_id, entry.key)
                    reads.next_entry()
                    mapped = await self.mapper.sync(cast(MappingTx, reads), integration, entry)
                    events.append((mapped, envelope_for(mapped, envelope)))
                    outcome = "mapped"
                outcomes.append(outcome)
                if self.monotonic() - started > self.max_transaction_s:
                    break  # provider calls took long: commit the work done so far
            done = {e.event_id for e, _ in changes[: len(outcomes)]}
            await tx.unclaim([e.event_id for e, _ in changes[len(outcomes) :]], keep=done)
            await tx.save_many(list(newest.values()))
            await tx.schedule_many(waits, now)
            await tx.publish(events)
        log.info("time entries handled", batch=len(outcomes), outcomes=dict(Counter(outcomes)))
        return outcomes

    async def _shared_reads(
        self,
        tx: BatchTx,
        connected: dict[str, list[ConnectionChanged]],
        stored: dict[EntryKey, StoredEntry],
    ) -> ChunkReads:
        """The batch's shared reads (``chunk_reads``): which of its entries each connected
        integration holds, read once (nothing to read when no integration is connected; an
        entry never stored before is held by none)."""
        keys = sorted(stored, key=_order)
        holds: list[tuple[str, EntryKey]] = []
        for integrations in connected.values():
            for integration in integrations:
                found = await tx.held_keys(integration.connection_id, keys) if keys else set()
                holds += [(integration.connection_id, key) for key in found]
        return ChunkReads(tx, holds)


def _order(key: EntryKey) -> tuple[str, str, str]:
    return (key.workspace_id, key.source, key.external_id)
