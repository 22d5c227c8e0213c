"""Everhour records <-> canonical fields: the one translation ingest and the resolver share."""

import datetime as dt
import zoneinfo

import pytest
from timebridge_providers.everhour.client import Task, TimeRecord, User
from timebridge_providers.everhour.translate import (
    deleted_record_event,
    record_fields,
    record_to_event,
    record_values,
    zone_of,
)

_SEEN = dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)


def _record(**extra: object) -> TimeRecord:
    body: dict[str, object] = {
        "id": 77,
        "time": 5400,
        "user": 12,
        "date": "2026-03-01",
        "comment": "review",
        "task": {"id": "ev:9", "name": "Review", "projects": ["ev:1"], "unbillable": True},
        "history": [
            {"id": 1, "action": "TIME_ADDED", "time": 3600, "createdAt": "2026-03-01 09:00:00"},
            {"id": 2, "action": "TIME_ADDED", "time": 1800, "createdAt": "2026-03-01 17:30:00"},
        ],
    }
    body.update(extra)
    return TimeRecord.model_validate(body)


@pytest.mark.parametrize(
    ("offset", "zone"),
    [
        (None, "UTC"),
        (0, "UTC"),
        (2, "Etc/GMT-2"),  # UTC+2: the Etc sign is inverted
        (-5, "Etc/GMT+5"),
        (14, "Etc/GMT-14"),
        (-12, "Etc/GMT+12"),
        (5.5, "Asia/Kolkata"),
        (5.75, "Asia/Kathmandu"),
        (-9.5, "Pacific/Marquesas"),
        (15, "UTC"),  # no such zone: UTC rather than an invalid event
        (-13, "UTC"),
        (-3.5, "UTC"),  # Newfoundland keeps daylight saving: no fixed-offset zone
    ],
)
def test_a_users_offset_is_a_zone_with_that_offset_all_year(
    offset: float | None, zone: str
) -> None:
    assert zone_of(offset) == zone
    if offset is not None and zone != "UTC":
        info = zoneinfo.ZoneInfo(zone)
        offsets = {dt.datetime(2026, m, 1, tzinfo=info).utcoffset() for m in range(1, 13)}
        assert offsets == {dt.timedelta(hours=offset)}


def test_a_record_read_with_its_user_carries_the_users_zone_and_the_tasks_billing() -> None:
    user = User(id=12, name="Ann", email="ann@example.com", timezone=5.5)
    fields = record_fields(_record(), user=user)
    assert fields.timezone == "Asia/Kolkata"
    assert (fields.user.external_id, fields.user.email, fields.user.name) == (
        "12",
        "ann@example.com",
        "Ann",
    )
    assert (fields.project_external_id, fields.task_external_id) == ("ev:1", "ev:9")
    assert (fields.duration_seconds, fields.notes, fields.billable) == (5400, "review", False)
    assert fields.date == dt.date(2026, 3, 1)


def test_without_a_task_the_key_names_it_and_the_record_is_billable() -> None:
    fields = record_fields(_record(task=None, comment=None), task_id="ev:5")
    assert (fields.task_external_id, fields.project_external_id) == ("ev:5", None)
    assert (fields.billable, fields.notes, fields.timezone) == (True, "", "UTC")


def test_the_event_version_is_the_newest_history_entry_else_the_observation() -> None:
    task = Task(id="ev:9", name="Review", projects=("ev:1",))
    event = record_to_event(
        workspace_id="ws",
        integration_id="i1",
        record=_record(),
        task=task,
        user=User(id=12, name="Ann", timezone=-5),
        observed_at=_SEEN,
        observed_via="poll",
    )
    assert event.updated_at == dt.datetime(2026, 3, 1, 17, 30, tzinfo=dt.UTC)
    assert (event.source, event.external_id, event.deleted) == ("everhour", "77", False)
    assert event.entry.timezone == "Etc/GMT+5"
    assert event.entry.billable  # the task given (as read) wins over the embedded one
    bare = record_to_event(
        workspace_id="ws",
        integration_id="i1",
        record=_record(history=[], time=0),
        task=task,
        user=None,
        observed_at=_SEEN,
        observed_via="webhook",
    )
    assert (bare.updated_at, bare.deleted) == (_SEEN, True)


def test_a_record_gone_is_a_deleted_event_of_what_was_known() -> None:
    event = deleted_record_event(
        workspace_id="ws",
        integration_id="i1",
        record_id="77",
        user_id=12,
        task_id="ev:9",
        date=dt.date(2026, 3, 1),
        observed_at=_SEEN,
        observed_via="poll",
    )
    assert event.deleted
    assert event.entry.duration_seconds == 0
    assert (event.updated_at, event.entry.task_external_id) == (_SEEN, "ev:9")


def test_fields_written_back_are_time_comment_user_and_date() -> None:
    fields = record_fields(_record())
    assert record_values(fields) == {
        "seconds": 5400,
        "date": dt.date(2026, 3, 1),
        "user_id": 12,
        "comment": "review",
    }
