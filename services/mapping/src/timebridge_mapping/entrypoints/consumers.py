"""Kafka subscriptions of the mapping service: thin adapters from events to handlers."""

import asyncio
from collections.abc import Sequence

from timebridge_common.connections import ConnectionCopies
from timebridge_common.events import ConnectionChanged, Envelope, TimeEntryLogged
from timebridge_common.runtime import ServiceRuntime
from timebridge_mapping.handlers.time_entries import TimeEntries


def register(runtime: ServiceRuntime, time_entries: TimeEntries, *, max_records: int) -> None:
    """Time entries in batches: one transaction and one offset commit per batch (issue 12)."""
    runtime.subscribe_batch(TimeEntryLogged, time_entries.on_batch, max_records=max_records)


def register_connections(
    runtime: ServiceRuntime, copies: ConnectionCopies, wake: Sequence[asyncio.Event]
) -> None:
    """Keep the local connection copies, and wake the loops a changed integration concerns.

    A switch to real time releases the entries waiting for a slot, and a new unmapped-user
    policy may release held ones: their loops need not wait for their next round. The consumer
    name is the one ``ConnectionCopies.subscribe`` uses, so the inbox keeps its claims; both
    the v2 and the deprecated v1 topic are read (``subscribe_with``).
    """

    async def connection_changed(envelope: Envelope, event: ConnectionChanged) -> None:
        if await copies.apply(f"{runtime.name}.connection-changed", envelope, event) == "applied":
            for event_ in wake:
                event_.set()

    copies.subscribe_with(runtime, connection_changed)
