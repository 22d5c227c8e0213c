"""The end of a workspace's day, in its own time zone, across DST changes."""

import datetime as dt
import zoneinfo

import pytest

from timebridge_common.days import daily_slot_after, end_of_day_after, next_daily


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("zone", "now", "end"),
    [
        ("UTC", utc(2026, 11, 20, 10), utc(2026, 11, 21)),
        ("Europe/Berlin", utc(2026, 11, 20, 10), utc(2026, 11, 20, 23)),  # CET, +1
        ("Europe/Berlin", utc(2026, 7, 20, 10), utc(2026, 7, 20, 22)),  # CEST, +2
        ("America/Denver", utc(2026, 11, 21, 3), utc(2026, 11, 21, 7)),  # still the 20th there
        ("Australia/Sydney", utc(2026, 11, 20, 14), utc(2026, 11, 21, 13)),  # already the 21st
    ],
)
def test_the_day_ends_at_local_midnight(zone: str, now: dt.datetime, end: dt.datetime) -> None:
    assert end_of_day_after(now, zone) == end


def test_the_end_is_strictly_after_now_so_a_slot_fires_once() -> None:
    midnight = utc(2026, 11, 20, 23)  # Berlin's midnight
    assert end_of_day_after(midnight, "Europe/Berlin") == utc(2026, 11, 21, 23)
    assert end_of_day_after(midnight - dt.timedelta(microseconds=1), "Europe/Berlin") == midnight


def test_days_of_23_and_25_hours_each_end_once_at_their_own_midnight() -> None:
    """Berlin: 29 March 2026 has 23 hours, 25 October 2026 has 25."""
    spring = end_of_day_after(utc(2026, 3, 28, 23, 30), "Europe/Berlin")  # 00:30 local, 29th
    assert spring == utc(2026, 3, 29, 22)  # midnight CEST
    assert spring - utc(2026, 3, 28, 23) == dt.timedelta(hours=23)
    autumn = end_of_day_after(utc(2026, 10, 24, 22, 30), "Europe/Berlin")  # 00:30 local, 25th
    assert autumn == utc(2026, 10, 25, 23)  # midnight CET
    assert autumn - utc(2026, 10, 24, 22) == dt.timedelta(hours=25)


def test_a_midnight_the_clock_skips_ends_the_day_when_the_clock_jumps() -> None:
    """Santiago moves from -04 to -03 at 00:00 on 6 September 2026: 00:00 never shows."""
    end = end_of_day_after(utc(2026, 9, 5, 12), "America/Santiago")
    assert end == utc(2026, 9, 6, 4)
    assert end.astimezone(dt.timezone(dt.timedelta(hours=-3))).hour == 1  # 01:00 -03, the 6th


def test_walking_the_slots_gives_one_per_local_day_across_both_changes() -> None:
    """New York, March to November 2026 (both DST changes): each slot is a local midnight and
    the days follow each other without a gap or a repeat."""
    zone = zoneinfo.ZoneInfo("America/New_York")
    now, seen = utc(2026, 3, 1, 12), []
    while now < utc(2026, 11, 30):
        now = end_of_day_after(now, "America/New_York")
        seen.append(now.astimezone(zone))
    assert all((s.hour, s.minute) == (0, 0) for s in seen)
    dates = [s.date() for s in seen]
    assert dates == [dates[0] + dt.timedelta(days=i) for i in range(len(dates))]
    assert dates[0] == dt.date(2026, 3, 2)
    assert dates[-1] == dt.date(2026, 11, 30)


def test_the_configured_utc_time_overrides_the_end_of_day() -> None:
    at = dt.time(23, 0)
    assert daily_slot_after(utc(2026, 11, 20, 10), at) == utc(2026, 11, 20, 23)
    assert daily_slot_after(utc(2026, 11, 20, 23), at) == utc(2026, 11, 21, 23)
    assert next_daily(utc(2026, 11, 20, 10), "Europe/Berlin", at) == utc(2026, 11, 20, 23)
    assert next_daily(utc(2026, 11, 20, 10), "Asia/Tokyo") == utc(2026, 11, 20, 15)
