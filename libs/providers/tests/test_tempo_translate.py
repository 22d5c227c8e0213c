"""Tempo worklogs <-> TimeEntryFields: local start date and time in the author's zone, seconds,
billable seconds, and the look-up of a create whose answer was lost."""

import datetime as dt

import pytest
from timebridge_providers.kit.zones import zone_name
from timebridge_providers.tempo.translate import (
    entry_fields,
    local_start,
    same_worklog,
    worklog_body,
)
from timebridge_providers.tempo.wire import Worklog

from timebridge_common.errors import InvalidMessageError

BERLIN = "Europe/Berlin"


def worklog(**over: object) -> Worklog:
    data: dict[str, object] = {
        "tempoWorklogId": 7,
        "issue": {"id": 10001},
        "author": {"accountId": "acc-1"},
        "timeSpentSeconds": 7200,
        "billableSeconds": 7200,
        "startDate": "2026-11-05",
        "startTime": "23:30:00",
        "description": "late",
        "updatedAt": "2026-11-06T08:00:00Z",
    }
    data.update(over)
    return Worklog.model_validate(data)


def test_an_entry_crossing_midnight_keeps_its_start_date() -> None:
    fields = entry_fields(worklog(), zone=BERLIN)
    assert fields.date == dt.date(2026, 11, 5)
    assert fields.started_at == dt.datetime(2026, 11, 5, 22, 30, tzinfo=dt.UTC)
    assert fields.ended_at == dt.datetime(2026, 11, 6, 0, 30, tzinfo=dt.UTC)
    assert fields.timezone == BERLIN
    assert fields.task_external_id == "10001"
    assert fields.project_external_id is None


def test_an_entry_across_a_dst_change_keeps_its_elapsed_seconds() -> None:
    # 01:30 in Berlin on 2026-03-29: clocks jump 02:00 -> 03:00; two real hours end at 04:30.
    fields = entry_fields(worklog(startDate="2026-03-29", startTime="01:30:00"), zone=BERLIN)
    assert fields.duration_seconds == 7200
    assert fields.started_at == dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC)
    assert fields.ended_at == dt.datetime(2026, 3, 29, 2, 30, tzinfo=dt.UTC)
    body = worklog_body(fields, zone=BERLIN)
    assert (body["startDate"], body["startTime"]) == ("2026-03-29", "01:30:00")
    assert body["timeSpentSeconds"] == 7200


def test_billable_is_billable_seconds_above_zero_and_written_whole() -> None:
    assert entry_fields(worklog(billableSeconds=0), zone=BERLIN).billable is False
    assert entry_fields(worklog(billableSeconds=None), zone=BERLIN).billable is False
    fields = entry_fields(worklog(billableSeconds=60), zone=BERLIN)
    assert fields.billable is True
    assert worklog_body(fields, zone=BERLIN)["billableSeconds"] == 7200
    unbillable = fields.model_copy(update={"billable": False})
    assert worklog_body(unbillable, zone=BERLIN)["billableSeconds"] == 0


def test_the_body_round_trips_and_names_author_and_issue() -> None:
    fields = entry_fields(worklog(), zone=BERLIN)
    body = worklog_body(fields, zone=BERLIN)
    assert body == {
        "authorAccountId": "acc-1",
        "issueId": 10001,
        "startDate": "2026-11-05",
        "startTime": "23:30:00",
        "timeSpentSeconds": 7200,
        "billableSeconds": 7200,
        "description": "late",
    }
    assert same_worklog(worklog(), fields, BERLIN)
    assert not same_worklog(worklog(description="other"), fields, BERLIN)
    assert not same_worklog(worklog(billableSeconds=0), fields, BERLIN)


def test_a_date_only_entry_starts_at_nine_on_its_own_date() -> None:
    fields = entry_fields(worklog(), zone=BERLIN).model_copy(update={"started_at": None})
    assert local_start(fields, "Pacific/Auckland") == (dt.date(2026, 11, 5), dt.time(9))


def test_a_worklog_needs_a_numeric_issue() -> None:
    fields = entry_fields(worklog(), zone=BERLIN)
    with pytest.raises(InvalidMessageError):
        worklog_body(fields.model_copy(update={"task_external_id": None}), zone=BERLIN)
    with pytest.raises(InvalidMessageError):
        worklog_body(fields.model_copy(update={"task_external_id": "WEB-1"}), zone=BERLIN)


def test_an_unknown_zone_reads_as_utc() -> None:
    assert zone_name("Mars/Olympus") == "UTC"
    assert zone_name(None) == "UTC"
    assert zone_name(BERLIN) == BERLIN
