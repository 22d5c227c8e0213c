"""A shared budget's further windows (``budget_windows``) on the real PostgreSQL: the pace under
a quota is its own row of the service's log, so two processes of one service keep to one pace.

Grant times are the database's (the budget's only clock)."""

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable

import asyncpg

from tests.integration.test_provider_budget import two_processes
from timebridge_common.outbound.budget_windows import Windows, window_key, windows
from timebridge_common.outbound.shared_budget import SharedBudget, budget_key

KEY = budget_key("toggl", "http://toggl.sandbox", "tt-shared-pace")
QUOTA, PACE = (240, 3600.0), (2, 1.0)


async def test_two_processes_keep_to_one_pace_under_the_quota(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    pool_a, pool_b = await two_processes(create_database, make_pool, "budget-pace")
    budgets = [windows(SharedBudget(pool, KEY, *QUOTA), [PACE]) for pool in (pool_a, pool_b)]
    paces: list[SharedBudget] = []
    for budget in budgets:
        assert isinstance(budget, Windows)
        (pace,) = budget.more
        assert isinstance(pace, SharedBudget)
        assert pace.key == window_key(KEY, PACE)
        paces.append(pace)
    granted: list[dt.datetime] = []

    async def draw(which: int, count: int) -> None:
        for _ in range(count):
            await budgets[which].acquire()
            at = paces[which].last_granted_at
            assert at is not None
            granted.append(at)

    async with asyncio.timeout(60):
        await asyncio.gather(draw(0, 3), draw(1, 3))

    times = sorted(granted)
    window = dt.timedelta(seconds=PACE[1]) - dt.timedelta(microseconds=5)
    crowded = [i for i in range(len(times) - PACE[0]) if times[i + PACE[0]] - times[i] < window]
    assert crowded == [], f"more than {PACE[0]} requests within {PACE[1]}s across processes"
    # Both took their quota grants from the quota's own row: 6 of the hour's 240.
    logged = await pool_a.fetchval(
        "SELECT cardinality(grants) FROM provider_budgets WHERE budget_key = $1", KEY
    )
    assert logged == 6
