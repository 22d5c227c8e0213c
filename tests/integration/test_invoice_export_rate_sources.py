"""Rates from a tracker as the billing rate source, on real Postgres: the choice per workspace
and per client, the tracker's rates kept in Core's ids, and the source recorded on each line of
the invoice as it is frozen for export (and read back)."""

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
from timebridge_invoice_export.handlers.billing import Billing, CoreProjects
from timebridge_invoice_export.handlers.connections import Connections
from timebridge_invoice_export.handlers.invoices import Invoices
from timebridge_invoice_export.handlers.ledger import on_time_entry_logged
from timebridge_invoice_export.handlers.sync import ToolSync

WS, CONNECTION = "acme", "acc_1"
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
DAY = dt.date(2026, 11, 21)


async def _client(store: Store, n: int) -> str:
    """Client ``c_n`` with project ``p_n`` (Timebridge's rate 120/h) and an hour of Core time."""
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
    return mirrored


async def test_a_trackers_rates_price_the_invoice_and_each_line_keeps_its_source(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    pool = await make_pool(await create_database("invoice-rate-sources"))
    await apply_migrations(pool, "timebridge_invoice_export.adapters.migrations")
    store = Store(pool, SecretBox(SecretBox.generate_key()))
    async with store.tx() as tx:
        await tx.save_connection(
            connection_id=CONNECTION, workspace_id=WS, provider="fakebooks", status="connected",
            tenant_id="company-1", tenant_name="Acme Books", tenants=(), connected_by="u_admin",
            now=NOW,
        )  # fmt: skip
    billing = Billing(store, cast(CoreProjects, None), lambda: NOW)
    # Drafting and requesting an export use neither the tool nor the mirror.
    invoices = Invoices(store, cast(Connections, None), cast(ToolSync, None), lambda: NOW)
    tracker_client, own_client = await _client(store, 1), await _client(store, 2)
    await billing.put_tracker_rates(
        WS, "int_7", [("p_1", None, Decimal("95.00"), "USD"), ("p_2", None, Decimal("80"), "USD")]
    )
    await billing.put_tracker_rates(WS, "int_7", [("p_1", None, Decimal("100.00"), "USD")])
    await billing.choose_rate_source(WS, None, "int_7")
    await billing.choose_rate_source(WS, own_client, None)  # this client keeps Timebridge's
    assert await billing.rate_source(WS, tracker_client) == "int_7"
    assert await billing.rate_source(WS, own_client) is None
    assert [(r.project_id, r.hourly_rate) for r in await billing.tracker_rates(WS, "int_7")] == [
        ("p_1", Decimal("100.0000"))  # the second reading replaced the first
    ]

    by_tracker = await invoices.create(
        WS, tracker_client, DAY, DAY, issue_date=None, due_date=None, admin="u"
    )
    by_own = await invoices.create(
        WS, own_client, DAY, DAY, issue_date=None, due_date=None, admin="u"
    )
    assert [(line.unit_price, line.rate_source) for line in by_tracker.computed.lines] == [
        (Decimal("100.0000"), "tracker:int_7")
    ]
    assert [(line.unit_price, line.rate_source) for line in by_own.computed.lines] == [
        (Decimal("120.0000"), "timebridge")
    ]

    await invoices.request_export(WS, by_tracker.invoice.invoice_id)  # the lines are frozen
    await billing.put_tracker_rates(WS, "int_7", [("p_1", None, Decimal("200"), "USD")])
    async with store.tx() as tx:
        frozen = await tx.invoice(by_tracker.invoice.invoice_id)
    assert frozen is not None
    assert [(line.unit_price, line.rate_source) for line in frozen.lines] == [
        (Decimal("100.0000"), "tracker:int_7")
    ]
