"""Xero Projects' translation: whole minutes, the work date in the organisation's zone (midnight,
DST), billable from the task, ids naming project and entry, the create body."""

import datetime as dt

import pytest
from timebridge_providers.kit.ports.entries import UnwritableEntryError
from timebridge_providers.kit.zones import zone_name
from timebridge_providers.xero_projects.client import idempotency_key, token_user
from timebridge_providers.xero_projects.translate import (
    entry_body,
    entry_fields,
    minutes_of,
    parse_record_id,
    record_id,
    same_entry,
)
from timebridge_providers.xero_projects.wire import TimeEntry

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import TimeEntryFields, UserRef

USER = "740add2a-a703-4b8a-a670-1093919c2040"
PROJECT = "b021e7cb-1903-4292-b48b-5b27b4271e3e"
TASK = "7be77337-feec-4458-bb1b-dbaa5a4aafce"


def entry(date_utc: str, minutes: int, description: str | None = "work") -> TimeEntry:
    return TimeEntry.model_validate(
        {
            "timeEntryId": "3cd35eca-704f-4bca-b258-236028ae8ed1",
            "userId": USER,
            "projectId": PROJECT,
            "taskId": TASK,
            "dateUtc": date_utc,
            "dateEnteredUtc": "2020-02-28T03:24:29.2215641Z",
            "duration": minutes,
            "description": description,
            "status": "ACTIVE",
        }
    )


def test_minutes_are_seconds_times_sixty_and_written_rounded() -> None:
    fields = entry_fields(entry("2020-02-27T15:00:00Z", 45), zone="UTC", billable=True)
    assert fields.duration_seconds == 2700
    assert fields.ended_at == dt.datetime(2020, 2, 27, 15, 45, tzinfo=dt.UTC)
    assert minutes_of(2700) == 45
    assert minutes_of(89) == 1
    assert minutes_of(90) == 2
    assert minutes_of(10) == 1, "Xero's least is one minute"
    assert minutes_of(10**7) == 59940, "Xero's most"


def test_an_entry_crossing_midnight_keeps_the_day_it_started_in_the_organisations_zone() -> None:
    # 23:30 in Auckland (NZDT, +13) on 5 November is 10:30 UTC the same day
    late = entry("2026-11-05T10:30:00Z", 120)
    assert entry_fields(late, zone="Pacific/Auckland", billable=True).date == dt.date(2026, 11, 5)
    # 00:30 UTC on 6 November is still the 5th in New York
    fields = entry_fields(
        entry("2026-11-06T00:30:00Z", 120), zone="America/New_York", billable=True
    )
    assert fields.date == dt.date(2026, 11, 5)
    assert fields.timezone == "America/New_York"
    assert fields.duration_seconds == 7200


def test_an_entry_across_a_dst_change_keeps_its_elapsed_minutes() -> None:
    # 00:30 GMT on 29 March 2026; London's clocks jump at 01:00 UTC, two real hours later the
    # wall clock shows 03:30 BST: the duration stays 120 minutes and the date the 29th
    fields = entry_fields(entry("2026-03-29T00:30:00Z", 120), zone="Europe/London", billable=True)
    assert fields.date == dt.date(2026, 3, 29)
    assert fields.duration_seconds == 7200
    assert fields.ended_at == dt.datetime(2026, 3, 29, 2, 30, tzinfo=dt.UTC)


def test_billable_comes_from_the_task_and_no_description_is_empty_notes() -> None:
    fields = entry_fields(entry("2020-02-27T15:00:00Z", 30, None), zone="UTC", billable=False)
    assert fields.billable is False
    assert fields.notes == ""


def test_an_unknown_zone_is_utc() -> None:
    assert zone_name(None) == "UTC"
    assert zone_name("Mars/Olympus") == "UTC"
    assert zone_name("Europe/London") == "Europe/London"


def fields_at(start: dt.datetime | None, day: dt.date, seconds: int = 5400) -> TimeEntryFields:
    return TimeEntryFields(
        user=UserRef(external_id=USER),
        project_external_id=PROJECT,
        task_external_id=TASK,
        date=day,
        started_at=start,
        duration_seconds=seconds,
        notes="notes",
        billable=True,
    )


def test_the_body_is_the_spec_shape_and_a_date_only_source_starts_at_nine_local() -> None:
    start = dt.datetime(2026, 11, 3, 8, 15, tzinfo=dt.UTC)
    body = entry_body(fields_at(start, dt.date(2026, 11, 3)), zone="Europe/London")
    assert body == {
        "userId": USER,
        "taskId": TASK,
        "dateUtc": "2026-11-03T08:15:00Z",
        "duration": 90,
        "description": "notes",
    }
    dated = entry_body(fields_at(None, dt.date(2026, 7, 1)), zone="Europe/London")
    assert dated["dateUtc"] == "2026-07-01T08:00:00Z", "09:00 BST"
    made = entry(body["dateUtc"], 90, "notes")
    assert same_entry(made, fields_at(start, dt.date(2026, 11, 3)), "Europe/London")
    assert not same_entry(made, fields_at(start, dt.date(2026, 11, 3), 3600), "Europe/London")


def test_an_entry_without_a_task_cannot_be_written() -> None:
    fields = fields_at(None, dt.date(2026, 7, 1)).model_copy(update={"task_external_id": None})
    with pytest.raises(InvalidMessageError):
        entry_body(fields, zone="UTC")


def test_record_ids_name_the_project_and_the_entry() -> None:
    assert parse_record_id(record_id(PROJECT, TASK)) == (PROJECT, TASK)
    for bad in ("no-colon", ":x", "x:", "a:b:c"):
        with pytest.raises(UnwritableEntryError):
            parse_record_id(bad)


def test_the_token_user_is_read_from_the_jwt_claims() -> None:
    payload = "eyJ4ZXJvX3VzZXJpZCI6ICJhYmMifQ"  # {"xero_userid": "abc"}
    assert token_user(f"h.{payload}.s") == "abc"
    assert token_user("not-a-jwt") is None
    assert token_user("h.!!!.s") is None
    assert len(idempotency_key("core:1:create")) == 64
    assert idempotency_key("core:1:create") == idempotency_key("core:1:create")
