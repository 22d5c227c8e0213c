"""The idempotent-consumer inbox.

Kafka delivers at least once; a handler that records the event id in the same transaction as its
state change processes each event exactly once in effect: a redelivery finds the id and does
nothing. Ids are per consumer, so two handlers in one service can each see the same event.
"""

import uuid
from collections.abc import AsyncIterator, Sequence
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


async def claim_many(
    conn: asyncpg.Connection, consumer: str, envelopes: Sequence[Envelope]
) -> set[uuid.UUID]:
    """Claim ``envelopes`` for ``consumer`` in the caller's transaction, in one statement.

    Returns the ids claimed now; the others were processed before (or appear twice in
    ``envelopes``: claimed once). A batch consumer's claims commit with the batch's work.
    """
    rows = await conn.fetch(
        "INSERT INTO inbox (consumer, event_id, event_type)"
        " SELECT $1, e.id, e.type FROM unnest($2::uuid[], $3::text[]) AS e(id, type)"
        " ON CONFLICT DO NOTHING RETURNING event_id",
        consumer,
        [e.event_id for e in envelopes],
        [e.type for e in envelopes],
    )
    return {r["event_id"] for r in rows}
