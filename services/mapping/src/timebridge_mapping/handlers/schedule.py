"""Releasing Core entries at their integration's sync slot (frequency other than real time).

The consumer only records that an (integration, entry) waits for a slot (``domain/schedule.py``).
This loop wakes every ``tick_s`` (and when a connection changes, since a switch to real time
releases at once), maps the newest stored version of every due entry and publishes the outcome
through the outbox, exactly like the consumer would have.

State is the ``scheduled_entries`` table, so a restart loses nothing, and the release is
idempotent: each entry is released in its own transaction that locks the entry first (as the
consumer does, so a release and a new version never interleave) and then deletes its wait; the
event is staged in the same transaction. A replica that comes second finds no wait and does
nothing; a failure rolls the deletion back and the entry is tried again next round.
"""

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from timebridge_common.events import ConnectionChanged
from timebridge_mapping.domain.direction import settings_of, takes
from timebridge_mapping.domain.entries import EntryKey
from timebridge_mapping.domain.schedule import is_due
from timebridge_mapping.handlers.mapper import EntryMapper, envelope_for
from timebridge_mapping.handlers.ports import Connections, MappingStore

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
            async with self.store.transaction() as tx:
                keys = await tx.scheduled_keys(integration_id, due_by)
            started = time.monotonic()
            count = 0
            for key in keys:
                count += await self._release(integration, key, due_by)
            released += count
            log.info(
                "scheduled entries released",
                integration=integration_id,
                released=count,
                due=len(keys),
                seconds=round(time.monotonic() - started, 3),
            )
        return released

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
