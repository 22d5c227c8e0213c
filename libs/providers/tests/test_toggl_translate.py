"""Toggl entries <-> TimeEntryFields: seconds, the work date in the user's zone (midnight, DST),
running timers, the body written and the look-up of a create whose answer was lost."""

import datetime as dt

import pytest
from timebridge_providers.kit.zones import zone_name
from timebridge_providers.toggl.translate import (
    entry_body,
    entry_fields,
    is_synced,
    same_entry,
)
from timebridge_providers.toggl.wire import TimeEntry

from timebridge_common.errors import InvalidMessageError

UTC = dt.UTC


def _entry(start: dt.datetime, duration: int, **extra: object) -> TimeEntry:
    return TimeEntry.model_validate(
        {
            "id": 11,
            "workspace_id": 7,
            "user_id": 3,
            "project_id": 5,
            "task_id": 9,
            "start": start.isoformat(),
            "duration": duration,
            "description": "work",
            "billable": True,
            **extra,
        }
    )


def test_an_entry_crossing_midnight_keeps_the_day_it_started_in_the_users_zone() -> None:
    # 23:30 in Berlin on 5 November is 22:30 UTC; two hours run past local midnight.
    entry = _entry(dt.datetime(2026, 11, 5, 22, 30, tzinfo=UTC), 7200)
    fields = entry_fields(entry, zone="Europe/Berlin")
    assert fields.date == dt.date(2026, 11, 5)
    assert fields.duration_seconds == 7200
    assert fields.ended_at == dt.datetime(2026, 11, 6, 0, 30, tzinfo=UTC)


def test_the_date_is_read_in_the_users_zone_not_utc() -> None:
    # 00:30 on 6 November in Berlin is still 5 November in UTC.
    entry = _entry(dt.datetime(2026, 11, 5, 23, 30, tzinfo=UTC), 600)
    assert entry_fields(entry, zone="Europe/Berlin").date == dt.date(2026, 11, 6)
    assert entry_fields(entry, zone="UTC").date == dt.date(2026, 11, 5)


def test_an_entry_across_a_dst_change_keeps_its_elapsed_seconds() -> None:
    # 01:30 CET on 29 March 2026 (00:30 UTC); two real hours later Berlin shows 04:30 CEST.
    entry = _entry(dt.datetime(2026, 3, 29, 0, 30, tzinfo=UTC), 7200)
    fields = entry_fields(entry, zone="Europe/Berlin")
    assert fields.date == dt.date(2026, 3, 29)
    assert fields.duration_seconds == 7200
    body = entry_body(fields, zone="Europe/Berlin")
    assert body["start"] == "2026-03-29T00:30:00Z"
    assert body["stop"] == "2026-03-29T02:30:00Z"
    assert body["duration"] == 7200


def test_a_running_timer_is_not_synced() -> None:
    entry = _entry(dt.datetime(2026, 11, 5, 8, tzinfo=UTC), -1793952000)
    assert not is_synced(entry)
    with pytest.raises(InvalidMessageError, match="running"):
        entry_fields(entry, zone="UTC")


def test_fields_and_body_name_the_same_things() -> None:
    entry = _entry(dt.datetime(2026, 11, 5, 8, tzinfo=UTC), 5400, tags=["a"])
    fields = entry_fields(entry, zone="Europe/Berlin", email="ann@example.com")
    assert (fields.user.external_id, fields.user.email) == ("3", "ann@example.com")
    assert (fields.project_external_id, fields.task_external_id) == ("5", "9")
    assert (fields.notes, fields.billable, fields.timezone) == ("work", True, "Europe/Berlin")
    body = entry_body(fields, zone="Europe/Berlin")
    assert body == {
        "start": "2026-11-05T08:00:00Z",
        "stop": "2026-11-05T09:30:00Z",
        "duration": 5400,
        "description": "work",
        "billable": True,
        "project_id": 5,
        "task_id": 9,
        "user_id": 3,
    }
    assert "user_id" not in entry_body(fields, zone="UTC", with_user=False)
    assert same_entry(entry, fields, "Europe/Berlin")
    assert not same_entry(entry, fields.model_copy(update={"notes": "other"}), "Europe/Berlin")


def test_a_source_without_a_start_is_written_at_nine_in_the_users_zone() -> None:
    entry = _entry(dt.datetime(2026, 11, 5, 8, tzinfo=UTC), 5400)
    fields = entry_fields(entry, zone="UTC").model_copy(
        update={"started_at": None, "ended_at": None}
    )
    assert entry_body(fields, zone="America/New_York")["start"] == "2026-11-05T14:00:00Z"


def test_a_non_numeric_id_is_invalid_and_an_unknown_zone_reads_as_utc() -> None:
    entry = _entry(dt.datetime(2026, 11, 5, 8, tzinfo=UTC), 60)
    fields = entry_fields(entry, zone="UTC").model_copy(update={"project_external_id": "abc"})
    with pytest.raises(InvalidMessageError):
        entry_body(fields, zone="UTC")
    assert zone_name("Mars/Olympus") == "UTC"
    assert zone_name(None) == "UTC"
