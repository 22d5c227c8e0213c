"""Clockify entries <-> TimeEntryFields: ISO 8601 durations, elapsed seconds across a DST change,
the work date in the user's zone across midnight, running timers, the body written."""

import datetime as dt

import pytest
from timebridge_providers.clockify.translate import entry_body, entry_fields, same_entry
from timebridge_providers.clockify.wire import TimeEntry

from timebridge_common.errors import InvalidMessageError


def _entry(start: str, end: str | None, duration: str | None) -> TimeEntry:
    interval = {"start": start, "end": end, "duration": duration}
    return TimeEntry.model_validate(
        {
            "id": "64a687e29ae1f428e7eb1001",
            "userId": "u1",
            "projectId": "p1",
            "taskId": "t1",
            "description": "work",
            "billable": True,
            "timeInterval": {k: v for k, v in interval.items() if v is not None},
        }
    )


def test_across_midnight_the_date_is_the_start_in_the_users_zone() -> None:
    entry = _entry("2026-11-05T22:30:00Z", "2026-11-06T00:30:00Z", "PT2H")
    fields = entry_fields(entry, zone="Europe/Berlin")
    assert fields.date == dt.date(2026, 11, 5)  # 23:30 in Berlin
    assert fields.duration_seconds == 7200
    assert entry_fields(entry, zone="Asia/Tokyo").date == dt.date(2026, 11, 6)


def test_across_a_dst_change_the_seconds_are_elapsed_time() -> None:
    # 01:30 CET to 04:30 CEST on 29 March 2026: two real hours.
    entry = _entry("2026-03-29T00:30:00Z", "2026-03-29T02:30:00Z", "PT2H")
    fields = entry_fields(entry, zone="Europe/Berlin")
    assert (fields.date, fields.duration_seconds) == (dt.date(2026, 3, 29), 7200)
    body = entry_body(fields, zone="Europe/Berlin")
    assert (body["start"], body["end"]) == ("2026-03-29T00:30:00Z", "2026-03-29T02:30:00Z")
    assert same_entry(entry, fields, "Europe/Berlin")


def test_a_running_timer_is_not_synced() -> None:
    with pytest.raises(InvalidMessageError, match="running"):
        entry_fields(_entry("2026-11-05T08:00:00Z", None, None), zone="UTC")


def test_the_body_names_every_field_put_replaces() -> None:
    fields = entry_fields(
        _entry("2026-11-05T08:00:00Z", "2026-11-05T09:30:00Z", "PT1H30M"), zone="UTC"
    )
    assert entry_body(fields, zone="UTC") == {
        "start": "2026-11-05T08:00:00Z",
        "end": "2026-11-05T09:30:00Z",
        "description": "work",
        "billable": True,
        "projectId": "p1",
        "taskId": "t1",
    }
