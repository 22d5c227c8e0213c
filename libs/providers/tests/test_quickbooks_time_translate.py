"""QuickBooks Time translation: seconds both ways, the work date in the source zone across
midnight and a DST change, regular (start/end with offsets) vs manual (date + duration)."""

import datetime as dt

import pytest
from timebridge_providers.kit.zones import zone_name
from timebridge_providers.quickbooks_time.translate import (
    entry_fields,
    same_timesheet,
    timesheet_body,
)
from timebridge_providers.quickbooks_time.wire import Timesheet

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import TimeEntryFields, UserRef


def _sheet(**changes: object) -> Timesheet:
    base = {
        "id": 135288482, "user_id": 1242515, "jobcode_id": 17288283, "type": "regular",
        "start": "2018-07-16T09:04:00-06:00", "end": "2018-07-16T15:57:00-06:00",
        "duration": 24780, "date": "2018-07-16", "notes": "n",
    }  # fmt: skip
    return Timesheet.model_validate({**base, **changes})


def _fields(start: dt.datetime | None, seconds: int, date: dt.date) -> TimeEntryFields:
    return TimeEntryFields(
        user=UserRef(external_id="1242515"),
        task_external_id="17288283",
        date=date,
        started_at=start,
        duration_seconds=seconds,
        notes="n",
        billable=True,
    )


def test_a_regular_timesheet_reads_its_offset_and_seconds() -> None:
    fields = entry_fields(_sheet(), zone="America/Denver")
    assert fields.started_at == dt.datetime(2018, 7, 16, 15, 4, tzinfo=dt.UTC)
    assert fields.ended_at == fields.started_at + dt.timedelta(seconds=24780)
    assert (fields.date, fields.duration_seconds, fields.task_external_id) == (
        dt.date(2018, 7, 16), 24780, "17288283",
    )  # fmt: skip
    assert fields.project_external_id is None
    assert fields.timezone == "America/Denver"


def test_across_midnight_the_work_date_is_the_start_day_in_the_source_zone() -> None:
    # 23:30 in New York on Nov 5 is 04:30 UTC on Nov 6: the date stays Nov 5.
    sheet = _sheet(start="2026-11-05T23:30:00-05:00", end="2026-11-06T01:30:00-05:00",
                   duration=7200, date="2026-11-05")  # fmt: skip
    fields = entry_fields(sheet, zone="America/New_York")
    assert fields.date == dt.date(2026, 11, 5)
    body = timesheet_body(fields, zone="America/New_York")
    assert body["start"] == "2026-11-05T23:30:00-05:00"
    assert body["end"] == "2026-11-06T01:30:00-05:00"


def test_across_a_dst_change_the_end_has_its_own_offset_and_the_seconds_are_elapsed() -> None:
    # 01:30 EST on 2026-03-08 plus two real hours is 04:30 EDT.
    start = dt.datetime(2026, 3, 8, 6, 30, tzinfo=dt.UTC)
    body = timesheet_body(_fields(start, 7200, dt.date(2026, 3, 8)), zone="America/New_York")
    assert body["start"] == "2026-03-08T01:30:00-05:00"
    assert body["end"] == "2026-03-08T04:30:00-04:00"
    sheet = _sheet(start=body["start"], end=body["end"], duration=7200, date="2026-03-08")
    assert entry_fields(sheet, zone="America/New_York").duration_seconds == 7200


def test_an_entry_without_a_start_is_written_manual() -> None:
    body = timesheet_body(_fields(None, 5400, dt.date(2026, 11, 2)), zone="UTC")
    assert body == {"user_id": 1242515, "jobcode_id": 17288283, "notes": "n",
                    "type": "manual", "date": "2026-11-02", "duration": 5400}  # fmt: skip
    manual = _sheet(type="manual", start="", end="", duration=5400, date="2026-11-02")
    fields = entry_fields(manual, zone="UTC")
    assert (fields.started_at, fields.ended_at, fields.duration_seconds) == (None, None, 5400)


def test_a_create_is_recognised_for_the_look_up() -> None:
    sheet = _sheet()
    fields = entry_fields(sheet, zone="America/Denver")
    assert same_timesheet(sheet, fields)
    assert not same_timesheet(sheet, fields.model_copy(update={"notes": "other"}))
    assert not same_timesheet(sheet, fields.model_copy(update={"duration_seconds": 60}))


def test_ids_must_be_numbers_and_a_start_must_carry_an_offset() -> None:
    fields = _fields(None, 60, dt.date(2026, 11, 2))
    with pytest.raises(InvalidMessageError):
        timesheet_body(fields.model_copy(update={"task_external_id": None}), zone="UTC")
    with pytest.raises(InvalidMessageError):
        entry_fields(_sheet(start="2018-07-16T09:04:00"), zone="UTC")


def test_an_unknown_zone_is_utc() -> None:
    assert zone_name("Mars/Olympus") == "UTC"
    assert zone_name(None) == "UTC"
    assert zone_name("Europe/Berlin") == "Europe/Berlin"
