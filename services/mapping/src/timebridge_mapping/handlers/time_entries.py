"""Handling ``TimeEntryLogged``: keep the newest version of every source entry, exactly once, and
map each new version for every integration whose direction takes it: at once for a real-time
integration, at the integration's next sync slot otherwise (a Core change is then only recorded as
waiting, and ``handlers/schedule.py`` maps the entry's newest version when the slot comes).

The inbox claim, the stored version, what mapping stores (task links, held entries) and the
events it yields (through the outbox) commit in one transaction: a redelivered event finds its
claim and changes nothing, and a failure leaves nothing behind to be published.
"""

from dataclasses import dataclass, field
from typing import Literal

import structlog

from timebridge_common.events import ConnectionChanged, Envelope, TimeEntryLogged
from timebridge_mapping.domain.direction import integrations_for, settings_of
from timebridge_mapping.domain.entries import apply_change, key_of
from timebridge_mapping.domain.schedule import SyncSlots
from timebridge_mapping.handlers.mapper import EntryMapper, envelope_for
from timebridge_mapping.handlers.ports import Connections, MappingStore, MappingTx

CONSUMER = "mapping.time-entry-logged"

Outcome = Literal["mapped", "scheduled", "stored", "duplicate", "stale"]

log = structlog.get_logger(__name__)


@dataclass
class TimeEntries:
    store: MappingStore
    connections: Connections
    mapper: EntryMapper
    slots: SyncSlots = field(default_factory=SyncSlots)

    async def on_logged(self, envelope: Envelope, event: TimeEntryLogged) -> Outcome:
        connected = await self.connections.connected(event.workspace_id)
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
        now = self.mapper.clock()
        events = []
        scheduled = False
        for integration in targets:
            due_at = self.slots.defer_until(entry.key.source, settings_of(integration), now)
            if due_at is not None:
                await tx.schedule(integration.connection_id, entry.key, due_at, now)
                scheduled = True
                continue
            # Switched to real time while an older version waited: this one supersedes it.
            await tx.unschedule(integration.connection_id, entry.key)
            events.append(await self.mapper.sync(tx, integration, entry))
        await tx.publish([(e, envelope_for(e, envelope)) for e in events])
        if events:
            return "mapped"
        return "scheduled" if scheduled else "stored"
