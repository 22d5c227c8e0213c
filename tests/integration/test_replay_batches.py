"""The replay window's batched writes (issue 12) keep its per-delivery answers, on real PostgreSQL.

Concurrent claims and done marks are written in shared statements; each request must still get
exactly what it would alone: one claim per delivery however many ask at once, ``Seen`` with the
first outcome once done, a claim past its lease taken over, and a database error reaching every
request of the batch (a ``503`` each), not hanging any.
"""

import asyncio
import contextlib
import datetime as dt
from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from timebridge_common.db.migrations import apply_migrations
from timebridge_common.errors import is_transient
from timebridge_common.webhooks.replay import (
    MIGRATIONS,
    Busy,
    Claim,
    Claimed,
    PostgresReplayWindow,
    Seen,
)

from .conftest import unique

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(minutes=10)


@pytest.fixture
async def pool(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> asyncpg.Pool:
    pool = await make_pool(await create_database(unique("replay-batches")))
    await apply_migrations(pool, MIGRATIONS)
    return pool


async def test_concurrent_claims_share_statements_and_keep_one_claim_per_delivery(
    pool: asyncpg.Pool,
) -> None:
    window = PostgresReplayWindow(pool)
    keys = [f"d-{n % 50}" for n in range(200)]  # 50 deliveries, each asked for 4 times at once

    async def claim(key: str) -> Claim:
        return await window.claim("core:w", key, now=NOW, expires_at=LATER, lease_s=30)

    answers = await asyncio.gather(*(claim(key) for key in keys))
    claimed = [key for key, answer in zip(keys, answers, strict=True) if answer == Claimed()]
    assert sorted(claimed) == sorted({*keys})
    assert all(answer in (Claimed(), Busy()) for answer in answers)

    await asyncio.gather(
        *(window.done("core:w", key, now=NOW, outcome=f"out-{key}") for key in claimed)
    )
    again = await asyncio.gather(*(claim(key) for key in keys))
    assert again == [Seen(f"out-{key}") for key in keys]
    rows = await pool.fetchval("SELECT count(*) FROM webhook_deliveries WHERE done_at IS NOT NULL")
    assert rows == 50


async def test_a_batch_mixes_new_done_busy_and_expired_leases(pool: asyncpg.Pool) -> None:
    window = PostgresReplayWindow(pool)
    assert await window.claim("r", "done", now=NOW, expires_at=LATER, lease_s=30) == Claimed()
    await window.done("r", "done", now=NOW, outcome="first")
    assert await window.claim("r", "busy", now=NOW, expires_at=LATER, lease_s=30) == Claimed()
    assert await window.claim("r", "crashed", now=NOW, expires_at=LATER, lease_s=30) == Claimed()
    soon = NOW + dt.timedelta(seconds=10)
    after_lease = NOW + dt.timedelta(seconds=40)
    answers = await asyncio.gather(
        window.claim("r", "new", now=soon, expires_at=LATER, lease_s=30),
        window.claim("r", "done", now=soon, expires_at=LATER, lease_s=30),
        window.claim("r", "busy", now=soon, expires_at=LATER, lease_s=30),
        window.claim("r", "crashed", now=after_lease, expires_at=LATER, lease_s=30),
        window.claim("other", "done", now=soon, expires_at=LATER, lease_s=30),
    )
    assert list[Claim](answers) == [Claimed(), Seen("first"), Busy(), Claimed(), Claimed()]


async def test_a_failing_statement_fails_every_request_of_its_batch(pool: asyncpg.Pool) -> None:
    window = PostgresReplayWindow(pool)
    await pool.execute("ALTER TABLE webhook_deliveries RENAME TO webhook_deliveries_gone")
    try:
        answers = await asyncio.wait_for(
            asyncio.gather(
                *(
                    window.claim("r", f"k{n}", now=NOW, expires_at=LATER, lease_s=30)
                    for n in range(20)
                ),
                return_exceptions=True,
            ),
            timeout=10,
        )
    finally:
        await pool.execute("ALTER TABLE webhook_deliveries_gone RENAME TO webhook_deliveries")
    assert all(isinstance(a, asyncpg.UndefinedTableError) for a in answers)
    assert await window.claim("r", "k0", now=NOW, expires_at=LATER, lease_s=30) == Claimed()


async def test_the_long_lived_connection_is_reopened_after_it_is_terminated(
    pool: asyncpg.Pool,
) -> None:
    """The batches' one connection (not a pool checkout each): terminated under it (as by a
    PostgreSQL restart), a batch fails as a transient error (``503``) at most, never hangs, and
    the next batch opens a new connection and answers as before."""
    window = PostgresReplayWindow(pool)
    admin = await pool.acquire()
    try:
        assert await window.claim("r", "before", now=NOW, expires_at=LATER, lease_s=30) == Claimed()
        await window.done("r", "before", now=NOW, outcome="first")
        for round_ in range(3):
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            assert killed >= 1  # the window's connection (and any idle one of the pool)
            keys = [f"r{round_}-k{n}" for n in range(20)]
            answers = await asyncio.wait_for(
                asyncio.gather(
                    *(window.claim("r", k, now=NOW, expires_at=LATER, lease_s=30) for k in keys),
                    return_exceptions=True,
                ),
                timeout=10,
            )
            assert all(
                a == Claimed() or (isinstance(a, BaseException) and is_transient(a))
                for a in answers
            ), answers
            for key, answer in zip(keys, answers, strict=True):
                if answer != Claimed():  # refused with a 503: the sender retries
                    retried = await window.claim("r", key, now=NOW, expires_at=LATER, lease_s=30)
                    assert retried == Claimed()
                await window.done("r", key, now=NOW, outcome=key)
            assert await window.claim("r", keys[0], now=NOW, expires_at=LATER, lease_s=30) == (
                Seen(keys[0])
            )
            again = await window.claim("r", "before", now=NOW, expires_at=LATER, lease_s=30)
            assert again == Seen("first")
        # One connection served every batch since the last termination.
        backends = await admin.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert backends <= 1 + pool.get_size()
    finally:
        await pool.release(admin)
        await window.close()


async def test_the_connection_is_closed_when_the_service_stops(pool: asyncpg.Pool) -> None:
    background: list[Callable[[], Awaitable[None]]] = []
    window = PostgresReplayWindow.closed_at_stop(pool, background)
    [close_at_stop] = background
    running: asyncio.Future[None] = asyncio.ensure_future(close_at_stop())
    assert await window.claim("r", "k", now=NOW, expires_at=LATER, lease_s=30) == Claimed()
    admin = await pool.acquire()
    try:
        count = (
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        open_before = await admin.fetchval(count)
        running.cancel()  # what the runtime does to its background tasks at stop
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await asyncio.sleep(0.2)  # PostgreSQL forgets the backend once its socket closed
        assert await admin.fetchval(count) == open_before - 1
    finally:
        await pool.release(admin)
