"""ingest's one-time OAuth consent states in Postgres (migrations 0013, 0015): spent by the first of
two concurrent callbacks only, refused once expired or for another provider (and spent then
too), and what the admin chose comes back as it was kept."""

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable

import asyncpg

from timebridge_common.db.migrations import apply_migrations
from timebridge_common.events import IntegrationSettings
from timebridge_ingest.adapters.oauth_states_pg import PostgresOAuthStates
from timebridge_ingest.handlers.oauth_connect import ConsentStarted, state_hash

from .conftest import unique


async def test_a_state_is_spent_once_and_refused_expired_or_for_another_provider(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    pool = await make_pool(await create_database(unique("oauth-states")))
    await apply_migrations(pool, "timebridge_ingest.adapters.migrations")
    states = PostgresOAuthStates(pool)
    now = dt.datetime.now(dt.UTC)
    chosen = ConsentStarted(
        "ws-1", "quickbooks_time", "ann", IntegrationSettings(frequency="hourly"),
        {"timezone": "Europe/Berlin"}, "http://ingest.test/v1/oauth/quickbooks_time/callback",
        history_from=dt.date(2026, 9, 1),
    )  # fmt: skip
    later = now + dt.timedelta(minutes=10)
    for state in ("s-once", "s-late", "s-other"):
        await states.add(state_hash(state), chosen, later)
    assert await pool.fetchval("SELECT count(*) FROM oauth_states WHERE state_hash = 's-once'") == 0
    first, second = await asyncio.gather(
        states.spend(state_hash("s-once"), "quickbooks_time", now),
        states.spend(state_hash("s-once"), "quickbooks_time", now),
    )
    assert [first, second].count(None) == 1
    assert (first or second) == chosen
    assert await states.spend(state_hash("s-late"), "quickbooks_time", later) is None
    assert await states.spend(state_hash("s-other"), "wrike", now) is None
    assert await pool.fetchval("SELECT count(*) FROM oauth_states") == 0
