"""The transactional outbox and the migration runner on the real database and broker."""

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
import pytest

from timebridge_common.db.migrations import apply_migrations
from timebridge_common.db.outbox import OutboxRelay, enqueue
from timebridge_common.events import EntrySynced, Envelope
from timebridge_common.events.codec import EncodedEvent
from timebridge_common.kafka.broker import make_broker
from timebridge_common.kafka.dlt import decode_headers
from timebridge_common.kafka.publisher import EventPublisher, PartlyPublishedError
from timebridge_common.testing import (
    end_offsets,
    in_memory_tracing,
    read_topic,
    sample_entry_synced,
    wait_for,
)

from .conftest import KAFKA, kafka_config, unique


async def test_only_committed_events_are_published_in_order(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    pool = await make_pool(await create_database("outbox"))
    assert await apply_migrations(pool, "timebridge_mapping.adapters.migrations")
    assert await apply_migrations(pool, "timebridge_mapping.adapters.migrations") == []

    workspace = unique("ws")
    # One entry, so one partition key: the relay must keep the commit order.
    events = [
        sample_entry_synced(workspace_id=workspace, reason=f"change {i}", status="error")
        for i in range(3)
    ]
    envelopes = [Envelope.for_event(e, producer="test") for e in events]
    async with pool.acquire() as conn, conn.transaction():
        await enqueue(conn, list(zip(events[:2], envelopes[:2], strict=True)))
    with contextlib.suppress(RuntimeError):
        async with pool.acquire() as conn, conn.transaction():
            await enqueue(conn, [(events[2], envelopes[2])])
            raise RuntimeError("the handler failed after staging its event")

    before = await end_offsets(KAFKA, EntrySynced.topic())
    broker = make_broker(kafka_config(), client_id="outbox-test")
    await broker.start()
    provider, _ = in_memory_tracing("outbox-test")
    relay = OutboxRelay(pool, EventPublisher(broker, provider.get_tracer("t"), "test"))
    task = asyncio.create_task(relay.run())
    try:

        def ours(records: list[Any]) -> list[Any]:
            return [r for r in records if decode_headers(r.headers)["ce_workspaceid"] == workspace]

        records = await read_topic(KAFKA, before, until=lambda rs: len(ours(rs)) >= 2)
        await wait_for(
            lambda: _none_pending(pool), timeout_s=10
        )  # the relay marks rows after Kafka acknowledged them
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await broker.stop()
    published = ours(records)
    assert [decode_headers(r.headers)["ce_id"] for r in published] == [
        str(e.event_id) for e in envelopes[:2]
    ]
    assert [json.loads(r.value)["reason"] for r in published] == ["change 0", "change 1"]
    assert await pool.fetchval("SELECT count(*) FROM outbox") == 2


async def _none_pending(pool: asyncpg.Pool) -> bool:
    pending: int = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    return pending == 0


class _FailingOnce(EventPublisher):
    """The broker acknowledged the batch's first record, then failed: once."""

    failed = False

    async def publish_encoded_many(self, batch: Sequence[EncodedEvent]) -> int:
        if not self.failed:
            self.failed = True
            await self.publish_encoded(batch[0])
            raise PartlyPublishedError(1, ConnectionError("the broker went away"))
        return await super().publish_encoded_many(batch)


async def test_a_batch_failing_midway_marks_only_what_was_acknowledged(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    pool = await make_pool(await create_database("outbox_partial"))
    await apply_migrations(pool, "timebridge_mapping.adapters.migrations")
    workspace = unique("ws")
    events = [
        sample_entry_synced(workspace_id=workspace, reason=f"change {i}", status="error")
        for i in range(3)
    ]
    envelopes = [Envelope.for_event(e, producer="test") for e in events]
    async with pool.acquire() as conn, conn.transaction():
        await enqueue(conn, list(zip(events, envelopes, strict=True)))
    broker = make_broker(kafka_config(), client_id="outbox-test")
    await broker.start()
    provider, _ = in_memory_tracing("outbox-test")
    relay = OutboxRelay(pool, _FailingOnce(broker, provider.get_tracer("t"), "test"))
    try:
        async with pool.acquire() as conn:
            with pytest.raises(ConnectionError):
                await relay.publish_pending(conn)
            marked = await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE published_at IS NOT NULL"
            )
            assert marked == 1  # the acknowledged first row only; the rest are sent again
            assert await relay.publish_pending(conn) == 2
    finally:
        await broker.stop()
    assert await _none_pending(pool)
