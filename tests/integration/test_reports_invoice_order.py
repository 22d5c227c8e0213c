"""Invoice events arrive on different topics, so in any order: a status change or a deletion read
before the export it follows must still apply once the export arrives (it was lost before)."""

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from decimal import Decimal

import asyncpg

from timebridge_common.db.migrations import apply_migrations
from timebridge_common.events import Envelope
from timebridge_common.testing import (
    sample_invoice_deleted,
    sample_invoice_exported,
    sample_invoice_status_changed,
)
from timebridge_reporting.adapters.postgres import PostgresReadModels
from timebridge_reporting.handlers.read_models import (
    on_invoice_deleted,
    on_invoice_exported,
    on_invoice_status_changed,
)


async def test_status_and_deletion_seen_before_the_export_still_apply(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    pool = await make_pool(await create_database("reports-invoice-order"))
    await apply_migrations(pool, "timebridge_reporting.adapters.migrations")
    models = PostgresReadModels(pool)
    early = sample_invoice_status_changed(
        invoice_id="inv_1", status="sent", changed_at=dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
    )
    earlier = sample_invoice_status_changed(
        invoice_id="inv_1",
        status="submitted",
        changed_at=dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC),
    )
    for event in (early, earlier):
        await on_invoice_status_changed(models, Envelope.for_event(event, producer="t"), event)
    gone = sample_invoice_deleted(invoice_id="inv_2", entry_ids=("te_2",))
    await on_invoice_deleted(models, Envelope.for_event(gone, producer="t"), gone)
    for invoice_id, entries in (("inv_1", ("te_1",)), ("inv_2", ("te_2",))):
        exported = sample_invoice_exported(invoice_id=invoice_id, entry_ids=entries)
        await on_invoice_exported(models, Envelope.for_event(exported, producer="t"), exported)

    invoices = {i["invoice_id"]: i for i in await models.invoices("acme")}
    assert (invoices["inv_1"]["tool_status"], invoices["inv_1"]["tool_total"]) == (
        "sent",
        Decimal("200.00"),
    )
    assert invoices["inv_1"]["amount_changed"] is True
    assert invoices["inv_2"]["deleted_at"] == gone.deleted_at
    assert await models.entry_invoice("acme", "te_1") is not None
    assert await models.entry_invoice("acme", "te_2") is None  # deleted: uninvoiced


async def test_status_and_export_handled_at_the_same_moment_both_apply(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    """Two consumers, one per topic, in the same instant: each transaction used to miss the
    other's uncommitted row, so the change was parked as early and never applied (seen in CI)."""
    pool = await make_pool(await create_database("reports-invoice-race"))
    await apply_migrations(pool, "timebridge_reporting.adapters.migrations")
    models = PostgresReadModels(pool)
    ids = [f"inv_{n}" for n in range(40)]

    async def status(invoice_id: str) -> None:
        event = sample_invoice_status_changed(invoice_id=invoice_id, status="sent")
        await on_invoice_status_changed(models, Envelope.for_event(event, producer="t"), event)

    async def export(invoice_id: str) -> None:
        event = sample_invoice_exported(invoice_id=invoice_id, entry_ids=(f"te_{invoice_id}",))
        await on_invoice_exported(models, Envelope.for_event(event, producer="t"), event)

    await asyncio.gather(*(job(i) for i in ids for job in (status, export)))

    invoices = {i["invoice_id"]: i for i in await models.invoices("acme")}
    lost = sorted(i for i in ids if invoices[i]["tool_status"] != "sent")
    assert lost == []
