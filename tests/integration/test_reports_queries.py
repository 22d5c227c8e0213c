"""Reports built from the real read models: every kind, fed by the events' own handlers.

The reconciliation part seeds one discrepancy of every kind the issue lists and expects each to
be found and explained; the totals come from the rollups and match the entries.
"""

import datetime as dt
from collections.abc import Awaitable, Callable
from decimal import Decimal

import asyncpg

from timebridge_common import connections
from timebridge_common.db.migrations import apply_migrations
from timebridge_common.events import Envelope, Event, IntegrationSettings, TimeEntryLogged
from timebridge_common.events.budgets import BudgetChanged, BudgetItem
from timebridge_common.testing import (
    sample_connection_changed,
    sample_entry_synced,
    sample_invoice_exported,
    sample_invoice_status_changed,
    sample_time_entry_logged,
)
from timebridge_reporting.adapters.budgets import PostgresBudgets
from timebridge_reporting.adapters.facts import PostgresFacts
from timebridge_reporting.adapters.postgres import PostgresReadModels
from timebridge_reporting.adapters.report_queries import PostgresReportQueries
from timebridge_reporting.domain.report_model import Period, ReportParams
from timebridge_reporting.handlers.build import build_report
from timebridge_reporting.handlers.facts import on_invoice_amounts, on_time_entry_logged
from timebridge_reporting.handlers.read_models import (
    on_entry_synced,
    on_invoice_exported,
    on_invoice_status_changed,
)

T0 = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC)
NOV = Period(start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30))


def entry(source: str, eid: str, seconds: int = 3600, **more: object) -> TimeEntryLogged:
    base = sample_time_entry_logged(source=source, external_id=eid)
    fields = {"duration_seconds": seconds} | {k: v for k, v in more.items() if k != "deleted"}
    return base.model_copy(
        update={
            "entry": base.entry.model_copy(update=fields),
            "deleted": bool(more.get("deleted", False)),
            "integration_id": None if source == "core" else "int_1",
        }
    )


def env(event: Event) -> Envelope:
    return Envelope.for_event(event, producer="test", occurred_at=T0)


async def test_every_report_from_the_read_models(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    pool = await make_pool(await create_database("reports-queries"))
    await apply_migrations(pool, connections.MIGRATIONS, "timebridge_reporting.adapters.migrations")
    facts, models = PostgresFacts(pool), PostgresReadModels(pool)
    await connections.ConnectionCopies(pool).apply(
        "test",
        env(sample_connection_changed(connection_id="int_1", settings=IntegrationSettings())),
        sample_connection_changed(connection_id="int_1", settings=IntegrationSettings()),
    )
    entries = [
        entry("core", "te_ok"), entry("everhour", "eh_ok"),
        entry("core", "te_unmapped", 1800, billable=False),
        entry("core", "te_conflict"), entry("core", "te_error"), entry("core", "te_new"),
        entry("core", "te_del", deleted=True), entry("everhour", "eh_del"),
        entry("core", "te_long", 7200), entry("everhour", "eh_long"),
        entry("everhour", "eh_queued"),
        entry("core", "te_run", 0, ended_at=None),
    ]  # fmt: skip
    for e in entries:
        assert await on_time_entry_logged(facts, env(e), e)
    outcomes = [
        ("te_ok", "synced", None, "eh_ok"),
        ("te_unmapped", "queued", "no Everhour user is mapped to Core user u_9; held", None),
        ("te_conflict", "conflict", "changed in everhour and in the source", None),
        ("te_error", "error", "Everhour answered 503", None),
        ("te_del", "synced", None, "eh_del"),
        ("te_long", "synced", None, "eh_long"),
    ]
    for eid, status, reason, target_id in outcomes:
        synced = sample_entry_synced(
            integration_id="int_1", source_external_id=eid, status=status, reason=reason,
            target_external_id=target_id,
        )  # fmt: skip
        await on_entry_synced(models, env(synced), synced)
    queued = sample_entry_synced(
        integration_id="int_1", source="everhour", source_external_id="eh_queued",
        target="core", target_external_id=None, status="conflict", reason="edited on both sides",
    )  # fmt: skip
    await on_entry_synced(models, env(queued), queued)
    invoice = sample_invoice_exported(entry_ids=("te_ok",))
    invoice = invoice.model_copy(
        update={
            "lines": tuple(
                ln.model_copy(update={"project_id": "p_1", "rate_source": "timebridge"})
                for ln in invoice.lines
            )
        }
    )
    await on_invoice_exported(models, env(invoice), invoice)
    await on_invoice_amounts(facts, env(invoice), invoice)
    changed = sample_invoice_status_changed(status="paid")
    await on_invoice_status_changed(models, env(changed), changed)
    queries = PostgresReportQueries(pool)

    time = await build_report(queries, "acme", ReportParams(kind="time"), NOV)
    assert time.fresh_up_to == T0
    assert time.excluded == {"running_timers": 1, "tracker_entries_in_conflict": 1}
    live_core = 4 * 3600 + 1800 + 7200  # te_del deleted, te_run running
    assert time.table("time").totals[2:4] == (live_core, live_core - 1800)  # type: ignore[index]
    weekly = await build_report(queries, "acme", ReportParams(kind="time", interval="day"), NOV)
    assert [r[1] for r in weekly.table("time").rows] == [dt.date(2026, 11, 21)]
    assert weekly.table("time").totals == time.table("time").totals
    by_task = await build_report(queries, "acme", ReportParams(kind="time", group_by="task"), NOV)
    assert [r[0] for r in by_task.table("time").rows] == ["t_1"]
    assert by_task.table("time").totals == time.table("time").totals

    for params in (
        ReportParams(kind="utilization"),
        ReportParams(kind="utilization", projects=("p_1",)),
    ):
        utilization = await build_report(queries, "acme", params, NOV)
        assert utilization.table("utilization").totals[1:3] == (live_core, live_core - 1800)  # type: ignore[index]
    performance = await build_report(queries, "acme", ReportParams(kind="performance"), NOV)
    assert [r[1:3] + r[5:6] for r in performance.table("performance").rows] == [
        ("p_1", live_core, "no budget")
    ]
    await budgets_against_time(pool, queries, live_core)

    billing = await build_report(queries, "acme", ReportParams(kind="billing"), NOV)
    [row] = billing.table("billing").rows
    billable = live_core - 1800
    assert row[:5] == ("cl_1", "p_1", billable, 3600, billable - 3600)
    assert row[7:] == ("EUR", Decimal("180.00"), Decimal("180.00"), "timebridge")
    assert billing.table("invoices").rows[0][6] == "paid"

    recon = await build_report(queries, "acme", ReportParams(kind="reconciliation"), NOV)
    kinds = {(r[2], r[0]) for r in recon.table("differences").rows}
    assert kinds == {
        ("te_unmapped", "unmapped_user"),
        ("te_conflict", "conflict_open"),
        ("te_error", "error"),
        ("te_new", "not_yet_synced"),
        ("te_run", "not_yet_synced"),
        ("te_del", "deleted_on_one_side"),
        ("te_long", "duration_differs"),
        ("eh_queued", "conflict_open"),
    }
    assert [r[0] for r in recon.table("invoice_differences").rows] == [
        "invoiced_amount_changed_in_tool"
    ]


async def budgets_against_time(
    pool: asyncpg.Pool, queries: PostgresReportQueries, live_core: int
) -> None:
    """Budgets as contracts announce them, against the Core time held, priced by the invoiced
    rate (1.5 h for 180.00 EUR: 120 an hour) with its source; an older revision is ignored."""
    budgets = PostgresBudgets(pool)
    terms = {"workspace_id": "acme", "target_kind": "project", "target_id": "p_1",
             "items": (BudgetItem(project_id="p_1"),), "period": "total",
             "changed_at": T0}  # fmt: skip
    hours = BudgetChanged(**terms, budget_id="b_h", revision=2, unit="hours", amount=Decimal(10))
    older = hours.model_copy(update={"revision": 1, "amount": Decimal(99)})
    money = BudgetChanged(
        **terms, budget_id="b_m", revision=1, unit="money", amount=Decimal(1000), currency="EUR"
    )
    assert await budgets.record(env(hours), hours)
    assert not await budgets.record(env(older), older)
    assert not await budgets.record(env(hours), hours)  # redelivered: the same revision
    assert await budgets.record(env(money), money)
    report = await build_report(queries, "acme", ReportParams(kind="performance"), NOV)
    rows = {r["budget"]: r for r in report.table("performance").as_dicts()}
    assert set(rows) == {"b_h", "b_m"}
    used_hours = Decimal(live_core) / 3600  # 6.5 h, all on 21 November (the as-of day)
    assert (rows["b_h"]["budget_amount"], rows["b_h"]["consumption_pct"]) == (10, Decimal(65))
    assert rows["b_h"]["budget_hours_used"] == used_hours
    assert rows["b_h"]["burn_per_week"] == used_hours * 7  # one day elapsed
    assert rows["b_h"]["forecast_to_completion"] == dt.date(2026, 11, 22)
    billable = Decimal(live_core - 1800) / 3600
    assert rows["b_m"]["budget_amount_used"] == billable * 120
    assert rows["b_m"]["consumption_pct"] == Decimal("72.0")
    assert rows["b_m"]["rate_source"] == "invoiced average rate (timebridge)"
