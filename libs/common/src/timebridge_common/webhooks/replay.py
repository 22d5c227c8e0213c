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

import datetime as dt
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

import asyncpg
import structlog

from timebridge_common.errors import is_transient
from timebridge_common.kafka.publisher import UnavailableError

log = structlog.get_logger(__name__)

MIGRATIONS = "timebridge_common.webhooks.sql"
PURGE_EVERY_S = 60.0


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


class PostgresReplayWindow:
    """:class:`ReplayWindow` in the service's database (``webhook_deliveries``)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._next_purge = 0.0

    async def claim(
        self, receiver: str, key: str, *, now: dt.datetime, expires_at: dt.datetime, lease_s: float
    ) -> Claim:
        await self._purge(now)
        async with self._pool.acquire() as conn:
            taken = await conn.fetchval(
                "INSERT INTO webhook_deliveries (receiver, delivery_key, claimed_at, expires_at)"
                " VALUES ($1, $2, $3, $4) ON CONFLICT (receiver, delivery_key) DO UPDATE SET"
                " claimed_at = EXCLUDED.claimed_at, expires_at = EXCLUDED.expires_at,"
                " done_at = NULL, outcome = NULL"
                " WHERE webhook_deliveries.expires_at <= $3"
                " OR (webhook_deliveries.done_at IS NULL"
                "     AND webhook_deliveries.claimed_at <= $3 - make_interval(secs => $5))"
                " RETURNING true",
                receiver,
                key,
                now,
                expires_at,
                lease_s,
            )
            if taken:
                return Claimed()
            row = await conn.fetchrow(
                "SELECT done_at, outcome FROM webhook_deliveries"
                " WHERE receiver = $1 AND delivery_key = $2",
                receiver,
                key,
            )
        if row is not None and row["done_at"] is not None:
            return Seen(row["outcome"] or "")
        return Busy()

    async def done(self, receiver: str, key: str, *, now: dt.datetime, outcome: str) -> None:
        await self._pool.execute(
            "UPDATE webhook_deliveries SET done_at = $3, outcome = $4"
            " WHERE receiver = $1 AND delivery_key = $2",
            receiver,
            key,
            now,
            outcome,
        )

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
