"""Kafka subscriptions of the conflict-resolver."""

import uuid
from collections.abc import Sequence
from typing import Protocol

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import EntryMapped, Envelope, TimeEntryLogged
from timebridge_common.kafka.consumer import DeadLettered
from timebridge_common.runtime import ServiceRuntime
from timebridge_conflict_resolver.handlers.observations import on_time_entries_logged
from timebridge_conflict_resolver.handlers.ports import ObservationStore
from timebridge_conflict_resolver.handlers.sync import CONSUMER, Syncer


class Prefetch(Protocol):
    async def prefetch_processed(self, consumer: str, event_ids: Sequence[uuid.UUID]) -> None:
        """Look a batch's events up in the inbox at once (``PostgresSync``)."""
        ...


def register(
    runtime: ServiceRuntime,
    store: ObservationStore,
    syncer: Syncer,
    *,
    max_records: int = 200,
    inbox: Prefetch | None = None,
) -> None:
    """``EntryMapped`` comes in batches of ``max_records`` at most, handled in lanes; with
    ``inbox`` the batch's inbox look-ups are made in one query first. ``TimeEntryLogged`` comes
    in batches too, each stored in one transaction."""

    async def time_entries_logged(
        items: Sequence[tuple[Envelope, TimeEntryLogged]],
    ) -> list[InvalidMessageError | None]:
        await on_time_entries_logged(store, items)
        return [None] * len(items)

    async def entry_mapped(
        items: Sequence[tuple[Envelope, EntryMapped]],
    ) -> list[InvalidMessageError | None]:
        if inbox is not None:
            await inbox.prefetch_processed(CONSUMER, [envelope.event_id for envelope, _ in items])
        return await syncer.on_batch(items)

    async def entry_mapped_dead_lettered(letter: DeadLettered[EntryMapped]) -> None:
        await syncer.on_dead_letter(letter)

    runtime.subscribe_batch(TimeEntryLogged, time_entries_logged, max_records=max_records)
    runtime.subscribe_batch(
        EntryMapped,
        entry_mapped,
        max_records=max_records,
        on_dead_letter=entry_mapped_dead_lettered,
    )
