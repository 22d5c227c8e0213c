"""Schedules fire at local wall-clock times, DST-correct, and cover the period that just ended."""

import datetime as dt

import pytest
from pydantic import ValidationError

from timebridge_reporting.domain.definitions import DefinitionBody, Schedule, covered_period
from timebridge_reporting.domain.report_model import Period

UTC = dt.UTC


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_weekly_monday_7_berlin_across_the_autumn_change() -> None:
    weekly = Schedule(kind="weekly", at=dt.time(7), timezone="Europe/Berlin")
    first = weekly.next_fire(utc(2026, 10, 14))
    second = weekly.next_fire(first)
    third = weekly.next_fire(second)
    # Summer time (UTC+2) until Sunday 25 October 2026, then winter time (UTC+1).
    assert [first, second, third] == [
        utc(2026, 10, 19, 5),
        utc(2026, 10, 26, 6),
        utc(2026, 11, 2, 6),
    ]


def test_end_of_day_across_the_spring_change_fires_every_day_once() -> None:
    daily = Schedule(kind="end_of_day", at=dt.time(2, 30), timezone="Europe/Berlin")
    fires, at = [], utc(2026, 3, 27, 12)
    for _ in range(4):
        at = daily.next_fire(at)
        fires.append(at)
    # 29 March 02:30 does not exist in Berlin: it fires at 03:30 local (01:30 UTC), once.
    assert fires == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30),
                     utc(2026, 3, 31, 0, 30)]  # fmt: skip


def test_a_time_that_exists_twice_fires_once() -> None:
    daily = Schedule(kind="end_of_day", at=dt.time(2, 30), timezone="Europe/Berlin")
    first = daily.next_fire(utc(2026, 10, 24, 12))
    assert first == utc(2026, 10, 25, 0, 30)  # 02:30 CEST, the first of the two 02:30s
    assert daily.next_fire(first) == utc(2026, 10, 26, 1, 30)


def test_monthly_cron_and_the_last_fire_for_catching_up() -> None:
    monthly = Schedule(kind="monthly", at=dt.time(6), day_of_month=1, timezone="America/New_York")
    assert monthly.next_fire(utc(2026, 11, 15)) == utc(2026, 12, 1, 11)
    assert monthly.last_fire(utc(2026, 11, 15)) == utc(2026, 11, 1, 11)  # EST since 02:00
    cron = Schedule(kind="cron", cron="30 18 * * 1-5", timezone="Asia/Tokyo")
    assert cron.next_fire(utc(2026, 12, 4, 10)) == utc(2026, 12, 7, 9, 30)  # Fri 19:00 JST -> Mon


def test_covered_periods() -> None:
    monday = dt.date(2026, 11, 2)
    assert covered_period("previous_week", monday) == Period(
        start=dt.date(2026, 10, 26), end=dt.date(2026, 11, 1)
    )
    assert covered_period("previous_week", monday, "sunday") == Period(
        start=dt.date(2026, 10, 25), end=dt.date(2026, 10, 31)
    )
    assert covered_period("previous_month", monday).start == dt.date(2026, 10, 1)
    assert covered_period("previous_day", monday).end == dt.date(2026, 11, 1)
    assert covered_period("month_to_date", monday) == Period(start=dt.date(2026, 11, 1), end=monday)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "params": {"kind": "time"}, "schedule": {"kind": "cron", "cron": "bad"}},
        {
            "name": "x",
            "params": {"kind": "time"},
            "schedule": {"kind": "weekly", "cron": "* * * * *"},
        },
        {"name": "x", "params": {"kind": "time"}, "recipients": ["not-an-address"]},
        {"name": "x\r\nBcc: a@b.c", "params": {"kind": "time"}},
        {
            "name": "x",
            "params": {"kind": "time"},
            "schedule": {"kind": "cron", "cron": "0 0 30 2 *"},
        },
        {
            "name": "x",
            "params": {"kind": "time"},
            "schedule": {"kind": "weekly", "timezone": "Mars/Base"},
        },
    ],
)
def test_definitions_refuse_bad_input(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        DefinitionBody.model_validate(body)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "nul\x00", "params": {"kind": "time"}},
        {"name": "x", "params": {"kind": "time", "projects": ["p\x00"]}},
        {"name": "x", "params": {"kind": "time", "capacity_hours": {"u\x00": "8"}}},
        {"name": "x", "params": {"kind": "time"}, "recipients": ["a\x00b@example.com"]},
    ],
)
def test_nothing_postgres_or_a_mail_header_cannot_carry_is_accepted(
    body: dict[str, object],
) -> None:
    with pytest.raises(ValidationError):
        DefinitionBody.model_validate(body)
