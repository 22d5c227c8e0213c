"""Hubstaff's translation: a daily activity (seconds, the organization's date) as entry fields."""

import datetime as dt

from timebridge_providers.hubstaff.translate import activity_fields
from timebridge_providers.hubstaff.wire import DailyActivity, User


def _daily(tracked: int, billable: int, task: int | None = 33) -> DailyActivity:
    return DailyActivity.model_validate(
        {
            "id": 9,
            "date": "2026-03-29",
            "user_id": 7,
            "project_id": 22,
            "task_id": task,
            "tracked": tracked,
            "billable": billable,
            "updated_at": "2026-03-29T10:00:00Z",
        }
    )


def test_a_daily_activity_keeps_the_organizations_date_and_seconds() -> None:
    user = User(id=7, name="Ann Admin", email="ann@example.com", time_zone="Europe/Berlin")
    fields = activity_fields(_daily(7200, 7200), user)
    assert fields.date == dt.date(2026, 3, 29), "Hubstaff's date, not one recomputed from UTC"
    assert fields.duration_seconds == 7200
    assert fields.started_at is None
    assert (fields.user.external_id, fields.user.email) == ("7", "ann@example.com")
    assert (fields.project_external_id, fields.task_external_id) == ("22", "33")
    assert fields.billable is True


def test_billable_only_when_every_tracked_second_is() -> None:
    assert activity_fields(_daily(3600, 1800)).billable is False
    assert activity_fields(_daily(3600, 0)).billable is False


def test_deleted_time_is_zero_and_a_missing_task_is_none() -> None:
    fields = activity_fields(_daily(0, 0, task=None))
    assert fields.duration_seconds == 0
    assert fields.billable is False
    assert fields.task_external_id is None
