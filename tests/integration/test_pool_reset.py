"""Connections go back to the services' pool without the default reset's round trip
(``db.pool.reset_connection``), and still come back out of any transaction left open."""

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from timebridge_common.db.pool import init_connection, reset_connection


class _Counting(asyncpg.Connection):  # type: ignore[misc]
    executed: list[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.executed = []

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:  # noqa: ASYNC109 - asyncpg's signature
        self.executed.append(query)
        result: str = await super().execute(query, *args, timeout=timeout)
        return result


async def test_a_release_sends_nothing_but_ends_an_open_transaction(
    create_database: Callable[[str], Awaitable[str]],
) -> None:
    dsn = await create_database("pool_reset")
    pool = await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=1,
        init=init_connection,
        reset=reset_connection,
        connection_class=_Counting,
    )
    try:
        for _ in range(5):
            async with pool.acquire() as conn:
                await conn.fetchval("SELECT 1")
        async with pool.acquire() as conn:
            assert isinstance(conn, asyncpg.pool.PoolConnectionProxy)
            raw = conn._con
            assert isinstance(raw, _Counting)
            # The default reset would have executed its query at each of the 5 releases.
            assert raw.executed == []
            tx = conn.transaction()
            await tx.start()
            await conn.execute("CREATE TEMP TABLE left_open (x int)")
        async with pool.acquire() as conn:
            assert not conn.is_in_transaction()
            # The transaction was rolled back, not committed: its table is gone.
            assert await conn.fetchval("SELECT to_regclass('pg_temp.left_open')") is None
    finally:
        await pool.close()
