"""Report computations on in-memory rows: grouping, buckets, capacity, billing, reconciliation."""

import datetime as dt
from decimal import Decimal

import pytest

from timebridge_reporting.domain import reconciliation as rec
from timebridge_reporting.domain.report_model import Period, ReportParams, bucket, working_days
from timebridge_reporting.domain.reports import (
    BillingRow,
    Context,
    Directory,
    InvoiceRow,
    TimeRow,
    billing_report,
    time_report,
)
from timebridge_reporting.domain.utilization import utilization_report

NOV = Period(start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30))
CTX = Context("acme", NOV, dt.datetime(2026, 12, 1, tzinfo=dt.UTC), {"running_timers": 1})
DIRECTORY = Directory({"p_1": "cl_1"}, {"cl_1": "Globex"}, {"u_1": "Ann", "u_2": "Max"})
ROWS = [
    TimeRow("u_1", "p_1", dt.date(2026, 11, 2), 3600, 3600),
    TimeRow("u_1", "p_1", dt.date(2026, 11, 3), 1800, 0),
    TimeRow("u_2", "p_2", dt.date(2026, 11, 10), 7200, 3600),
    TimeRow("u_2", "p_2", dt.date(2026, 12, 1), 9999, 9999),  # outside the period
]


def test_time_by_client_and_week_with_billable_split() -> None:
    params = ReportParams(kind="time", group_by="client", interval="week")
    report = time_report(CTX, params, ROWS, DIRECTORY)
    table = report.table("time")
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in table.rows] == [
        ("(no client)", dt.date(2026, 11, 9), 7200, 3600, 3600),
        ("Globex", dt.date(2026, 11, 2), 5400, 3600, 1800),
    ]
    assert table.totals is not None
    assert table.totals[2:5] == (12600, 7200, 5400)
    assert table.totals[5] == Decimal("3.50")
    assert report.excluded == {"running_timers": 1}
    assert report.fresh_up_to == CTX.fresh_up_to
    assert report.chart is not None
    assert report.chart.series["billable"] == [3600, 3600]


def test_filters_by_client_and_project() -> None:
    only_globex = ReportParams(kind="time", clients=("cl_1",))
    assert time_report(CTX, only_globex, ROWS, DIRECTORY).table("time").totals[2] == 5400  # type: ignore[index]
    only_p2 = ReportParams(kind="time", projects=("p_2",), group_by="user")
    assert [r[0] for r in time_report(CTX, only_p2, ROWS, DIRECTORY).table("time").rows] == ["Max"]


def test_buckets_and_working_days() -> None:
    sunday = dt.date(2026, 11, 8)
    assert bucket(sunday, "week") == dt.date(2026, 11, 2)
    assert bucket(sunday, "week", "sunday") == sunday
    assert bucket(sunday, "month") == dt.date(2026, 11, 1)
    assert working_days(NOV) == 21


def test_utilization_against_configured_capacity() -> None:
    params = ReportParams(kind="utilization", capacity_hours={"u_2": Decimal(4)})
    table = utilization_report(CTX, params, ROWS, DIRECTORY).table("utilization")
    ann, max_ = table.rows
    assert (ann[0], ann[3], ann[7]) == ("Ann", 21 * 8 * 3600, Decimal("0.9"))
    assert (max_[0], max_[3], max_[8]) == ("Max", 21 * 4 * 3600, Decimal("1.2"))
    assert table.totals is not None
    assert table.totals[1:4] == (12600, 7200, 21 * 12 * 3600)


def test_billing_unbilled_invoiced_paid_and_invoice_status() -> None:
    invoices = [
        InvoiceRow("inv_1", "1001", "xero", "cl_1", "EUR", Decimal("180.00"), "paid",
                   Decimal("180.00"), False, False, {"p_1": Decimal("180.00")}),
        InvoiceRow("inv_2", "1002", "xero", "cl_1", "EUR", Decimal("60.50"), "sent",
                   Decimal("70.00"), True, False, {"p_1": Decimal("60.50")},
                   {"p_1": ("timebridge", "tracker:int_1")}),
        InvoiceRow("inv_3", None, "xero", "cl_1", "EUR", Decimal("999"), "deleted",
                   None, False, True, {"p_1": Decimal("999")}, {"p_1": ("tracker:int_9",)}),
    ]  # fmt: skip
    rows = [BillingRow("p_1", 5400, 3600), BillingRow("p_2", 3600, 0)]
    report = billing_report(CTX, ReportParams(kind="billing"), rows, invoices, DIRECTORY)
    billing = report.table("billing")
    assert [(r[0], r[1], r[4], r[8], r[9]) for r in billing.rows] == [
        ("(no client)", "p_2", 3600, Decimal(0), Decimal(0)),
        ("Globex", "p_1", 1800, Decimal("240.50"), Decimal("180.00")),
    ]
    assert billing.totals is not None
    assert billing.totals[7:] == ("EUR", Decimal("240.50"), Decimal("180.00"), None)
    # the rate sources of each project's invoiced time (a deleted invoice's do not count)
    assert [r[10] for r in billing.rows] == [None, "timebridge, tracker:int_1"]
    statuses = [(r[0], r[6], r[8]) for r in report.table("invoices").rows]
    assert statuses == [
        ("inv_1", "paid", "no"),
        ("inv_2", "sent", "yes"),
        ("inv_3", "deleted here", "no"),
    ]


def test_billing_keeps_to_the_client_filter() -> None:
    """A billing report for one client shows neither another client's hours nor invoices."""
    directory = Directory({"p_1": "cl_1", "p_2": "cl_2"}, {"cl_1": "Globex", "cl_2": "Initech"})
    invoices = [
        InvoiceRow("inv_1", "1001", "xero", "cl_1", "EUR", Decimal("180.00"), "paid",
                   Decimal("180.00"), False, False, {"p_1": Decimal("180.00")}),
        InvoiceRow("inv_2", "1002", "xero", "cl_2", "EUR", Decimal("75.00"), "sent",
                   Decimal("75.00"), False, False, {"p_2": Decimal("50.00"),
                                                    "p_9": Decimal("25.00")}),
    ]  # fmt: skip
    rows = [BillingRow("p_1", 5400, 3600), BillingRow("p_2", 3600, 0), BillingRow("p_3", 60, 0)]
    params = ReportParams(kind="billing", clients=("cl_1",))
    report = billing_report(CTX, params, rows, invoices, directory)
    billing = report.table("billing")
    assert [(r[0], r[1], r[2], r[8]) for r in billing.rows] == [
        ("Globex", "p_1", 5400, Decimal("180.00"))
    ]
    assert billing.totals is not None
    assert billing.totals[2] == 5400
    assert billing.totals[8] == Decimal("180.00")
    assert [r[0] for r in report.table("invoices").rows] == ["inv_1"]
    everyone = billing_report(CTX, ReportParams(kind="billing"), rows, invoices, directory)
    assert {r[1] for r in everyone.table("billing").rows} == {"p_1", "p_2", "p_3", "p_9"}


def entry(source: str, eid: str, seconds: int = 3600, *, deleted: bool = False) -> rec.Entry:
    return rec.Entry(source, eid, "u_1", dt.date(2026, 11, 5), seconds, deleted, None)


def outcome(
    eid: str,
    status: str,
    reason: str | None = None,
    *,
    source: str = "core",
    target_id: str | None = None,
) -> rec.Outcome:
    target = "everhour" if source == "core" else "core"
    return rec.Outcome("int_1", source, eid, target, target_id, status, reason)


@pytest.mark.parametrize("direction", ["two_way", "tracker_to_core"])
def test_reconciliation_explains_every_kind_of_difference(direction: str) -> None:
    entries = [
        entry("core", "te_ok"), entry("everhour", "eh_ok"),
        entry("core", "te_unmapped"),
        entry("core", "te_conflict"),
        entry("core", "te_error"),
        entry("core", "te_new"),
        entry("core", "te_del", deleted=True), entry("everhour", "eh_del"),
        entry("core", "te_long", 7200), entry("everhour", "eh_long", 3600),
        entry("everhour", "eh_own"),
        entry("everhour", "eh_skip"),
    ]  # fmt: skip
    outcomes = [
        outcome("te_ok", "synced", target_id="eh_ok"),
        outcome("te_unmapped", "queued", "no Everhour user is mapped to Core user u_9; held"),
        outcome("te_conflict", "conflict", "changed in everhour and in the source"),
        outcome("te_error", "error", "Everhour answered 503"),
        outcome("te_del", "synced", target_id="eh_del"),
        outcome("te_long", "synced", target_id="eh_long"),
        outcome("eh_own", "synced", source="everhour", target_id="te_x"),
        outcome(
            "eh_skip", "skipped", "Timebridge does not sync everhour to core", source="everhour"
        ),
    ]
    invoices = [
        rec.Invoice("inv_1", "1001", "xero", Decimal("180.00"), Decimal("200.00"), "sent",
                    True, False),
        rec.Invoice("inv_2", "1002", "xero", Decimal("50.00"), None, "deleted", False, False),
    ]  # fmt: skip
    integrations = [rec.Integration("int_1", "everhour", direction)]
    report = rec.reconcile(CTX, entries, outcomes, integrations, invoices)
    kinds = {(r[2], r[0]) for r in report.table("differences").rows}
    expected_new = "not_yet_synced" if direction == "two_way" else "skipped_by_direction"
    assert kinds == {
        ("te_unmapped", "unmapped_user"),
        ("te_conflict", "conflict_open"),
        ("te_error", "error"),
        ("te_new", expected_new),
        ("te_del", "deleted_on_one_side"),
        ("te_long", "duration_differs"),
        ("eh_skip", "skipped_by_direction"),
    }
    invoice_kinds = [(r[1], r[0]) for r in report.table("invoice_differences").rows]
    assert invoice_kinds == [
        ("inv_1", "invoiced_amount_changed_in_tool"),
        ("inv_2", "deleted_on_one_side"),
    ]
    summary = {r[0]: r[1] for r in report.table("summary").rows}
    assert summary == {"core": 6, "everhour": 2}  # te_del deleted; eh_ok, eh_del, eh_long copies
