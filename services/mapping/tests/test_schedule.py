"""Sync slots: when a Core change syncs for each frequency, and when a waiting one is due."""

import datetime as dt

import pytest

from timebridge_common.events import IntegrationSettings
from timebridge_mapping.domain.schedule import Frequency, SyncSlots, is_due, next_slot

ELEVEN_PM = dt.time(23, 0)


def utc(hour: int, minute: int = 0, second: int = 0, micro: int = 0, day: int = 20) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, second, micro, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("frequency", "now", "slot"),
    [
        ("every_5_minutes", utc(10, 3, 12), utc(10, 5)),
        ("every_5_minutes", utc(10, 4, 59, 999_999), utc(10, 5)),
        ("every_5_minutes", utc(10, 5), utc(10, 10)),  # strictly after: never "at once"
        ("every_5_minutes", utc(23, 58), utc(0, 0, day=21)),
        ("hourly", utc(10, 0, 0, 1), utc(11)),
        ("hourly", utc(10, 59, 59), utc(11)),
        ("hourly", utc(10), utc(11)),
        ("hourly", utc(23, 30), utc(0, day=21)),
        ("daily", utc(9, 15), utc(23)),
        ("daily", utc(22, 59, 59), utc(23)),
        ("daily", utc(23), utc(23, day=21)),
        ("daily", utc(23, 30), utc(23, day=21)),
    ],
)
def test_the_next_slot_is_the_first_boundary_after_now(
    frequency: Frequency, now: dt.datetime, slot: dt.datetime
) -> None:
    assert next_slot(frequency, now, daily_at=ELEVEN_PM) == slot


def test_realtime_has_no_slot() -> None:
    assert next_slot("realtime", utc(10, 3), daily_at=ELEVEN_PM) is None


def test_slots_are_utc_whatever_zone_now_is_given_in() -> None:
    berlin = dt.timezone(dt.timedelta(hours=1))
    now = dt.datetime(2026, 11, 21, 0, 30, tzinfo=berlin)  # 23:30 UTC on the 20th
    assert next_slot("hourly", now, daily_at=ELEVEN_PM) == utc(0, day=21)
    assert next_slot("daily", now, daily_at=ELEVEN_PM) == utc(23, day=21)


def test_the_daily_slot_is_configurable() -> None:
    assert next_slot("daily", utc(1, 10), daily_at=dt.time(2, 30)) == utc(2, 30)
    assert next_slot("daily", utc(3), daily_at=dt.time(2, 30)) == utc(2, 30, day=21)


def test_a_waiting_change_is_due_at_its_slot_or_at_once_when_switched_to_realtime() -> None:
    due_at = utc(11)
    assert not is_due("hourly", due_at, utc(10, 59, 59))
    assert is_due("hourly", due_at, utc(11))
    assert is_due("daily", due_at, utc(11, 1))  # a promised slot stands after a change
    assert is_due("realtime", due_at, utc(10, 1))


def test_only_core_changes_wait_for_a_slot() -> None:
    hourly = IntegrationSettings(frequency="hourly")
    slots = SyncSlots(daily_at=ELEVEN_PM)
    assert slots.defer_until("core", hourly, utc(10, 20)) == utc(11)
    assert slots.defer_until("everhour", hourly, utc(10, 20)) is None
    assert slots.defer_until("core", IntegrationSettings(), utc(10, 20)) is None
