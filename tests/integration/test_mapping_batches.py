"""Mapping's batch consumption (issue 12): a batch commits as a whole or not at all, a batch
redelivered changes nothing twice, and an invalid event inside a batch is dead-lettered while the
rest of the batch is stored. Against real Postgres and Kafka, on the leased mapping service of
``test_mapping*`` (``mapping_world``).
"""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import Envelope, Event, TimeEntryLogged
from timebridge_common.events.codec import encode
from timebridge_common.kafka.dlt import decode_headers, dlt_topic
from timebridge_common.testing import end_offsets, read_topic, wait_for
from timebridge_mapping.domain.entries import EntryKey
from timebridge_mapping.handlers.ports import BatchTx, MappingStore
from timebridge_mapping.handlers.time_entries import CONSUMER, TimeEntries

from .conftest import KAFKA, kafka_config
from .mapping_world import Workspace, World, workspace, world

__all__ = ["world"]


class CrashBeforeCommit:
    """The real store, whose next ``crashes`` batches fail after all their writes, before the
    commit (what a process or database crash at that point leaves: nothing); ``refused``
    workspaces are invalid, as a handler may find an event."""

    def __init__(self, inner: MappingStore) -> None:
        self.inner = inner
        self.crashes = 0
        self.refused: set[str] = set()

    def batch(
        self, consumer: str, envelopes: Sequence[Envelope]
    ) -> AbstractAsyncContextManager[BatchTx]:
        if any(e.workspace_id in self.refused for e in envelopes):
            raise InvalidMessageError("injected: this workspace is refused")
        return self._batch(consumer, envelopes)

    @asynccontextmanager
    async def _batch(self, consumer: str, envelopes: Sequence[Envelope]) -> AsyncIterator[Any]:
        async with self.inner.batch(consumer, envelopes) as tx:
            yield _Crashing(tx, self)

    def transaction(self) -> Any:
        return self.inner.transaction()

    async def get(self, key: EntryKey) -> Any:
        return await self.inner.get(key)


class _Crashing:
    """A batch transaction whose outbox write, the last one, fails while ``crashes`` lasts."""

    def __init__(self, tx: BatchTx, store: CrashBeforeCommit) -> None:
        self._tx, self._store = tx, store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)

    async def publish(self, events: Sequence[tuple[Event, Envelope]]) -> None:
        await self._tx.publish(events)
        if self._store.crashes:
            self._store.crashes -= 1
            raise ConnectionResetError("injected: the connection dropped before the commit")


def handler(world: World, store: CrashBeforeCommit, max_transaction_s: float = 10.0) -> TimeEntries:
    """A second ``TimeEntries`` beside the service's consumer, on the same store and mapper."""
    scheduled = world.mapping.scheduled
    return TimeEntries(
        store, scheduled.connections, scheduled.mapper, max_transaction_s=max_transaction_s
    )


def changes(ws: Workspace, *entries: TimeEntryLogged) -> list[tuple[Envelope, TimeEntryLogged]]:
    return [
        (Envelope.for_event(e, producer="test", event_id=e.observation_id()), e) for e in entries
    ]


@pytest.mark.parametrize("max_transaction_s", [10.0, 0.0], ids=["one-part", "parts-of-one"])
async def test_a_batch_redelivered_after_a_crash_before_its_commit_is_stored_once(
    world: World, max_transaction_s: float
) -> None:
    """``parts-of-one``: a batch whose mapping takes long commits in parts (here one event
    each); the first part crashes, and every part's claims commit with its own work only."""
    ws = await workspace(world)
    ann, _ = ws.person("Ann")
    batch = changes(
        ws,
        ws.entry("te_1", ann),
        ws.entry("te_2", ann),
        ws.entry("te_1", ann, minute=1),  # a second version of te_1 in the same batch
        ws.entry("te_3", ann),
    )
    store = CrashBeforeCommit(world.mapping.store)
    entries = handler(world, store, max_transaction_s)
    store.crashes = 1
    with pytest.raises(ConnectionResetError):
        await entries.on_batch(batch)
    for n in (1, 2, 3):  # nothing of the crashed attempt is left
        assert await store.get(EntryKey(ws.id, "core", f"te_{n}")) is None
    assert await entries.on_batch(batch) == [None] * 4  # the consumer's retry
    assert await entries.on_batch(batch) == [None] * 4  # redelivered: offsets not committed

    te_1 = await store.get(EntryKey(ws.id, "core", "te_1"))
    assert te_1 is not None
    assert te_1.last_event_id == batch[2][0].event_id
    claims = await world.pool.fetchval(
        "SELECT count(*) FROM inbox WHERE consumer = $1 AND event_id = ANY($2::uuid[])",
        CONSUMER,
        [e.event_id for e, _ in batch],
    )
    staged = [await world.outbox_count(ws.id, f"te_{n}") for n in (1, 2, 3)]
    assert (claims, staged) == (4, [2, 1, 1])  # one EntryMapped per version, none twice


async def test_an_invalid_event_inside_a_batch_leaves_nothing_and_the_rest_is_stored(
    world: World,
) -> None:
    ws, refused = await workspace(world), await workspace(world)
    ann, _ = ws.person("Ann")
    batch = changes(ws, ws.entry("te_1", ann), ws.entry("te_2", ann))
    bad = changes(refused, refused.entry("te_9", refused.person("Bob")[0]))
    store = CrashBeforeCommit(world.mapping.store)
    store.refused.add(refused.id)
    results = await handler(world, store).on_batch([batch[0], *bad, batch[1]])

    assert [r is None for r in results] == [True, False, True]
    assert isinstance(results[1], InvalidMessageError)
    for n in (1, 2):
        assert await store.get(EntryKey(ws.id, "core", f"te_{n}")) is not None
    assert await store.get(EntryKey(refused.id, "core", "te_9")) is None
    claimed = await world.pool.fetchval(
        "SELECT count(*) FROM inbox WHERE event_id = $1", bad[0][0].event_id
    )
    assert claimed == 0  # a replay of its dead letter is handled, not taken for a duplicate


async def test_an_undecodable_record_inside_a_batch_is_dead_lettered_the_rest_stored(
    world: World,
) -> None:
    """Through the service's consumer: the records are produced in one burst (one poll)."""
    ws = await workspace(world)
    ann, _ = ws.person("Ann")
    good = [encode(e, env) for env, e in changes(ws, *(ws.entry(f"te_{n}", ann) for n in range(6)))]
    poison = json.loads(good[0].value)
    poison["entry"]["duration_seconds"] = -1
    poison_headers = {**good[0].headers, "ce_id": str(uuid.uuid4())}
    dlt = dlt_topic(TimeEntryLogged.topic())
    dlt_from = await end_offsets(KAFKA, dlt)
    group = f"{kafka_config().group_prefix}-m-mapping"
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", linger_ms=50)
    await producer.start()
    try:
        records = [(g.value, g.key, g.headers) for g in good[:3]]
        records.append((json.dumps(poison).encode(), good[0].key, poison_headers))
        records += [(g.value, g.key, g.headers) for g in good[3:]]
        sent = [
            await producer.send(
                TimeEntryLogged.topic(),
                value,
                key=key,
                headers=[(k, v.encode()) for k, v in headers.items()],
            )
            for value, key, headers in records
        ]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()

    async def all_stored() -> bool:
        stored = [
            await world.mapping.store.get(EntryKey(ws.id, "core", f"te_{n}")) for n in range(6)
        ]
        return all(stored)

    await wait_for(all_stored, timeout_s=60)

    def ours(record: Any) -> bool:
        headers = decode_headers(record.headers)
        return (
            headers.get("ce_id") == poison_headers["ce_id"]
            and headers.get("kafka_dlt-original-consumer-group") == group
        )

    letters = await read_topic(KAFKA, dlt_from, until=lambda rs: any(map(ours, rs)), timeout_s=60)
    [letter] = [r for r in letters if ours(r)]
    assert "entry.duration_seconds" in decode_headers(letter.headers)["kafka_dlt-exception-message"]
