"""The tracker's summary vs ours (pure): per user and project where the tracker splits by
project, per user where it does not, each difference explained; no summary, or one the tracker
could not give, said so; a reconciliation run's request has an id fixed by the run."""

import datetime as dt
from typing import Any

from timebridge_common.events.tracker_reports import TrackerSummaryLine
from timebridge_reporting.domain.report_model import Period
from timebridge_reporting.domain.tracker_summary import (
    HeldSummary,
    OurTotal,
    Tracker,
    compare,
    summary_request,
    summary_wait,
)

AT = dt.datetime(2026, 12, 1, 6, tzinfo=dt.UTC)


def line(user: str, project: str | None, seconds: int, billable: int | None = None) -> Any:
    return TrackerSummaryLine(
        user_external_id=user, project_external_id=project, seconds=seconds,
        billable_seconds=billable,
    )  # fmt: skip


def held(integration: str, *lines: TrackerSummaryLine, unavailable: str | None = None) -> Any:
    return HeldSummary(integration, "tracker-x", tuple(lines), unavailable, AT)


def rows(table: Any) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    return {(r[0], r[2], r[3]): (r[4], r[5], r[6], r[7]) for r in table.rows}


def test_per_project_differences_are_explained() -> None:
    summary = held(
        "int_1",
        line("u1", "p1", 3600, 3600),
        line("u1", "p2", 1800, 0),
        line("u2", "p1", 600),
        line("u3", "p1", 900, 900),
    )
    ours = [
        OurTotal("int_1", "u1", "p1", 3600, 3600),
        OurTotal("int_1", "u1", "p2", 1800, 1800),
        OurTotal("int_1", "u2", "p1", 1200, 0),
        OurTotal("int_1", "u4", "p1", 300, 0),
        OurTotal("int_2", "u1", "p1", 999, 0),
    ]
    table, notes = compare([Tracker("int_1", "tracker-x")], [summary], ours)
    found = rows(table)
    assert found[("int_1", "u1", "p1")] == (3600, 3600, 0, "same")
    assert found[("int_1", "u1", "p2")][:3] == (1800, 1800, 0)
    assert found[("int_1", "u1", "p2")][3].startswith("same time; billable differs")
    assert found[("int_1", "u2", "p1")][:3] == (600, 1200, -600)
    assert "Timebridge holds 600 s more" in found[("int_1", "u2", "p1")][3]
    assert found[("int_1", "u3", "p1")][:3] == (900, 0, 900)
    assert "no entry observed by Timebridge" in found[("int_1", "u3", "p1")][3]
    assert found[("int_1", "u4", "p1")][:3] == (None, 300, -300)
    assert "not in the tracker's report" in found[("int_1", "u4", "p1")][3]
    assert len(found) == 5, "the other integration's entries are not compared here"
    assert notes == [f"tracker-x summary of int_1: fetched at {AT.isoformat()}"]


def test_a_report_per_user_only_is_compared_per_user() -> None:
    summary = held("int_1", line("u1", None, 5400))
    ours = [OurTotal("int_1", "u1", "p1", 3600, 0), OurTotal("int_1", "u1", "p2", 600, 0)]
    table, _ = compare([Tracker("int_1", "tracker-x")], [summary], ours)
    assert rows(table) == {
        ("int_1", "u1", None): (5400, 4200, 1200, "the tracker reports 1200 s more: entries not"
                                " observed yet"),
    }  # fmt: skip


def test_no_summary_or_an_unavailable_one_says_why() -> None:
    trackers = [Tracker("int_1", "tracker-x"), Tracker("int_2", "tracker-y")]
    summaries = [held("int_2", unavailable="tracker-y offers no summary report")]
    table, _ = compare(trackers, summaries, [OurTotal("int_1", "u1", "p1", 60, 0)])
    found = rows(table)
    assert found[("int_1", None, None)][3].startswith("no tracker summary for this period yet")
    assert found[("int_2", None, None)] == (
        None, None, None, "no tracker summary: tracker-y offers no summary report"
    )  # fmt: skip


def test_a_runs_request_has_the_runs_id() -> None:
    period = Period(start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30))
    event, event_id = summary_request("ws", "run_1", period, AT)
    again, same_id = summary_request("ws", "run_1", period, AT)
    assert (event, event_id) == (again, same_id)
    assert summary_request("ws", "run_2", period, AT)[1] != event_id
    assert (event.integration_id, event.period_start, event.cause) == (
        None, period.start, "report-run:run_1"
    )  # fmt: skip


def test_only_a_reconciliation_run_waits_for_the_summaries() -> None:
    assert summary_wait("reconciliation") > dt.timedelta()
    assert summary_wait("time") == dt.timedelta()
