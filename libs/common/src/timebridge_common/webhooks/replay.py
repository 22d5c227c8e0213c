"""The replay window of a webhook receiver: each delivery is published once, however often sent.

A signed delivery stays valid for as long as its signature or payload time is accepted, so a
captured one can be sent again and again within that time (and the accounting tools' bodies
carry no delivery time at all). Each receiver therefore remembers what it published: a
delivery already published is answered ``2xx`` again without publishing it again (nor making
the consumer read the tool again), until the delivery is too old to be accepted anyway.

Durability comes first (``2xx`` = durably in Kafka): a request *claims* the delivery, publishes,
waits for Kafka's acknowledgement, and only then marks the delivery done. A failed publish
releases the claim (the sender's retry publishes); a crash between the acknowledgement and the
mark leaves a claim that is taken over after its lease, so the delivery is published a second
time rather than lost (event ids are deterministic, so downstream inboxes keep one). A request
meeting a claim in progress is refused with :class:`DeliveryInProgressError` (``409``, retry):
answering ``2xx`` then could precede Kafka's acknowledgement.

Rows live in the receiving service's database (:data:`MIGRATIONS`), so replicas share the
window; expired rows are deleted as claims are made (at most once a minute per process).
"""

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar, cast

import asyncpg
import structlog

from timebridge_common.errors import is_transient
from timebridge_common.kafka.publisher import UnavailableError

log = structlog.get_logger(__name__)

MIGRATIONS = "timebridge_common.webhooks.sql"
PURGE_EVERY_S = 60.0
T = TypeVar("T")
R = TypeVar("R")


class DeliveryInProgressError(Exception):
    """Another request is publishing this delivery right now: answer ``409``, the sender
    retries and then gets the first request's answer."""


@dataclass(frozen=True)
class Claimed:
    """This request owns the delivery: publish it, then :meth:`ReplayWindow.done`."""


@dataclass(frozen=True)
class Seen:
    """Published before; ``outcome`` is what the first request recorded (e.g. its event ids)."""

    outcome: str


@dataclass(frozen=True)
class Busy:
    """Claimed by another request whose lease has not run out."""


Claim = Claimed | Seen | Busy


class ReplayWindow(Protocol):
    async def claim(
        self, receiver: str, key: str, *, now: dt.datetime, expires_at: dt.datetime, lease_s: float
    ) -> Claim: ...

    async def done(self, receiver: str, key: str, *, now: dt.datetime, outcome: str) -> None: ...

    async def release(self, receiver: str, key: str) -> None: ...


async def publish_once(
    window: ReplayWindow,
    receiver: str,
    key: str,
    *,
    now: dt.datetime,
    expires_at: dt.datetime,
    lease_s: float,
    publish: Callable[[], Awaitable[str]],
) -> tuple[bool, str]:
    """Run ``publish`` (which returns once Kafka acknowledged, and what to answer) unless this
    delivery was published already; ``(first time?, outcome)``.

    Raises :class:`DeliveryInProgressError` when another request is publishing it, and
    :class:`~timebridge_common.kafka.publisher.UnavailableError` when the window's database is
    down (``503``: the sender retries, nothing was published).
    """
    try:
        claim = await window.claim(receiver, key, now=now, expires_at=expires_at, lease_s=lease_s)
    except Exception as exc:
        if is_transient(exc):
            raise UnavailableError(f"replay window unavailable: {exc}") from exc
        raise
    if isinstance(claim, Seen):
        return False, claim.outcome
    if isinstance(claim, Busy):
        raise DeliveryInProgressError("this delivery is being published by another request")
    try:
        outcome = await publish()
    except BaseException:
        try:
            await window.release(receiver, key)
        except Exception as exc:  # the lease frees it later
            log.warning("releasing a webhook claim failed", receiver=receiver, error=str(exc))
        raise
    try:
        await window.done(receiver, key, now=now, outcome=outcome)
    except Exception as exc:
        # Published and acknowledged: answering 2xx is right. The claim is taken over after its
        # lease, so a replay publishes a duplicate (same event ids), never a loss.
        log.warning("recording a published webhook failed", receiver=receiver, error=str(exc))
    return True, outcome


class _GroupCommit(Generic[T, R]):
    """Concurrent calls share one round trip: a call made while a batch is being written waits
    for the next batch (one pool checkout, one statement for all of them); a lone call is
    written at once, so nothing waits for a timer. ``write`` answers each item of a batch, in
    order; its exception is every item's (a transient one is a ``503`` for each request).
    """

    def __init__(self, write: Callable[[list[T]], Awaitable[list[R]]], max_batch: int) -> None:
        self._write = write
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None

    async def __call__(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            try:
                answers = await self._write([item for item, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), answer in zip(batch, answers, strict=True):
                if not future.done():
                    future.set_result(answer)


@dataclass(frozen=True)
class _ClaimRequest:
    receiver: str
    key: str
    now: dt.datetime
    expires_at: dt.datetime
    lease_s: float


@dataclass(frozen=True)
class _DoneRequest:
    receiver: str
    key: str
    now: dt.datetime
    outcome: str


_CLAIM = (
    "INSERT INTO webhook_deliveries (receiver, delivery_key, claimed_at, expires_at)"
    " SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[])"
    " ON CONFLICT (receiver, delivery_key) DO UPDATE SET"
    " claimed_at = EXCLUDED.claimed_at, expires_at = EXCLUDED.expires_at,"
    " done_at = NULL, outcome = NULL"
    " WHERE webhook_deliveries.expires_at <= EXCLUDED.claimed_at"
    " OR (webhook_deliveries.done_at IS NULL"
    "     AND webhook_deliveries.claimed_at <= EXCLUDED.claimed_at - make_interval(secs => $5))"
    " RETURNING receiver, delivery_key"
)
_STATE = (
    "SELECT receiver, delivery_key, done_at, outcome FROM webhook_deliveries"
    " WHERE (receiver, delivery_key) IN (SELECT * FROM unnest($1::text[], $2::text[]))"
)
_DONE = (
    "UPDATE webhook_deliveries AS w SET done_at = t.done_at, outcome = t.outcome"
    " FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[])"
    " AS t(receiver, delivery_key, done_at, outcome)"
    " WHERE w.receiver = t.receiver AND w.delivery_key = t.delivery_key"
)


class _LongLived:
    """One connection of the pool's settings kept open for the batches, reopened after a failure.

    A pool checkout per batch cost a reset on release (``RESET ALL``, ``UNLISTEN *``… : a round
    trip and PostgreSQL's CPU on the same cores), ~9% of ingest's CPU under load (issue 12). The
    batches are single statements in autocommit, so the connection carries no state between
    them. A failed statement leaves the connection as it is unless it is closed (PostgreSQL
    restarted, the connection terminated); anything else (a lost socket, a timeout, a
    cancellation mid-statement) closes it, and the next batch opens a new one.
    """

    def __init__(self, pool: asyncpg.Pool, timeout_s: float) -> None:
        self._pool = pool
        self.timeout_s = timeout_s
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[asyncpg.Connection]:
        async with self._lock:
            conn = self._conn
            if conn is None or conn.is_closed():
                self._conn = None
                # The pool's own factory: its DSN, connect settings and ``init`` (codecs).
                new = self._pool._get_new_connection  # private: no public equivalent
                conn = self._conn = cast(asyncpg.Connection, await new())
            try:
                yield conn
            except asyncpg.PostgresError:
                if conn.is_closed():
                    self._conn = None
                raise
            except BaseException:
                self._conn = None
                conn.terminate()
                raise

    async def close(self) -> None:
        async with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None and not conn.is_closed():
                await conn.close(timeout=5)


class PostgresReplayWindow:
    """:class:`ReplayWindow` in the service's database (``webhook_deliveries``).

    Claims and done marks of concurrent requests are written in batches (:class:`_GroupCommit`):
    each request still waits for its own row to be written, but under load one statement serves
    many, where two round trips and two pool resets per request were a third of ingest's CPU
    (issue 12). The batches go through one long-lived connection (:class:`_LongLived`, closed
    by :meth:`close`), not a pool checkout each. Rows are written in key order, so replicas'
    batches lock rows in one order.
    """

    def __init__(
        self, pool: asyncpg.Pool, *, max_batch: int = 256, statement_timeout_s: float = 10.0
    ) -> None:
        self._pool = pool
        self._next_purge = 0.0
        self._conn = _LongLived(pool, statement_timeout_s)
        self._claims = _GroupCommit(self._claim_batch, max_batch)
        self._dones = _GroupCommit(self._done_batch, max_batch)

    async def close(self) -> None:
        """Close the batches' connection (a later batch would open a new one)."""
        await self._conn.close()

    @classmethod
    def closed_at_stop(
        cls, pool: asyncpg.Pool, background: list[Callable[[], Awaitable[None]]]
    ) -> "PostgresReplayWindow":
        """A window whose connection is closed when the service stops: :meth:`close_at_stop`
        added to the service's background tasks (cancelled at stop)."""
        window = cls(pool)
        background.append(window.close_at_stop)
        return window

    async def close_at_stop(self) -> None:
        """A service's background task: closes the connection when the runtime stops it."""
        try:
            await asyncio.Event().wait()
        finally:
            await self.close()

    async def claim(
        self, receiver: str, key: str, *, now: dt.datetime, expires_at: dt.datetime, lease_s: float
    ) -> Claim:
        await self._purge(now)
        return await self._claims(_ClaimRequest(receiver, key, now, expires_at, lease_s))

    async def done(self, receiver: str, key: str, *, now: dt.datetime, outcome: str) -> None:
        await self._dones(_DoneRequest(receiver, key, now, outcome))

    async def _claim_batch(self, batch: list[_ClaimRequest]) -> list[Claim]:
        """One claim per distinct delivery; a second request for a delivery in the same batch
        gets what a request right after the first would: busy if claimed, else the same."""
        first: dict[tuple[str, str], _ClaimRequest] = {}
        for request in batch:
            first.setdefault((request.receiver, request.key), request)
        by_lease: dict[float, list[_ClaimRequest]] = {}
        for ident in sorted(first):
            by_lease.setdefault(first[ident].lease_s, []).append(first[ident])
        result: dict[tuple[str, str], Claim] = {}
        timeout = self._conn.timeout_s
        async with self._conn() as conn:
            for lease_s, group in by_lease.items():
                rows = await conn.fetch(
                    _CLAIM,
                    [r.receiver for r in group],
                    [r.key for r in group],
                    [r.now for r in group],
                    [r.expires_at for r in group],
                    lease_s,
                    timeout=timeout,
                )
                result.update({(row["receiver"], row["delivery_key"]): Claimed() for row in rows})
            others = [ident for ident in sorted(first) if ident not in result]
            if others:
                rows = await conn.fetch(
                    _STATE,
                    [ident[0] for ident in others],
                    [ident[1] for ident in others],
                    timeout=timeout,
                )
                for row in rows:
                    ident = (row["receiver"], row["delivery_key"])
                    if row["done_at"] is not None:
                        result[ident] = Seen(row["outcome"] or "")
        answers: list[Claim] = []
        for request in batch:
            ident = (request.receiver, request.key)
            answer = result.get(ident, Busy())
            if first[ident] is not request and isinstance(answer, Claimed):
                answer = Busy()
            answers.append(answer)
        return answers

    async def _done_batch(self, batch: list[_DoneRequest]) -> list[None]:
        ordered = sorted(batch, key=lambda r: (r.receiver, r.key))
        async with self._conn() as conn:
            await conn.execute(
                _DONE,
                [r.receiver for r in ordered],
                [r.key for r in ordered],
                [r.now for r in ordered],
                [r.outcome for r in ordered],
                timeout=self._conn.timeout_s,
            )
        return [None] * len(batch)

    async def release(self, receiver: str, key: str) -> None:
        await self._pool.execute(
            "DELETE FROM webhook_deliveries"
            " WHERE receiver = $1 AND delivery_key = $2 AND done_at IS NULL",
            receiver,
            key,
        )

    async def _purge(self, now: dt.datetime) -> None:
        if time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + PURGE_EVERY_S
        deleted = await self._pool.execute(
            "DELETE FROM webhook_deliveries WHERE ctid IN (SELECT ctid FROM webhook_deliveries"
            " WHERE expires_at <= $1 LIMIT 5000)",
            now,
        )
        log.debug("replay window purged", deleted=deleted)


@dataclass
class MemoryReplayWindow:
    """:class:`ReplayWindow` in a dict: services built without a database (unit tests)."""

    rows: dict[tuple[str, str], tuple[dt.datetime, dt.datetime, str | None]] = field(
        default_factory=dict
    )
    """(receiver, key) -> (claimed_at, expires_at, outcome once done)."""

    async def claim(
        self, receiver: str, key: str, *, now: dt.datetime, expires_at: dt.datetime, lease_s: float
    ) -> Claim:
        row = self.rows.get((receiver, key))
        if row is not None and row[1] > now:
            claimed_at, _, outcome = row
            if outcome is not None:
                return Seen(outcome)
            if claimed_at > now - dt.timedelta(seconds=lease_s):
                return Busy()
        self.rows[(receiver, key)] = (now, expires_at, None)
        return Claimed()

    async def done(
        self,
        receiver: str,
        key: str,
        *,
        now: dt.datetime,  # noqa: ARG002 - the protocol's signature; no done_at kept here
        outcome: str,
    ) -> None:
        claimed_at, expires_at, _ = self.rows[(receiver, key)]
        self.rows[(receiver, key)] = (claimed_at, expires_at, outcome)

    async def release(self, receiver: str, key: str) -> None:
        row = self.rows.get((receiver, key))
        if row is not None and row[2] is None:
            del self.rows[(receiver, key)]
