"""Utilization capacity net of approved HR time off: hours and days, caps, weekends, notes."""

import datetime as dt
from decimal import Decimal

from timebridge_reporting.domain.report_model import Period, ReportParams
from timebridge_reporting.domain.reports import Context, Directory, TimeRow
from timebridge_reporting.domain.utilization import TimeOff, TimeOffDay, utilization_report

NOV = Period(start=dt.date(2026, 11, 1), end=dt.date(2026, 11, 30))  # 21 working days
CTX = Context("acme", NOV, None, {})
DIRECTORY = Directory(user_names={"u_1": "Ann", "u_2": "Max", "u_3": "Zoe"})
ROWS = [
    TimeRow("u_1", "p_1", dt.date(2026, 11, 2), 7200, 3600),
    TimeRow("u_2", "p_1", dt.date(2026, 11, 3), 3600, 0),
]
MONDAY, TUESDAY, SATURDAY = dt.date(2026, 11, 23), dt.date(2026, 11, 24), dt.date(2026, 11, 28)
FULL = 21 * 8 * 3600


def _rows(time_off: TimeOff | None, params: ReportParams | None = None) -> dict[str, tuple]:  # type: ignore[type-arg]
    report = utilization_report(
        CTX, params or ReportParams(kind="utilization"), ROWS, DIRECTORY, time_off
    )
    table = report.table("utilization")
    assert table.columns[3] == "capacity_seconds"
    assert table.columns[9] == "time_off_seconds"
    return {str(r[0]): r for r in table.rows} | {"team": table.totals or ()}


def test_without_an_hr_source_capacity_is_whole_and_the_note_says_so() -> None:
    rows = _rows(None)
    assert rows["Ann"][3] == FULL
    assert rows["Ann"][9] == 0
    report = utilization_report(CTX, ReportParams(kind="utilization"), ROWS, DIRECTORY)
    assert "no HR source has recorded time off" in report.notes[0]


def test_hours_and_days_of_approved_time_off_leave_capacity() -> None:
    off = TimeOff(
        (
            TimeOffDay("u_1", MONDAY, Decimal(8), "hours"),
            TimeOffDay("u_1", TUESDAY, Decimal(4), "hours"),
            TimeOffDay("u_2", MONDAY, Decimal("0.5"), "days"),
        ),
        recorded=True,
    )
    rows = _rows(off, ReportParams(kind="utilization", capacity_hours={"u_2": Decimal(6)}))
    assert rows["Ann"][3] == FULL - 12 * 3600
    assert rows["Ann"][9] == 12 * 3600
    assert rows["Ann"][7] == (Decimal(100 * 7200) / (FULL - 12 * 3600)).quantize(Decimal("0.1"))
    assert rows["Max"][3] == 21 * 6 * 3600 - 3 * 3600  # half of his 6-hour day
    assert rows["team"][9] == 15 * 3600
    report = utilization_report(CTX, ReportParams(kind="utilization"), ROWS, DIRECTORY, off)
    assert "minus approved time off" in report.notes[0]


def test_a_day_never_gives_more_than_its_capacity_and_weekends_give_nothing() -> None:
    off = TimeOff(
        (
            TimeOffDay("u_1", MONDAY, Decimal(12), "hours"),  # more than the 8-hour day
            TimeOffDay("u_1", SATURDAY, Decimal(8), "hours"),  # no capacity to take
            TimeOffDay("u_1", dt.date(2026, 12, 1), Decimal(8), "hours"),  # another period
        ),
        recorded=True,
    )
    assert _rows(off)["Ann"][9] == 8 * 3600


def test_someone_away_with_no_hours_is_listed_and_unmatched_people_are_noted() -> None:
    off = TimeOff((TimeOffDay("u_3", MONDAY, Decimal(1), "days"),), 2, recorded=True)
    rows = _rows(off)
    assert rows["Zoe"][1] == 0
    assert rows["Zoe"][3] == FULL - 8 * 3600
    report = utilization_report(CTX, ReportParams(kind="utilization"), ROWS, DIRECTORY, off)
    assert "2 people" in report.notes[1]
