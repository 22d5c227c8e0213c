"""Wrike timelogs <-> TimeEntryFields: decimal hours, the tracked date kept as the work date,
billing type, and the look-up of a create whose answer was lost."""

import datetime as dt

from timebridge_providers.wrike.translate import (
    date_range,
    entry_fields,
    hours_of,
    same_timelog,
    seconds_of,
    timelog_params,
    updated_since,
)
from timebridge_providers.wrike.wire import Timelog

from timebridge_common.events import TimeEntryFields, UserRef


def timelog(**over: object) -> Timelog:
    data: dict[str, object] = {
        "id": "IEALOG1",
        "taskId": "IEATASK1",
        "userId": "KUAUSER1",
        "hours": 1.5,
        "trackedDate": "2026-11-05",
        "comment": "late",
        "billingType": "Billable",
        "updatedDate": "2026-11-06T08:00:00Z",
    }
    data.update(over)
    return Timelog.model_validate(data)


def test_decimal_hours_round_trip_to_the_second() -> None:
    for seconds in (1, 59, 600, 1000, 2700, 5400, 7200, 86399):
        assert seconds_of(float(hours_of(seconds))) == seconds, seconds
    assert hours_of(5400) == "1.5"
    assert hours_of(600) == "0.1667"


def test_fields_of_a_timelog() -> None:
    fields = entry_fields(timelog())
    assert fields.duration_seconds == 5400
    assert fields.date == dt.date(2026, 11, 5)
    assert fields.task_external_id == "IEATASK1"
    assert fields.user.external_id == "KUAUSER1"
    assert fields.billable is True
    assert fields.started_at is None
    assert fields.project_external_id is None
    assert entry_fields(timelog(billingType="NonBillable")).billable is False


def _late_entry() -> TimeEntryFields:
    # 23:30 in Berlin on 5 November for two hours: ends on the 6th, stays on the 5th.
    start = dt.datetime(2026, 11, 5, 22, 30, tzinfo=dt.UTC)
    return TimeEntryFields(
        user=UserRef(external_id="KUAUSER1"),
        task_external_id="IEATASK1",
        date=dt.date(2026, 11, 5),
        started_at=start,
        ended_at=start + dt.timedelta(hours=2),
        timezone="Europe/Berlin",
        duration_seconds=7200,
        notes="late",
        billable=False,
    )


def test_an_entry_crossing_midnight_is_tracked_on_its_own_date() -> None:
    params = timelog_params(_late_entry())
    assert params["trackedDate"] == "2026-11-05"
    assert params["hours"] == "2"
    assert params["billingType"] == "NonBillable"
    assert params["comment"] == "late"


def test_the_lost_create_is_recognised_and_a_different_one_is_not() -> None:
    fields = _late_entry()
    same = timelog(hours=2.0, billingType="NonBillable")
    assert same_timelog(same, fields)
    assert not same_timelog(timelog(hours=2.0), fields)  # billable differs
    assert not same_timelog(same.model_copy(update={"trackedDate": dt.date(2026, 11, 6)}), fields)


def test_ranges_are_wrikes_json() -> None:
    assert date_range(dt.date(2026, 1, 1), dt.date(2026, 1, 2)) == (
        '{"start":"2026-01-01","end":"2026-01-02"}'
    )
    moment = dt.datetime(2026, 1, 1, 10, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert updated_since(moment) == '{"start":"2026-01-01T09:00:00Z"}'
