"""Kafka subscriptions of the mapping service: thin adapters from events to handlers."""

from timebridge_common.events import Envelope, TimeEntryLogged
from timebridge_common.runtime import ServiceRuntime
from timebridge_mapping.handlers.time_entries import TimeEntries


def register(runtime: ServiceRuntime, time_entries: TimeEntries) -> None:
    async def time_entry_logged(envelope: Envelope, event: TimeEntryLogged) -> None:
        await time_entries.on_logged(envelope, event)

    runtime.subscribe(TimeEntryLogged, time_entry_logged)
