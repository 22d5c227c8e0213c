"""The idempotent-consumer inbox.

Kafka delivers at least once; a handler that records the event id in the same transaction as its
state change processes each event exactly once in effect: a redelivery finds the id and does
nothing. Ids are per consumer, so two handlers in one service can each see the same event.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from timebridge_common.events.envelope import Envelope


@asynccontextmanager
async def once(
    pool: asyncpg.Pool, consumer: str, envelope: Envelope
) -> AsyncIterator[asyncpg.Connection | None]:
    """Open a transaction and claim ``envelope`` for ``consumer``.

    Yields the connection to do the work on, or ``None`` if the event was already processed.
    The claim commits with the work, or not at all.
    """
    async with pool.acquire() as conn, conn.transaction():
        claimed = await conn.fetchval(
            "INSERT INTO inbox (consumer, event_id, event_type) VALUES ($1, $2, $3)"
            " ON CONFLICT DO NOTHING RETURNING true",
            consumer,
            envelope.event_id,
            envelope.type,
        )
        yield conn if claimed else None
