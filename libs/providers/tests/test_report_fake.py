"""The report port's fake sums like a provider's time report."""

import datetime as dt

from timebridge_providers.kit.fakes.report import FakeReport, LoggedTime
from timebridge_providers.kit.ports.report import ProviderReport, SummaryRow


async def test_the_fake_sums_the_period_per_user_and_optionally_per_project() -> None:
    day = dt.date(2026, 11, 2)
    logged = [
        LoggedTime("u1", "p1", day, 3600),
        LoggedTime("u1", "p2", day, 1800, billable=False),
        LoggedTime("u2", "p1", day + dt.timedelta(days=7), 600),
    ]
    report: ProviderReport = FakeReport(logged)
    assert await report.summary(day, day + dt.timedelta(days=6)) == [
        SummaryRow("u1", None, 5400, 3600)
    ]
    split = FakeReport(logged, by_project=True)
    rows = await split.summary(day, day + dt.timedelta(days=7))
    assert [(r.user_external_id, r.project_external_id, r.seconds) for r in rows] == [
        ("u1", "p1", 3600),
        ("u1", "p2", 1800),
        ("u2", "p1", 600),
    ]
