"""Postgres storage of invoice-export.

Handlers work inside one transaction (:meth:`Store.tx`, or :meth:`Store.once` for a consumed
event, which also claims its id in the inbox); rows they decide on are read ``FOR UPDATE`` so
that a webhook, a poll and an admin acting on the same invoice or client serialise. Events are
staged in the outbox of the same transaction: the state and what it announces commit together.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from timebridge_common.crypto import SecretBox
from timebridge_common.db.inbox import once
from timebridge_common.events import Envelope
from timebridge_invoice_export.adapters.pg.catalog import CatalogRows
from timebridge_invoice_export.adapters.pg.connections import ConnectionRows
from timebridge_invoice_export.adapters.pg.invoices import InvoiceRows
from timebridge_invoice_export.adapters.pg.ledger import LedgerRows
from timebridge_invoice_export.adapters.pg.payments import PaymentRows
from timebridge_invoice_export.adapters.pg.rounding import RoundingRows


class Tx(ConnectionRows, CatalogRows, LedgerRows, InvoiceRows, PaymentRows, RoundingRows):
    """One open transaction; every method runs in it (the aggregates' rows, one module each)."""


class Store:
    def __init__(self, pool: asyncpg.Pool, box: SecretBox) -> None:
        self.pool = pool
        self._box = box

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[Tx]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield Tx(conn, self._box)

    @asynccontextmanager
    async def once(self, consumer: str, envelope: Envelope) -> AsyncIterator[Tx | None]:
        """A transaction that also claims ``envelope`` for ``consumer`` (None: seen before)."""
        async with once(self.pool, consumer, envelope) as conn:
            yield None if conn is None else Tx(conn, self._box)
