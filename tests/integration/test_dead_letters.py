"""Dead-letter topics and replay on the real broker, with mapping as the consumer."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import asyncpg
import pytest

from timebridge_common.config import RetryConfig
from timebridge_common.crypto import SecretBox
from timebridge_common.events import Envelope, TimeEntryLogged
from timebridge_common.events.codec import encode
from timebridge_common.kafka.dlt import decode_headers, dlt_topic
from timebridge_common.kafka.replay import replay
from timebridge_common.testing import (
    end_offsets,
    in_memory_tracing,
    position_group_at_end,
    read_topic,
    sample_time_entry_logged,
    wait_for,
)
from timebridge_mapping.adapters.postgres import PostgresMappingStore
from timebridge_mapping.bootstrap import Mapping, bootstrap
from timebridge_mapping.config import Settings
from timebridge_mapping.domain.entries import EntryKey
from timebridge_mapping.handlers.ports import MappingTx

from .conftest import KAFKA, kafka_config, unique


class FaultyStore:
    """The real Postgres store, failing transiently for the workspaces in ``broken``."""

    def __init__(self, inner: PostgresMappingStore) -> None:
        self.inner = inner
        self.broken: set[str] = set()

    def once(
        self, consumer: str, envelope: Envelope
    ) -> AbstractAsyncContextManager[MappingTx | None]:
        if envelope.workspace_id in self.broken:
            raise ConnectionError(f"injected outage for {envelope.workspace_id}")
        return self.inner.once(consumer, envelope)

    def transaction(self) -> AbstractAsyncContextManager[MappingTx]:
        return self.inner.transaction()

    async def get(self, key: EntryKey) -> Any:
        return await self.inner.get(key)


@pytest.fixture(scope="module")
async def mapping(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> AsyncIterator[tuple[Mapping, FaultyStore]]:
    kafka = kafka_config().model_copy(update={"group_prefix": f"{kafka_config().group_prefix}-dlt"})
    await position_group_at_end(KAFKA, f"{kafka.group_prefix}-mapping", topics)
    pool = await make_pool(await create_database("mapping-dlt"))
    store = FaultyStore(PostgresMappingStore(pool))
    provider, _ = in_memory_tracing("mapping")
    service = bootstrap(
        Settings(
            kafka=kafka,
            retry=RetryConfig(max_attempts=2, initial_backoff_s=0.05),
            encryption_key=SecretBox.generate_key(),
        ),
        pool=pool,
        store=store,
        tracer_provider=provider,
    )
    await service.runtime.start()
    yield service, store
    await service.runtime.stop()


async def produce(service: Mapping, value: bytes, headers: dict[str, str], key: bytes) -> None:
    await service.runtime.broker.publish(value, TimeEntryLogged.topic(), key=key, headers=headers)


def ours(workspace: str) -> Callable[[list[Any]], bool]:
    return lambda records: any(
        decode_headers(r.headers).get("ce_workspaceid") == workspace for r in records
    )


async def test_invalid_record_is_dead_lettered_with_spring_headers(mapping: Any) -> None:
    service, _ = mapping
    workspace = unique("ws")
    event = sample_time_entry_logged(workspace_id=workspace)
    envelope = Envelope.for_event(event, producer="test")
    bad = json.loads(encode(event, envelope).value)
    bad["entry"]["duration_seconds"] = -1
    before = await end_offsets(KAFKA, dlt_topic(TimeEntryLogged.topic()))
    await produce(service, json.dumps(bad).encode(), envelope.to_headers(), b"k-invalid")

    records = await read_topic(KAFKA, before, until=ours(workspace))
    [record] = [r for r in records if decode_headers(r.headers)["ce_workspaceid"] == workspace]
    headers = decode_headers(record.headers)
    assert record.key == b"k-invalid"
    assert json.loads(record.value) == bad
    assert headers["kafka_dlt-original-topic"] == TimeEntryLogged.topic()
    assert (
        headers["kafka_dlt-original-consumer-group"] == f"{kafka_config().group_prefix}-dlt-mapping"
    )
    assert int(headers["kafka_dlt-original-offset"]) >= 0
    assert headers["timebridge_dlt-error-class"] == "invalid"
    assert "entry.duration_seconds" in headers["kafka_dlt-exception-message"]
    assert await service.store.get(EntryKey(workspace, "core", "te_1")) is None


async def test_transient_failures_are_dead_lettered_then_replayed(mapping: Any) -> None:
    service, store = mapping
    workspace = unique("ws")
    store.broken.add(workspace)
    event = sample_time_entry_logged(workspace_id=workspace)
    envelope = Envelope.for_event(event, producer="test")
    encoded = encode(event, envelope)
    before = await end_offsets(KAFKA, dlt_topic(TimeEntryLogged.topic()))
    await produce(service, encoded.value, encoded.headers, encoded.key)

    records = await read_topic(KAFKA, before, until=ours(workspace))
    headers = decode_headers(records[-1].headers)
    assert headers["timebridge_dlt-error-class"] == "transient"
    assert headers["kafka_deliveryAttempt"] == "2"
    assert "injected outage" in headers["kafka_dlt-exception-message"]
    key = EntryKey(workspace, "core", "te_1")
    assert await store.get(key) is None

    store.broken.discard(workspace)
    replayed = await replay(
        KAFKA, dlt_topic(TimeEntryLogged.topic()), event_ids=[str(envelope.event_id)]
    )
    assert [r.event_id for r in replayed] == [str(envelope.event_id)]
    stored = await wait_for(lambda: store.get(key))
    assert stored.last_event_id == envelope.event_id

    # Replaying again is harmless: the inbox already holds the event id.
    await replay(KAFKA, dlt_topic(TimeEntryLogged.topic()), event_ids=[str(envelope.event_id)])
    await asyncio.sleep(1)
    assert (await store.get(key)).last_event_id == envelope.event_id


async def test_replay_filters_by_event_id(mapping: Any) -> None:
    letters = await replay(
        KAFKA, dlt_topic(TimeEntryLogged.topic()), event_ids=[str(uuid.uuid4())], dry_run=True
    )
    assert letters == []
