"""Fixtures for the integration tests: the real Kafka broker and PostgreSQL from `make infra-up`.

These tests never skip: when Kafka or PostgreSQL is unreachable they fail and say how to start
them. Every run uses fresh databases and fresh consumer groups (positioned at the end of each
topic), so runs neither see each other's records nor depend on what the topics already hold.
"""

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError

from timebridge_common.config import KafkaConfig
from timebridge_common.db.migrations import apply_migrations
from timebridge_common.db.pool import init_connection
from timebridge_common.kafka.topics import all_topics, ensure_topics

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


@pytest.fixture
async def resolver_pool(
    create_database: Callable[[str], Awaitable[str]],
) -> AsyncIterator[asyncpg.Pool]:
    """A fresh conflict-resolver database, migrated: for the resolver store's own tests."""
    dsn = await create_database(f"resolver_{uuid.uuid4().hex[:8]}")
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=3, init=init_connection)
    await apply_migrations(pool, "timebridge_conflict_resolver.adapters.migrations")
    try:
        yield pool
    finally:
        await pool.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"
