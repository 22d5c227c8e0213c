"""Releasing Core entries at their integration's sync slot (frequency other than real time).

The consumer only records that an (integration, entry) waits for a slot (``domain/schedule.py``).
This loop wakes every ``tick_s`` (and when a connection changes, since a switch to real time
releases at once), maps the newest stored version of every due entry and publishes the outcome
through the outbox, exactly like the consumer would have.

State is the ``scheduled_entries`` table, so a restart loses nothing, and the release is
idempotent: the due entries are released in chunks of ``chunk`` (read a page at a time, in key
order, so a slot of any size is held in memory a page at a time), each chunk in one transaction
that locks its entries first (as the consumer does, so a release and a new version never
interleave) and then deletes their waits; the events are staged in the same transaction. A
replica that comes second finds no wait and does nothing. A chunk that fails (e.g. the tracker
refuses one entry) is rolled back and released again one entry per transaction, so one entry
cannot hold back the others; an entry that fails alone keeps its wait and is tried next round.
One transaction per entry released a slot of 10,000 entries at a few hundred a second (issue 12);
within a chunk, the reads its entries share (the user directory, a ticket's lock and task link,
whether an entry is held) are made once (``chunk_reads.py``).
"""

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import structlog

from timebridge_common.events import ConnectionChanged, Envelope, Event
from timebridge_mapping.domain.direction import settings_of, takes
from timebridge_mapping.domain.entries import EntryKey
from timebridge_mapping.domain.schedule import is_due
from timebridge_mapping.handlers.chunk_reads import ChunkReads
from timebridge_mapping.handlers.mapper import EntryMapper, envelope_for
from timebridge_mapping.handlers.ports import Connections, MappingStore, MappingTx

CONSUMER = "mapping.scheduled-release"
"""The release claims no event: its chunk transaction is a batch without inbox claims."""

log = structlog.get_logger(__name__)


@dataclass
class ScheduledSync:
    store: MappingStore
    connections: Connections
    mapper: EntryMapper
    wake: asyncio.Event
    """Set when a connection changed (its frequency may now be real time)."""
    clock: Callable[[], dt.datetime]
    tick_s: float = 15.0
    chunk: int = 500
    """Entries released per transaction (and read per page)."""
    rounds: int = 0
    """Completed rounds (tests wait for one to know the loop looked)."""

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.tick_s)
            self.wake.clear()
            try:
                await self.release_due()
            except Exception:
                log.exception("releasing scheduled entries failed")
            self.rounds += 1

    async def release_due(self) -> int:
        """Map every entry whose slot has come; how many were released."""
        now = self.clock()
        async with self.store.transaction() as tx:
            waiting = await tx.scheduled_integrations()
        released = 0
        for integration_id, earliest in waiting:
            integration = await self.connections.get(integration_id)
            if integration is None or integration.status != "connected":
                continue  # kept: a reconnected integration syncs what waited
            frequency = settings_of(integration).frequency
            if not is_due(frequency, earliest, now):
                continue
            due_by = None if frequency == "realtime" else now
            started = time.monotonic()
            count = due = 0
            after: EntryKey | None = None
            while True:
                async with self.store.transaction() as tx:
                    keys = await tx.scheduled_keys(integration_id, due_by, after, self.chunk)
                if not keys:
                    break
                due += len(keys)
                after = keys[-1]
                count += await self._release_chunk(integration, keys, due_by)
                if len(keys) < self.chunk:
                    break
            released += count
            log.info(
                "scheduled entries released",
                integration=integration_id,
                released=count,
                due=due,
                seconds=round(time.monotonic() - started, 3),
            )
        return released

    async def _release_chunk(
        self, integration: ConnectionChanged, keys: Sequence[EntryKey], due_by: dt.datetime | None
    ) -> int:
        """Release ``keys`` in one transaction; one by one if that fails."""
        settings = settings_of(integration)
        try:
            async with self.store.batch(CONSUMER, ()) as tx:
                entries = await tx.get_many(keys)
                taken = await tx.take_scheduled_many(integration.connection_id, keys, due_by)
                held = await tx.held_keys(integration.connection_id, keys)
                reads = ChunkReads(tx, ((integration.connection_id, k) for k in held))
                events: list[tuple[Event, Envelope]] = []
                for key in keys:
                    entry = entries.get(key)
                    if key not in taken or entry is None or not takes(settings, key.source):
                        continue  # taken by another replica, or no longer taken (direction)
                    reads.next_entry()
                    event = await self.mapper.sync(cast(MappingTx, reads), integration, entry)
                    events.append((event, envelope_for(event)))
                await tx.publish(events)
        except Exception:
            log.warning(
                "releasing a chunk of scheduled entries failed; releasing them one by one",
                integration=integration.connection_id,
                chunk=len(keys),
                exc_info=True,
            )
            return sum([await self._release(integration, key, due_by) for key in keys])
        return len(events)

    async def _release(
        self, integration: ConnectionChanged, key: EntryKey, due_by: dt.datetime | None
    ) -> int:
        try:
            async with self.store.transaction() as tx:
                entry = await tx.get(key)
                if not await tx.take_scheduled(integration.connection_id, key, due_by):
                    return 0
                if entry is None or not takes(settings_of(integration), key.source):
                    # The direction changed meanwhile: the integration no longer takes it.
                    return 0
                event = await self.mapper.sync(tx, integration, entry)
                await tx.publish([(event, envelope_for(event))])
        except Exception:
            # One entry the tracker refuses or cannot take now must not block the others; its
            # wait was rolled back, so the next round tries it again.
            log.exception("releasing a scheduled entry failed", entry=key.external_id)
            return 0
        # Not ``event=``: that is structlog's own first argument (the message), and the
        # TypeError it raised ended each round after its first entry.
        log.debug(
            "scheduled entry released",
            integration=integration.connection_id,
            entry=key.external_id,
            outcome=type(event).__name__,
        )
        return 1
