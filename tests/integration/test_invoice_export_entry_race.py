"""An entry edited while its invoice is being frozen for export: the change is never lost.

The export (an admin's HTTP request) freezes the invoice's lines from the ledger and marks it
``exporting``; a new version of one of its entries (``TimeEntryLogged``, another topic) is
applied to the ledger unless its invoice is frozen, else recorded as a change to an invoiced
entry. Handled at the same moment, the ledger handler read the invoice as a draft (the export
was not committed yet) and applied the change after the export had read the old hours: the
invoice went out with the old hours and nothing said the entry changed. Real Postgres.
"""

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import cast

import asyncpg
from timebridge_providers.kit.ports.accounting import TaxDetails

from timebridge_common.crypto import SecretBox
from timebridge_common.db.migrations import apply_migrations
from timebridge_common.events import Envelope
from timebridge_common.testing import sample_time_entry_logged
from timebridge_invoice_export.adapters.postgres import Store
from timebridge_invoice_export.domain.clients import MirroredClient, client_id
from timebridge_invoice_export.domain.rates import Rate
from timebridge_invoice_export.handlers.connections import Connections
from timebridge_invoice_export.handlers.invoices import Invoices
from timebridge_invoice_export.handlers.ledger import on_time_entry_logged
from timebridge_invoice_export.handlers.sync import ToolSync

WS, CONNECTION = "acme", "acc_1"
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
DAY = dt.date(2026, 11, 21)
PAIRS = 30


async def _draft(store: Store, invoices: Invoices, n: int) -> str:
    """Client ``c_n`` with project ``p_n`` at 120/h and one hour of Core time: its draft."""
    mirrored = client_id(CONNECTION, f"c_{n}")
    async with store.tx() as tx:
        await tx.save_client(
            MirroredClient(
                mirrored, WS, CONNECTION, "fakebooks", f"c_{n}", f"Client {n}", None, None,
                TaxDetails(), "USD", True, False, NOW, 1,
            )
        )  # fmt: skip
        await tx.assign_project(WS, f"p_{n}", f"Project {n}", mirrored)
        await tx.put_rate(WS, Rate(f"r_{n}", f"p_{n}", None, Decimal("120.00"), "USD"))
    logged = sample_time_entry_logged(external_id=f"te_{n}")
    logged = logged.model_copy(
        update={"entry": logged.entry.model_copy(update={"project_external_id": f"p_{n}"})}
    )
    assert await on_time_entry_logged(store, Envelope.for_event(logged, producer="t"), logged)
    view = await invoices.create(WS, mirrored, DAY, DAY, issue_date=None, due_date=None, admin="u")
    assert view.computed.total == Decimal("120.00")
    return view.invoice.invoice_id


async def test_an_entry_edited_during_its_invoices_export_is_on_it_or_flagged(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    pool = await make_pool(await create_database("invoice-entry-race"))
    await apply_migrations(pool, "timebridge_invoice_export.adapters.migrations")
    store = Store(pool, SecretBox(SecretBox.generate_key()))
    async with store.tx() as tx:
        await tx.save_connection(
            connection_id=CONNECTION,
            workspace_id=WS,
            provider="fakebooks",
            status="connected",
            tenant_id="company-1",
            tenant_name="Acme Books",
            tenants=(),
            connected_by="u_admin",
            now=NOW,
        )
    # Drafting and requesting an export use neither the tool nor the mirror.
    invoices = Invoices(store, cast(Connections, None), cast(ToolSync, None), lambda: NOW)
    drafts = [await _draft(store, invoices, n) for n in range(PAIRS)]

    async def export(invoice_id: str) -> None:
        await invoices.request_export(WS, invoice_id)

    async def edit(n: int) -> None:
        logged = sample_time_entry_logged(
            external_id=f"te_{n}", updated_at=NOW + dt.timedelta(minutes=1)
        )
        halved = logged.entry.model_copy(
            update={"project_external_id": f"p_{n}", "duration_seconds": 1800}
        )
        logged = logged.model_copy(update={"entry": halved})
        await on_time_entry_logged(store, Envelope.for_event(logged, producer="t"), logged)

    await asyncio.gather(*(job for n in range(PAIRS) for job in (export(drafts[n]), edit(n))))

    lost = []
    async with store.tx() as tx:
        for invoice_id in drafts:
            invoice = await tx.invoice(invoice_id)
            assert invoice is not None
            assert invoice.status == "exporting"
            on_it = invoice.total == Decimal("60.00")
            flagged = bool(await tx.locked_changes(invoice_id))
            if on_it == flagged:  # neither (the change lost), or both (counted twice)
                lost.append((invoice_id, invoice.total, flagged))
    assert lost == []
