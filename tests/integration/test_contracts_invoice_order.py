"""The audit trail of an entry or client shows its invoice's status changes in any arrival order.

An invoice's export and its status changes come on different topics, so contracts may record a
status change before the export that says which entries and client the invoice covers (or at the
same moment, each transaction missing the other's row). That record names no entry or client;
the trail by entry or client used to miss it. Real PostgreSQL.
"""

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable

import asyncpg

from timebridge_common.db.migrations import apply_migrations
from timebridge_common.events import Envelope
from timebridge_common.testing import sample_invoice_exported, sample_invoice_status_changed
from timebridge_contracts.adapters.audit_log import AuditQuery, AuditTrail
from timebridge_contracts.adapters.postgres import PostgresStore
from timebridge_contracts.handlers.events import EventHandlers

from .conftest import unique

NOW = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)


async def test_a_status_change_before_or_with_its_export_is_on_the_entrys_trail(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    pool = await make_pool(await create_database("contracts-invoice-order"))
    await apply_migrations(pool, "timebridge_contracts.adapters.migrations")
    ws = unique("ws")
    handlers = EventHandlers(PostgresStore(pool), lambda: NOW)

    async def status(n: int) -> None:
        event = sample_invoice_status_changed(workspace_id=ws, invoice_id=f"inv_{n}", status="sent")
        await handlers.invoice_status_changed(Envelope.for_event(event, producer="t"), event)

    async def export(n: int) -> None:
        event = sample_invoice_exported(
            workspace_id=ws, invoice_id=f"inv_{n}", client_id=f"cl_{n}", entry_ids=(f"te_{n}",)
        )
        await handlers.invoice_exported(Envelope.for_event(event, producer="t"), event)

    await status(0)  # read before its export
    await export(0)
    await asyncio.gather(*(job(n) for n in range(1, 11) for job in (status, export)))

    trail = AuditTrail(pool)
    for n in range(11):
        for query in (AuditQuery(entry_id=f"te_{n}"), AuditQuery(client_id=f"cl_{n}")):
            found = await trail.records(ws, query)
            assert sorted(r["kind"] for r in found) == [
                "invoice.exported",
                "invoice.status_changed",
            ], (n, query)
    assert await trail.records(ws, AuditQuery(entry_id="te_99")) == []
    assert (await trail.verify(ws)).ok
