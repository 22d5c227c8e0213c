"""The transactional outbox and the migration runner on the real database and broker."""

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from timebridge_common.db.migrations import apply_migrations
from timebridge_common.db.outbox import OutboxRelay, enqueue
from timebridge_common.events import EntrySynced, Envelope
from timebridge_common.kafka.broker import make_broker
from timebridge_common.kafka.dlt import decode_headers
from timebridge_common.kafka.publisher import EventPublisher
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
