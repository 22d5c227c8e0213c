"""Kafka subscriptions of the mapping service: thin adapters from events to handlers."""

from timebridge_common.events import Envelope, TimeEntryLogged
from timebridge_common.runtime import ServiceRuntime
from timebridge_mapping.handlers.ports import MappingStore
from timebridge_mapping.handlers.time_entries import on_time_entry_logged


def register(runtime: ServiceRuntime, store: MappingStore) -> None:
    async def time_entry_logged(envelope: Envelope, event: TimeEntryLogged) -> None:
        await on_time_entry_logged(store, envelope, event)

    runtime.subscribe(TimeEntryLogged, time_entry_logged)
