"""The shared provider budget on the real PostgreSQL: two "processes" (two pools, two budget
objects) of one service draw from one bucket, and a ``429`` one of them meets pauses the other.

Grant times are the database's (the budget's only clock), so the window check is exact rather
than subject to the test process's scheduling jitter.
"""

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable

import asyncpg
import httpx

from timebridge_common.db.migrations import apply_migrations
from timebridge_common.outbound.http import ProviderHttp, RetryPolicy
from timebridge_common.outbound.shared_budget import (
    MIGRATIONS,
    SharedBudget,
    SharedBudgets,
    budget_key,
)
from timebridge_common.testing import wait_for

LIMIT, WINDOW_S = 10, 1.0
KEY = budget_key("everhour", "http://everhour.sandbox", "ek-shared-budget")


async def two_processes(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
    name: str,
) -> tuple[asyncpg.Pool, asyncpg.Pool]:
    dsn = await create_database(name)
    first, second = await make_pool(dsn), await make_pool(dsn)
    await apply_migrations(first, MIGRATIONS)
    return first, second


async def test_two_processes_never_exceed_the_limit_in_any_window_together(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    pool_a, pool_b = await two_processes(create_database, make_pool, "budget-window")
    budgets = [
        SharedBudget(pool_a, KEY, LIMIT, WINDOW_S),
        SharedBudget(pool_b, KEY, LIMIT, WINDOW_S),
    ]
    granted: dict[int, list[dt.datetime]] = {0: [], 1: []}

    async def draw(which: int, count: int) -> None:
        budget = budgets[which]
        for _ in range(count):
            await budget.acquire()
            assert budget.last_granted_at is not None
            granted[which].append(budget.last_granted_at)

    # Two tasks per process as well: concurrent use of one budget object, as clients share it.
    async with asyncio.timeout(60):
        await asyncio.gather(draw(0, 8), draw(0, 8), draw(1, 8), draw(1, 8))

    times = sorted(granted[0] + granted[1])
    assert len(times) == 32
    assert granted[0]
    assert granted[1]
    window = dt.timedelta(seconds=WINDOW_S) - dt.timedelta(microseconds=5)
    crowded = [i for i in range(len(times) - LIMIT) if times[i + LIMIT] - times[i] < window]
    assert crowded == [], f"more than {LIMIT} requests within {WINDOW_S}s"
    # Both drew from one log: 10 per second (not twice that), so the 32nd a second after the 22nd.
    assert times[-1] - times[0] >= dt.timedelta(seconds=3 - 0.01)


async def test_a_429_pauses_every_process_of_the_service(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    pool_a, pool_b = await two_processes(create_database, make_pool, "budget-pause")
    answers = iter([httpx.Response(429, headers={"Retry-After": "2"})])

    def everhour(request: httpx.Request) -> httpx.Response:
        return next(answers, httpx.Response(200, json=[]))

    budget_a = SharedBudgets(pool_a).get(
        "everhour", "http://everhour.sandbox", "ek-shared-budget", (LIMIT, WINDOW_S)
    )
    assert isinstance(budget_a, SharedBudget)
    assert budget_a.key == KEY
    http = ProviderHttp(
        "everhour",
        "http://everhour.sandbox",
        headers={"X-Api-Key": "ek-shared-budget"},
        client=httpx.AsyncClient(transport=httpx.MockTransport(everhour)),
        budget=budget_a,
        retry=RetryPolicy(max_attempts=3),
    )
    budget_b = SharedBudget(pool_b, KEY, LIMIT, WINDOW_S)
    await budget_b.acquire()  # the other process was drawing before the 429

    async def paused_until() -> dt.datetime | None:
        found: dt.datetime | None = await pool_b.fetchval(
            "SELECT paused_until FROM provider_budgets"
            " WHERE budget_key = $1 AND paused_until > clock_timestamp()",
            KEY,
        )
        return found

    async with asyncio.timeout(30):
        first = asyncio.create_task(http.request("GET", "/team/users"))
        until = await wait_for(paused_until)
        await budget_b.acquire()
        assert (await first).status_code == 200
    assert budget_b.last_granted_at is not None
    assert budget_b.last_granted_at >= until
    assert budget_a.last_granted_at is not None
    assert budget_a.last_granted_at >= until
