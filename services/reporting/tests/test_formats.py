"""Every format carries the same figures as the JSON, plus period, freshness and exclusions."""

import datetime as dt
from decimal import Decimal

from timebridge_reporting.adapters.formats import render, to_json
from timebridge_reporting.domain.report_model import Period, ReportParams
from timebridge_reporting.domain.reports import (
    BillingRow,
    Context,
    Directory,
    InvoiceRow,
    TimeRow,
    billing_report,
    time_report,
)
from timebridge_reporting.testing import csv_tables, pdf_info, xlsx_sheets

NOV = Period(start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30))
CTX = Context("acme", NOV, dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC), {"running_timers": 2})
ROWS = [
    TimeRow("u_1", "p_1", dt.date(2026, 11, 2), 3600, 3600),
    TimeRow("u_2", "p_2", dt.date(2026, 11, 3), 1234, 0),
]
REPORT = time_report(CTX, ReportParams(kind="time", group_by="user"), ROWS, Directory())


def test_json_states_freshness_exclusions_and_exact_totals() -> None:
    body = to_json(REPORT)
    assert body["fresh_up_to"] == "2026-12-01T08:00:00+00:00"
    assert body["excluded"] == {"running_timers": 2}
    assert body["tables"]["time"]["totals"]["seconds"] == 4834
    assert body["tables"]["time"]["totals"]["hours"] == "1.34"


def test_csv_totals_equal_the_json() -> None:
    tables = csv_tables(render(REPORT, "csv"))
    assert ["fresh up to", "2026-12-01T08:00:00+00:00"] in tables["about"]
    assert ["excluded", "running_timers=2"] in tables["about"]
    header, *rows = tables["time"]
    totals = dict(zip(header, rows[-1], strict=True))
    json_totals = to_json(REPORT)["tables"]["time"]["totals"]
    assert totals["seconds"] == str(json_totals["seconds"])
    assert totals["hours"] == json_totals["hours"]


def test_xlsx_totals_equal_the_json() -> None:
    sheets = xlsx_sheets(render(REPORT, "xlsx"))
    assert set(sheets) == {"About", "time"}
    header, *rows = sheets["time"]
    totals = dict(zip(header, rows[-1], strict=True))
    assert totals["user"] == "total"
    assert int(totals["seconds"]) == 4834
    assert Decimal(totals["hours"]) == Decimal("1.34")


def test_billing_amounts_stay_exact_in_xlsx() -> None:
    invoice = InvoiceRow(
        "inv_1", "1", "xero", "cl_1", "EUR", Decimal("0.10"), "paid", None, False, False,
        {"p_1": Decimal("0.10")},
    )  # fmt: skip
    report = billing_report(
        CTX, ReportParams(kind="billing"), [BillingRow("p_1", 3600, 3600)], [invoice], Directory()
    )
    header, *rows = xlsx_sheets(render(report, "xlsx"))["billing"]
    totals = dict(zip(header, rows[-1], strict=True))
    assert Decimal(totals["invoiced_amount"]).quantize(Decimal("0.01")) == Decimal("0.10")


def test_pdf_has_a_chart_page_and_the_totals() -> None:
    info = pdf_info(render(REPORT, "pdf"))
    assert info["Title"] == "Time by user (core)"
    assert "seconds=4834" in str(info["Subject"])
    assert int(info["pages"]) >= 2
