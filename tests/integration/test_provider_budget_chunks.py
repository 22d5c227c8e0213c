"""The shared provider budget in chunks (issue 12): far from a large limit a process asks the
database once for many grants; the limit still holds in every window across processes, and a
``429`` drops what is left of a chunk."""

import asyncio
import time
from collections.abc import Awaitable, Callable

import asyncpg

from timebridge_common.outbound.shared_budget import (
    CHUNK_MAX,
    SharedBudget,
    budget_key,
    chunk,
)

from .test_provider_budget import two_processes

KEY = budget_key("everhour", "http://everhour.sandbox", "ek-chunks")


async def test_far_from_a_large_limit_one_call_grants_a_chunk(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    pool, _ = await two_processes(create_database, make_pool, "budget-chunks")
    budget = SharedBudget(pool, KEY, 100_000, 10.0)
    assert chunk(20) == 1  # a documented limit such as Everhour's: one grant per call
    for _ in range(3 * CHUNK_MAX):
        await budget.acquire()
    assert budget.database_calls == 3
    logged = await pool.fetchval(
        "SELECT cardinality(grants) FROM provider_budgets WHERE budget_key = $1", KEY
    )
    assert logged == 3 * CHUNK_MAX  # every grant spent locally is in the shared log

    await budget.acquire()  # a fourth chunk, 31 grants left of it
    budget.pause(0.2)  # a 429: the chunk's rest is not spent after it
    await budget.acquire()
    assert budget.database_calls == 5


async def test_chunks_keep_two_processes_within_the_limit_in_every_window(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    limit, window_s = 128, 1.0
    pool_a, pool_b = await two_processes(create_database, make_pool, "budget-chunk-window")
    budgets = [
        SharedBudget(pool_a, KEY, limit, window_s),
        SharedBudget(pool_b, KEY, limit, window_s),
    ]
    assert chunk(limit) > 1
    sent: list[float] = []

    async def draw(budget: SharedBudget, count: int) -> None:
        for _ in range(count):
            await budget.acquire()
            sent.append(time.monotonic())  # when the request would go out

    async with asyncio.timeout(60):
        await asyncio.gather(*(draw(b, 80) for b in budgets for _ in range(2)))

    times = sorted(sent)
    assert len(times) == 320
    crowded = [i for i in range(len(times) - limit) if times[i + limit] - times[i] < window_s]
    assert crowded == [], f"more than {limit} requests within {window_s}s"
