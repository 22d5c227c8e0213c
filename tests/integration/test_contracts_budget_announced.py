"""Budgets stored before contracts published BudgetChanged are announced once, after an upgrade.

Real PostgreSQL and Kafka, the contracts service started twice on one database: a budget stored
without its announcement (its outbox row and marker deleted, as before the upgrade) is on Kafka
exactly once after the first start (two replicas starting at once), with the id of its budget
and revision; a budget announced when it was stored is not announced again; the second start
announces nothing. About 20 s, mostly the service's Kafka consumers starting and stopping.
"""

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import asyncpg
from aiokafka import TopicPartition

from timebridge_common import connections
from timebridge_common.db.migrations import apply_migrations
from timebridge_common.events.budgets import BudgetChanged
from timebridge_common.testing import (
    end_offsets,
    in_memory_tracing,
    position_group_at_end,
    read_topic,
    wait_for,
)
from timebridge_contracts.adapters.postgres import PostgresStore
from timebridge_contracts.bootstrap import bootstrap
from timebridge_contracts.config import Settings
from timebridge_contracts.handlers.budgets import pending_event_id
from timebridge_contracts.handlers.commands import BudgetIn
from timebridge_contracts.handlers.contracts import Contracts

from .conftest import KAFKA, kafka_config, unique

T0 = dt.datetime(2026, 11, 21, 10, tzinfo=dt.UTC)
MIGRATIONS = (connections.MIGRATIONS, "timebridge_contracts.adapters.migrations")


async def test_a_budget_never_announced_is_announced_once_across_restarts(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    kafka = kafka_config().model_copy(
        update={"group_prefix": f"{kafka_config().group_prefix}-{unique('ctb')}"}
    )
    await position_group_at_end(KAFKA, f"{kafka.group_prefix}-contracts", topics)
    dsn = await create_database("contracts-announced")
    pool = await make_pool(dsn)
    await apply_migrations(pool, *MIGRATIONS)
    ws = unique("ws")
    contracts = Contracts(PostgresStore(pool), lambda: T0)
    hours = BudgetIn(target_kind="project", target_id="p_1", unit="hours", amount=Decimal(40))
    old = await contracts.put_budget(ws, "b_old", hours, "u")
    await contracts.put_budget(ws, "b_new", hours.model_copy(update={"target_id": "p_2"}), "u")
    # b_old as stored before the upgrade: no announcement in the outbox, no marker
    gone = await pool.execute("DELETE FROM outbox WHERE key = $1", f"{ws}:budget:b_old".encode())
    assert gone == "DELETE 1"
    await pool.execute("UPDATE budgets SET announced_revision = NULL WHERE budget_id = 'b_old'")
    start = await end_offsets(KAFKA, BudgetChanged.topic())

    async def restart(replicas: int) -> list[Any]:
        """Start the service (``replicas`` at once), let it announce and publish, stop it;
        return what Kafka holds of ``ws``."""
        pools = [await make_pool(dsn) for _ in range(replicas)]
        services = [
            bootstrap(
                Settings(kafka=kafka),
                pool=service_pool,
                tracer_provider=in_memory_tracing("contracts")[0],
            )
            for service_pool in pools
        ]

        async def published() -> bool:
            left: int = await pools[0].fetchval(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            )
            return left == 0

        try:
            await asyncio.gather(*(s.runtime.start() for s in services))
            for service in services:
                await wait_for(service.announcements.done.wait, timeout_s=30)
            await wait_for(published, timeout_s=30)
        finally:
            await asyncio.gather(*(s.runtime.stop() for s in services))
        return await everything_since(start, ws)

    first = await restart(replicas=2)  # two replicas starting at once
    assert sorted((r["budget_id"], r["revision"]) for r, _ in first) == [
        ("b_new", 1),
        ("b_old", 1),
    ]
    [(late, late_id)] = [(r, i) for r, i in first if r["budget_id"] == "b_old"]
    assert late_id == str(pending_event_id(old))
    assert (late["items"], late["amount"], late["unit"]) == (
        [{"project_id": "p_1", "ticket_id": None}],
        "40.0000",
        "hours",
    )
    marked = await pool.fetch(
        "SELECT budget_id FROM budgets WHERE announced_revision = revision ORDER BY 1"
    )
    assert [r["budget_id"] for r in marked] == ["b_new", "b_old"]

    assert await restart(replicas=1) == first  # a second start announces nothing


async def everything_since(start: dict[TopicPartition, int], ws: str) -> list[Any]:
    """Every BudgetChanged on Kafka from ``start`` to the end now, of workspace ``ws``:
    (the event, its id)."""
    end = await end_offsets(KAFKA, BudgetChanged.topic())
    total = sum(end[tp] - start.get(tp, 0) for tp in end)
    records = await read_topic(KAFKA, start, until=lambda r: len(r) >= total, timeout_s=30)
    found = []
    for record in records:
        event = json.loads(record.value)
        if event["workspace_id"] == ws:
            found.append((event, dict(record.headers)["ce_id"].decode()))
    return sorted(found, key=lambda pair: (pair[0]["budget_id"], pair[1]))  # two partitions
