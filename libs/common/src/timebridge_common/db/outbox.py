"""The transactional outbox: a state change and the events it causes commit together.

A handler writes its events to the ``outbox`` table in the same transaction as its state; the
relay publishes them afterwards, in insertion order, and marks them published. Guarantees:

* nothing is published that was not committed, and nothing committed is lost;
* at least once: a crash between publish and mark republishes, with the same event id, which
  downstream inboxes drop;
* order: one relay per database at a time (a session advisory lock elects it), publishing
  sequentially, so events keep their commit order within every partition key.
"""

import asyncio
import contextlib
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
import structlog

from timebridge_common.events.base import Event
from timebridge_common.events.codec import EncodedEvent, encode
from timebridge_common.events.envelope import Envelope
from timebridge_common.kafka.publisher import EventPublisher, PartlyPublishedError
from timebridge_common.tracing import inject

log = structlog.get_logger(__name__)

_CHANNEL = "timebridge_outbox"
_RELAY_LOCK_KEY = 0x0B0C5  # one relay per database


OutboxRow = tuple[uuid.UUID, str, bytes, bytes, dict[str, str]]
"""``(event_id, topic, key, value, headers)``: the outbox table's columns."""


def outbox_row(event: Event, envelope: Envelope) -> OutboxRow:
    """The outbox row of one event: the encoded record, the trace context in its headers (for a
    caller staging it in its own statement, like the resolver's single-statement commit)."""
    encoded = encode(event, envelope)
    headers = dict(encoded.headers)
    inject(headers)
    return envelope.event_id, encoded.topic, encoded.key, encoded.value, headers


async def enqueue(conn: asyncpg.Connection, events: Sequence[tuple[Event, Envelope]]) -> None:
    """Stage events in the caller's transaction; they are published after it commits.

    One pipelined statement for all of them (a batch consumer stages hundreds), in order.
    """
    rows = [outbox_row(event, envelope) for event, envelope in events]
    if rows:
        await conn.executemany(
            "INSERT INTO outbox (event_id, topic, key, value, headers)"
            " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING",
            rows,
        )
        await conn.execute("SELECT pg_notify($1, '')", _CHANNEL)


class OutboxRelay:
    """Publishes committed outbox rows; run one per service process (``run`` loops forever)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        publisher: EventPublisher,
        *,
        batch_size: int = 200,
        poll_interval_s: float = 1.0,
        retain_published_s: float = 7 * 24 * 3600,
    ) -> None:
        self._pool = pool
        self._publisher = publisher
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._retain_published_s = retain_published_s
        self._wake = asyncio.Event()
        self.is_leader = False

    async def run(self) -> None:
        while True:
            try:
                await self._run_as_candidate()
            except Exception as exc:
                self.is_leader = False
                log.warning("outbox relay interrupted, retrying", error=repr(exc))
                await asyncio.sleep(self._poll_interval_s)

    async def _run_as_candidate(self) -> None:
        async with self._pool.acquire() as conn:
            # Standby: poll for the lock; Postgres cannot notify us when another session drops it.
            while not await conn.fetchval(  # noqa: ASYNC110
                "SELECT pg_try_advisory_lock($1)", _RELAY_LOCK_KEY
            ):
                await asyncio.sleep(self._poll_interval_s)
            self.is_leader = True
            await conn.add_listener(_CHANNEL, self._on_notify)
            try:
                await self._relay_forever(conn)
            finally:
                self.is_leader = False
                try:
                    await conn.remove_listener(_CHANNEL, self._on_notify)
                    await conn.execute("SELECT pg_advisory_unlock($1)", _RELAY_LOCK_KEY)
                except BaseException as exc:
                    # The pool does not reset session state (db.pool.reset_connection): a
                    # connection still holding the lock or listening must not be reused.
                    conn.terminate()
                    if not isinstance(exc, Exception):
                        raise

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _relay_forever(self, conn: asyncpg.Connection) -> None:
        cycles = 0
        while True:
            self._wake.clear()
            published = await self.publish_pending(conn)
            cycles += 1
            if cycles % 600 == 0:
                await self._purge(conn)
            if published < self._batch_size:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_interval_s)

    async def publish_pending(self, conn: asyncpg.Connection) -> int:
        """Publish one batch of unpublished rows in order; return how many."""
        rows = await conn.fetch(
            "SELECT id, topic, key, value, headers FROM outbox"
            " WHERE published_at IS NULL ORDER BY id LIMIT $1",
            self._batch_size,
        )
        encoded = [
            EncodedEvent(
                topic=row["topic"],
                key=bytes(row["key"]),
                value=bytes(row["value"]),
                headers=dict(row["headers"]),
            )
            for row in rows
        ]
        acknowledged = 0
        try:
            # Handed over together, acknowledged together: one round trip per batch, not per
            # event; the rows marked are those acknowledged in order from the first.
            acknowledged = await self._publisher.publish_encoded_many(encoded)
        except PartlyPublishedError as exc:
            acknowledged = exc.acknowledged
            raise exc.cause from None
        finally:
            done = [row["id"] for row in rows[:acknowledged]]
            if done:
                await conn.execute(
                    "UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])", done
                )
        return acknowledged

    async def _purge(self, conn: asyncpg.Connection) -> None:
        await conn.execute(
            "DELETE FROM outbox WHERE published_at < now() - make_interval(secs => $1)",
            self._retain_published_s,
        )
