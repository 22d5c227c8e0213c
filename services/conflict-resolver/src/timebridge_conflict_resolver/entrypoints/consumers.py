"""Kafka subscriptions of the conflict-resolver."""

from timebridge_common.events import EntryMapped, Envelope, TimeEntryLogged
from timebridge_common.kafka.consumer import DeadLettered
from timebridge_common.runtime import ServiceRuntime
from timebridge_conflict_resolver.handlers.observations import on_time_entry_logged
from timebridge_conflict_resolver.handlers.ports import ObservationStore
from timebridge_conflict_resolver.handlers.sync import Syncer


def register(
    runtime: ServiceRuntime, store: ObservationStore, syncer: Syncer, *, max_records: int = 200
) -> None:
    """``EntryMapped`` comes in batches of ``max_records`` at most, handled in lanes."""

    async def time_entry_logged(envelope: Envelope, event: TimeEntryLogged) -> None:
        await on_time_entry_logged(store, envelope, event)

    async def entry_mapped_dead_lettered(letter: DeadLettered[EntryMapped]) -> None:
        await syncer.on_dead_letter(letter)

    runtime.subscribe(TimeEntryLogged, time_entry_logged)
    runtime.subscribe_batch(
        EntryMapped,
        syncer.on_batch,
        max_records=max_records,
        on_dead_letter=entry_mapped_dead_lettered,
    )
