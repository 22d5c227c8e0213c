"""Fixtures for the integration tests: the real Kafka broker and PostgreSQL from `make infra-up`.

These tests never skip: when Kafka or PostgreSQL is unreachable they fail and say how to start
them. Every run uses fresh databases and fresh consumer groups (positioned at the end of each
topic), so runs neither see each other's records nor depend on what the topics already hold.
"""

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaConnectionError

from timebridge_common.config import KafkaConfig
from timebridge_common.db.pool import init_connection
from timebridge_common.kafka.topics import all_topics, ensure_topics, partitions_of

KAFKA = os.environ.get(
    "TB_IT_KAFKA", "127.0.0.1:" + os.environ.get("TIMEBRIDGE_KAFKA_PORT", "19092")
)
PG = os.environ.get(
    "TB_IT_PG",
    "postgresql://timebridge:timebridge@127.0.0.1:" + os.environ.get("TIMEBRIDGE_PG_PORT", "15432"),
)
RUN_ID = uuid.uuid4().hex[:8]
HOW_TO_START = "start them with `make infra-up` (or run `make test`, which does)"


def kafka_config() -> KafkaConfig:
    return KafkaConfig(bootstrap_servers=KAFKA, group_prefix=f"it-{RUN_ID}")


@pytest.fixture(scope="session")
async def topics() -> list[str]:
    try:
        await ensure_topics(kafka_config())
    except KafkaConnectionError as exc:
        pytest.fail(f"Kafka is not reachable at {KAFKA} ({exc}); {HOW_TO_START}")
    return all_topics()


async def position_group_at_end(group_id: str, topic_names: list[str]) -> None:
    """Commit ``group_id``'s offsets at the current end of ``topic_names``.

    A service joining that group then starts at "now", like a long-running deployment, instead
    of replaying everything earlier test runs left in the topics.
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=KAFKA, group_id=group_id, enable_auto_commit=False
    )
    partitions = await partitions_of(KAFKA, topic_names)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        await consumer.commit({tp: offset for tp, offset in ends.items()})
    finally:
        await consumer.stop()


@pytest.fixture(scope="session")
async def create_database() -> AsyncIterator[Callable[[str], Awaitable[str]]]:
    """Create a scratch database; all are dropped at the end of the session."""
    try:
        admin = await asyncpg.connect(f"{PG}/postgres")
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG} ({exc!r}); {HOW_TO_START}")
    created: list[str] = []

    async def create(name: str) -> str:
        db = f"it_{RUN_ID}_{name.replace('-', '_')}"
        await admin.execute(f'CREATE DATABASE "{db}"')
        created.append(db)
        return f"{PG}/{db}"

    yield create
    for db in created:
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    await admin.close()


@pytest.fixture(scope="session")
async def make_pool() -> AsyncIterator[Callable[[str], Awaitable[asyncpg.Pool]]]:
    pools: list[asyncpg.Pool] = []

    async def make(dsn: str) -> asyncpg.Pool:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=5, init=init_connection)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        await pool.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def read_topic(
    topic: str,
    *,
    start: dict[TopicPartition, int],
    until: Callable[[list[Any]], bool],
    timeout_s: float = 20.0,
) -> list[Any]:
    """Records of ``topic`` from ``start`` offsets until ``until(records)`` holds."""
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)
    await consumer.start()
    records: list[Any] = []
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        async with asyncio.timeout(timeout_s):
            while not until(records):
                batches = await consumer.getmany(timeout_ms=200)
                for batch in batches.values():
                    records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def end_offsets(topic: str) -> dict[TopicPartition, int]:
    partitions = await partitions_of(KAFKA, [topic])
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)
    await consumer.start()
    try:
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


async def wait_for(check: Callable[[], Awaitable[Any]], timeout_s: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        await asyncio.sleep(0.1)
