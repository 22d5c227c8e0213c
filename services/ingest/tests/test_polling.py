"""Polling decisions: how often each frequency polls, and what a poll counts as a change."""

import datetime as dt

import pytest
from timebridge_providers.everhour.client import Task, TimeRecord

from timebridge_common.events import IntegrationSettings
from timebridge_ingest.domain.polling import SAFETY_NET, Seen, diff_window, poll_interval

START, END = dt.date(2026, 11, 1), dt.date(2026, 11, 21)


def record(record_id: int, seconds: int, day: int = 20, **fields: object) -> TimeRecord:
    return TimeRecord.model_validate(
        {
            "id": record_id,
            "time": seconds,
            "user": 1001,
            "date": dt.date(2026, 11, day),
            "task": Task(id="ev:7000000001", name="Login page"),
            **fields,
        }
    )


@pytest.mark.parametrize(
    ("frequency", "interval"),
    [
        ("every_5_minutes", dt.timedelta(minutes=5)),
        ("hourly", dt.timedelta(hours=1)),
        ("daily", dt.timedelta(days=1)),
        ("realtime", SAFETY_NET),
    ],
)
def test_each_frequency_polls_at_its_interval(frequency: str, interval: dt.timedelta) -> None:
    settings = IntegrationSettings.model_validate({"frequency": frequency})
    assert poll_interval(settings) == interval


def test_realtime_is_polled_hourly_as_a_safety_net_for_lost_webhooks() -> None:
    assert dt.timedelta(hours=1) == SAFETY_NET


def test_a_poll_reports_new_and_changed_records_and_deletions_once() -> None:
    first = diff_window({}, [record(1, 1800), record(2, 600)], START, END)
    assert [r.id for r in first.changed] == [1, 2]
    assert first.deleted == []

    same = diff_window(first.now_seen, [record(1, 1800), record(2, 600)], START, END)
    assert (same.changed, same.deleted) == ([], [])

    edited = diff_window(same.now_seen, [record(1, 2700)], START, END)
    assert [(r.id, r.time) for r in edited.changed] == [(1, 2700)]
    assert edited.deleted == ["2"]
    assert set(edited.now_seen) == {"1"}


def test_records_outside_the_window_are_neither_deleted_nor_forgotten() -> None:
    old = Seen(dt.date(2026, 10, 1), "f" * 32, 1001, "ev:7000000001")
    diff = diff_window({"9": old}, [record(1, 1800)], START, END)
    assert diff.deleted == []
    assert diff.now_seen["9"] == old


def test_a_lock_or_comment_is_a_change_too() -> None:
    seen = diff_window({}, [record(1, 1800)], START, END).now_seen
    locked = diff_window(seen, [record(1, 1800, isLocked=True)], START, END)
    commented = diff_window(seen, [record(1, 1800, comment="T-42")], START, END)
    assert len(locked.changed) == len(commented.changed) == 1
