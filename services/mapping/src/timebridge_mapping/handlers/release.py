"""Releasing held entries: an entry queued for its user is mapped once a mapping exists.

A mapping can appear in several ways: an admin maps the user, a users refresh finds an email
match, or the integration's policy changes (to ``default_user``, or ``skip``). So rather than
each of them knowing about held entries, they signal, and the releaser re-runs the mapping of
every held entry; one still unmapped stays held without a new ``queued`` status. It also runs
every ``interval_s``, for what nobody signalled (a signal lost in a restart), and when a
connection changes (its policy may now map the user).

Each entry is released in its own transaction, which locks the entry first (as the consumer
does): a release and a new version of the same entry never interleave, and an entry released by
another replica meanwhile is no longer held and is left alone.
"""

import asyncio
import contextlib
from dataclasses import dataclass

import structlog

from timebridge_common.events import ConnectionChanged
from timebridge_mapping.domain.outcomes import NotMapped
from timebridge_mapping.handlers.mapper import EntryMapper, envelope_for
from timebridge_mapping.handlers.ports import Connections, MappingStore

log = structlog.get_logger(__name__)


@dataclass
class Releaser:
    store: MappingStore
    connections: Connections
    mapper: EntryMapper
    releasable: asyncio.Event
    interval_s: float = 60.0

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.releasable.wait(), self.interval_s)
            self.releasable.clear()
            try:
                await self.release_all()
            except Exception:
                log.exception("releasing held entries failed")

    async def release_all(self) -> int:
        async with self.store.transaction() as tx:
            holding = await tx.integrations_holding()
        released = 0
        for integration_id in holding:
            integration = await self.connections.get(integration_id)
            if integration is not None and integration.status == "connected":
                released += await self.release(integration)
        return released

    async def release(self, integration: ConnectionChanged) -> int:
        """Map the integration's held entries that can be now; how many left the queue."""
        async with self.store.transaction() as tx:
            held = await tx.held_entries(integration.connection_id)
        released = 0
        for candidate in held:
            key = candidate.entry.key
            try:
                async with self.store.transaction() as tx:
                    entry = await tx.get(key)
                    if entry is None or not await tx.is_held(integration.connection_id, key):
                        continue
                    if await tx.is_scheduled(integration.connection_id, key):
                        # A newer version waits for the integration's sync slot: the slot maps
                        # it (and holds it again if its user is still unmapped), not before.
                        continue
                    result = await self.mapper.map(tx, integration, entry, may_refresh=False)
                    if isinstance(result, NotMapped) and result.status == "queued":
                        continue
                    event = await self.mapper.record(tx, integration, entry, result)
                    await tx.publish([(event, envelope_for(event))])
                    released += 1
            except Exception:
                # One entry the tracker refuses or cannot take now must not block the others;
                # it stays held and is tried again next round.
                log.exception("releasing a held entry failed", entry=key.external_id)
        if released:
            log.info("held entries released", integration=integration.connection_id, n=released)
        return released
