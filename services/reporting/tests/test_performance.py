"""The performance report against budgets: consumption, burn rate, forecast, priced by the
invoiced rates (with their source), and a project without a budget saying so."""

import datetime as dt
from decimal import Decimal

from timebridge_reporting.domain.performance import (
    BudgetRow,
    Budgets,
    ProjectRate,
    performance_report,
)
from timebridge_reporting.domain.report_model import Period, ReportParams, Value
from timebridge_reporting.domain.reports import Context, Directory, TimeRow

NOV = Period(start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30))
# events seen up to 14 November: the report speaks as of that day
CTX = Context("acme", NOV, dt.datetime(2026, 11, 14, 18, tzinfo=dt.UTC), {})
DIRECTORY = Directory({"p_1": "cl_1"}, {"cl_1": "Globex"}, {})
PARAMS = ReportParams(kind="performance")
H = 3600


def day(n: int, month: int = 11) -> dt.date:
    return dt.date(2026, month, n)


PERIOD_ROWS = [TimeRow("u_1", "p_1", day(1), 20 * H, 10 * H), TimeRow("u_1", "p_2", day(1), H, 0)]
# p_1's time per day: 10 h in October (counts for a total budget, not a monthly one), 20 h in
# November up to the 14th (of which 10 billable), 5 h after the as-of day (not counted)
BUDGET_ROWS = [
    TimeRow("u_1", "p_1", day(1, 10), 10 * H, 0),
    TimeRow("u_1", "p_1", day(1), 10 * H, 10 * H, "t_a"),
    TimeRow("u_2", "p_1", day(14), 10 * H, 0, "t_b"),
    TimeRow("u_2", "p_1", day(20), 5 * H, 5 * H),
]


def rows_of(budgets: Budgets) -> list[dict[str, Value]]:
    report = performance_report(CTX, PARAMS, PERIOD_ROWS, DIRECTORY, budgets)
    return report.table("performance").as_dicts()


def test_without_budgets_each_project_says_so() -> None:
    rows = rows_of(Budgets([], [], []))
    assert [(r["project"], r["budget"], r["forecast_to_completion"]) for r in rows] == [
        ("p_1", "no budget", None),
        ("p_2", "no budget", None),
    ]


def test_a_total_hours_budget_counts_all_time_and_forecasts_its_end() -> None:
    budget = BudgetRow("b_h", 1, "hours", Decimal(60), None, "total", (("p_1", None),))
    rows = rows_of(Budgets([budget], BUDGET_ROWS, []))
    [p1] = [r for r in rows if r["project"] == "p_1"]
    [p2] = [r for r in rows if r["project"] == "p_2"]
    assert p2["budget"] == "no budget"
    # 30 h used of 60 (October's 10 h too; the 20th is after the as-of day)
    assert (p1["budget"], p1["budget_hours_used"], p1["consumption_pct"]) == (
        "b_h",
        Decimal("30.00"),
        Decimal("50.0"),
    )
    # since 1 October, 45 days = 45/7 weeks: 30 / (45/7) = 4.67 h a week; 30 h left = 45 days
    assert p1["burn_per_week"] == Decimal("4.67")
    assert p1["forecast_to_completion"] == day(14) + dt.timedelta(days=45)
    assert p1["budget_terms"] == "hours, total"


def test_a_monthly_money_budget_is_priced_by_invoiced_rates_with_their_source() -> None:
    budget = BudgetRow("b_m", 2, "money", Decimal(2000), "EUR", "monthly", (("p_1", "t_a"),))
    rates = [
        ProjectRate("p_1", "EUR", Decimal(4), Decimal(600), ("timebridge",)),  # 150 / h
        ProjectRate("p_1", "USD", Decimal(1), Decimal(999), ("tracker:int_1",)),
    ]
    [p1] = [r for r in rows_of(Budgets([budget], BUDGET_ROWS, rates)) if r["project"] == "p_1"]
    # only ticket t_a counts: 10 billable hours x 150 = 1500 of 2000 in November
    assert (p1["budget_amount_used"], p1["consumption_pct"]) == (Decimal("1500.00"), Decimal(75))
    assert p1["rate_source"] == "invoiced average rate (timebridge)"
    # 14 days elapsed in the month: 750 a week; 500 left = 5 days
    assert (p1["burn_per_week"], p1["forecast_to_completion"]) == (Decimal(750), day(19))


def test_money_without_a_rate_in_the_budgets_currency_has_no_amount() -> None:
    budget = BudgetRow("b_m", 1, "money", Decimal(2000), "GBP", "total", (("p_1", None),))
    rates = [ProjectRate("p_1", "EUR", Decimal(4), Decimal(600), ("timebridge",))]
    [p1] = [r for r in rows_of(Budgets([budget], BUDGET_ROWS, rates)) if r["project"] == "p_1"]
    assert (p1["budget_amount_used"], p1["consumption_pct"], p1["forecast_to_completion"]) == (
        None,
        None,
        None,
    )
    assert p1["rate_source"] == "no rate: no exported invoice line of p_1 in GBP"


def test_a_used_up_budget_and_a_budgeted_project_without_time_in_the_period() -> None:
    budget = BudgetRow("b_x", 1, "hours", Decimal(5), None, "total", (("p_9", None),))
    rows = [TimeRow("u_1", "p_9", day(3), 6 * H, 0)]
    report = performance_report(CTX, PARAMS, [], DIRECTORY, Budgets([budget], rows, []))
    [p9] = report.table("performance").as_dicts()
    assert (p9["project"], p9["seconds"], p9["forecast_to_completion"]) == ("p_9", 0, "used up")
    assert p9["consumption_pct"] == Decimal("120.0")
