"""A provider request budget shared by every process and replica of a service, in its database.

A provider limits requests per credential (Everhour: about 20 per 10 s per API key), whoever
sends them. An in-process :class:`~timebridge_common.outbound.http.RequestBudget` only bounds
one process, so ingest, mapping and the conflict-resolver, and each of their replicas, would
each spend the whole limit. Two things fix that:

- **Within a service**, the bucket lives in the service's own database: one row per credential
  (keyed by its SHA-256, never the credential itself), and each request takes its token in one
  call of ``provider_budget_grant`` under the row's lock, so replicas draw from one log. It
  is the same as the in-process one (a request is granted while fewer than the limit were
  granted within the window), so no window sees more than the limit; the database clock is the only
  clock, so hosts whose clocks differ still share one window.
- **Between services**, each gets a share of the provider's limit
  (each provider profile's ``rate_limit.shares``, configurable per service), and the
  defaults sum to the provider's limit: all callers together stay under it. A service that
  borrows (``RequestBudget.lend``) runs at the whole limit while the others leave their shares
  unused and keeps to its own share for a cool-down after a ``429``.

A ``429`` pauses the bucket in the database (``provider_budget_pause``), so the other processes
of the service wait too. Another service meeting the same ``429`` pauses its own.

**Grants in chunks** (issue 12: with a raised limit each request cost a database round trip):
where the limit is large (``CHUNK_FROM`` per window and more) a process asks for up to
``CHUNK_MAX`` grants at once and spends them locally within ``CHUNK_HOLD_S``, dropping the rest
then. The database hands out a chunk only while the log, with it, holds at most half the limit
(else one grant, as before), and logs it at the end of the hold, so each grant counts for a
whole window after it is sent, whichever replica sends it: no window sees more than the limit.
A documented limit like Everhour's 20 per 10 s is below ``CHUNK_FROM``: one grant per call.
"""

import asyncio
import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable

import asyncpg
import structlog

from timebridge_common.outbound.http import RequestBudget

log = structlog.get_logger(__name__)

MIGRATIONS = "timebridge_common.outbound.budget_sql"

CHUNK_FROM = 64
"""Limits (requests per window) from which grants are asked for in chunks of a 32nd of it."""
CHUNK_MAX = 32
"""The largest chunk asked for in one call."""
CHUNK_HOLD_S = 1.0
"""How long a process may spend a chunk's grants: unspent ones are dropped after it."""


def chunk(limit: int) -> int:
    """Grants to ask for at once under ``limit`` requests per window (1: one at a time)."""
    return 1 if limit < CHUNK_FROM else min(CHUNK_MAX, limit // 32)


def budget_key(provider: str, base_url: str, credential: str) -> str:
    """The bucket's key: the provider, where it answers, and the credential's hash."""
    digest = hashlib.sha256(credential.encode()).hexdigest()
    return f"{provider}:{base_url.rstrip('/')}:{digest}"


class SharedBudget(RequestBudget):
    """A :class:`RequestBudget` whose bucket is a row in the service's database.

    It keeps the in-process interface (``acquire()``, ``pause()``), so provider clients and
    :class:`~timebridge_common.outbound.http.ProviderHttp` do not change. ``pause`` is called
    synchronously, so it records the pause in the background; ``acquire`` first waits for such
    writes, so this process never sends before its own pause is visible to the others.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        key: str,
        limit: int,
        window_s: float,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(limit, window_s, sleep=sleep)
        self._pool = pool
        self.key = key
        self._pauses: set[asyncio.Task[None]] = set()
        self.last_granted_at: dt.datetime | None = None
        """The database time of this budget's last grant (tests compare windows with it); a
        chunk's grants are logged at the end of its hold."""
        self.database_calls = 0
        """Grant calls made to the database (tests: a chunk is asked for once)."""
        self._stock = 0
        self._stock_until = float("-inf")
        self.chunk_cap: int | None = None
        """At most this many grants per chunk (``budget_windows``: 1 beside a pace, which lets
        a process spend little of a chunk; the rest, dropped, would count for a whole window)."""

    async def _take(self) -> None:
        """Wait until the shared bucket grants a token (first come, first served per process);
        a grant left of this process's chunk is spent first, while its hold lasts."""
        async with self._lock:
            await self.flush()
            while True:
                local = self._paused_until - self._clock()
                if local > 0:  # this process's own pause, even if the database missed it
                    await self._sleep(local)
                    continue
                if self._stock > 0 and self._clock() < self._stock_until:
                    self._stock -= 1
                    return
                self._stock = 0
                asked_at, want = self._clock(), chunk(self.limit_now)
                if self.chunk_cap is not None:
                    want = max(1, min(want, self.chunk_cap))
                self.database_calls += 1
                row = await self._pool.fetchrow(
                    "SELECT wait_s, granted_at, granted"
                    " FROM provider_budget_grant_many($1, $2, $3, $4, $5)",
                    self.key,
                    self.limit_now,
                    self.counted_s,
                    want,
                    CHUNK_HOLD_S,
                )
                if row["granted_at"] is not None:
                    self.last_granted_at = row["granted_at"]
                    # Held from before the call: the database logged the chunk later than that.
                    self._stock, self._stock_until = row["granted"] - 1, asked_at + CHUNK_HOLD_S
                    return
                await self._sleep(max(float(row["wait_s"]), 0.001))

    def pause(self, seconds: float) -> None:
        """The provider said to wait: no process of this service uses the credential before."""
        super().pause(seconds)
        self._stock = 0  # the provider said to wait: a chunk's rest is not spent after it
        task = asyncio.get_running_loop().create_task(self._pause(seconds))
        self._pauses.add(task)
        task.add_done_callback(self._pauses.discard)

    async def flush(self) -> None:
        """Wait until every pause this process recorded is in the database."""
        while self._pauses:
            await asyncio.gather(*list(self._pauses), return_exceptions=True)

    async def _pause(self, seconds: float) -> None:
        try:
            await self._pool.fetchval("SELECT provider_budget_pause($1, $2)", self.key, seconds)
        except (OSError, asyncpg.PostgresError) as exc:
            # The next request still waits here (the local pause); only the other processes
            # miss it, and a 429 of theirs pauses them in turn.
            log.warning("shared budget pause not recorded", error=repr(exc))


class SharedBudgets:
    """One :class:`SharedBudget` per credential in this process, all on the service's database.

    The same object per credential keeps a process's waiters in order (one asks the database at
    a time) instead of all of them polling the row.
    """

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._budgets: dict[tuple[str, int, float], SharedBudget] = {}

    def get(
        self, provider: str, base_url: str, credential: str, limit: tuple[int, float]
    ) -> RequestBudget:
        key = budget_key(provider, base_url, credential)
        budget = self._budgets.get((key, *limit))
        if budget is None:
            budget = self._budgets[(key, *limit)] = SharedBudget(self._pool, key, *limit)
        return budget
