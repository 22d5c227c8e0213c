"""Handling ``TimeEntryLogged``: keep the newest version of every source entry, exactly once, and
map each new version for every integration whose direction takes it.

The inbox claim, the stored version, what mapping stores (task links, held entries) and the
events it yields (through the outbox) commit in one transaction: a redelivered event finds its
claim and changes nothing, and a failure leaves nothing behind to be published.
"""

from dataclasses import dataclass
from typing import Literal

import structlog

from timebridge_common.events import ConnectionChanged, Envelope, TimeEntryLogged
from timebridge_mapping.domain.direction import TRACKER, integrations_for
from timebridge_mapping.domain.entries import apply_change, key_of
from timebridge_mapping.handlers.mapper import EntryMapper, envelope_for
from timebridge_mapping.handlers.ports import Connections, MappingStore, MappingTx

CONSUMER = "mapping.time-entry-logged"

Outcome = Literal["mapped", "stored", "duplicate", "stale"]

log = structlog.get_logger(__name__)


@dataclass
class TimeEntries:
    store: MappingStore
    connections: Connections
    mapper: EntryMapper

    async def on_logged(self, envelope: Envelope, event: TimeEntryLogged) -> Outcome:
        connected = await self.connections.connected(event.workspace_id, TRACKER)
        targets = integrations_for(event.source, event.integration_id, connected)
        async with self.store.once(CONSUMER, envelope) as tx:
            outcome = "duplicate" if tx is None else await self._apply(tx, envelope, event, targets)
        log.info(
            "time entry handled",
            outcome=outcome,
            source=event.source,
            entry=event.external_id,
            integrations=[i.connection_id for i in targets],
        )
        return outcome

    async def _apply(
        self,
        tx: MappingTx,
        envelope: Envelope,
        event: TimeEntryLogged,
        targets: list[ConnectionChanged],
    ) -> Outcome:
        entry = apply_change(await tx.get(key_of(event)), event, envelope.event_id)
        if entry is None:
            return "stale"
        await tx.save(entry)
        events = [await self.mapper.sync(tx, integration, entry) for integration in targets]
        await tx.publish([(e, envelope_for(e, envelope)) for e in events])
        return "mapped" if events else "stored"
