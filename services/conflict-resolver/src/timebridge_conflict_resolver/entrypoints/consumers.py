"""Kafka subscriptions of the conflict-resolver."""

from timebridge_common.events import Envelope, TimeEntryLogged
from timebridge_common.runtime import ServiceRuntime
from timebridge_conflict_resolver.adapters.postgres import PostgresObservations
from timebridge_conflict_resolver.handlers.observations import on_time_entry_logged


def register(runtime: ServiceRuntime, store: PostgresObservations) -> None:
    async def time_entry_logged(envelope: Envelope, event: TimeEntryLogged) -> None:
        await on_time_entry_logged(store, envelope, event)

    runtime.subscribe(TimeEntryLogged, time_entry_logged)
