"""ClickUp's translation (milliseconds, the work date in the user's zone, running timers) and its
webhook intake (hints, ``X-Signature``)."""

import datetime as dt
import json
from collections.abc import Mapping

import pytest
from timebridge_providers.clickup.translate import create_body, entry_fields, update_body
from timebridge_providers.clickup.webhooks import ClickUpWebhooks, sign, verify_signature
from timebridge_providers.clickup.wire import TimeEntry
from timebridge_providers.kit.ports.observe import RefusedError

from timebridge_common.errors import InvalidMessageError


def _entry(start: dt.datetime, duration_ms: int, **more: object) -> TimeEntry:
    return TimeEntry.model_validate(
        {
            "id": "4242",
            "task": {"id": "86abc", "name": "Fix"},
            "wid": "9000001",
            "user": {"id": 7, "username": "Ann", "email": "ann@example.com"},
            "billable": True,
            "start": str(int(start.timestamp() * 1000)),
            "end": str(int(start.timestamp() * 1000) + max(duration_ms, 0)),
            "duration": str(duration_ms),
            "description": "notes",
            "at": "1790000000000",
            "task_location": {"list_id": 901, "space_id": 5},
            **more,
        }
    )


def test_an_entry_across_midnight_keeps_the_day_it_started_in_the_users_zone() -> None:
    # 23:30 in Berlin on 5 November is 22:30 UTC: two hours run past midnight
    start = dt.datetime(2026, 11, 5, 22, 30, tzinfo=dt.UTC)
    fields = entry_fields(_entry(start, 2 * 3_600_000), "Europe/Berlin")
    assert fields.date == dt.date(2026, 11, 5)
    assert fields.duration_seconds == 7200
    assert fields.ended_at == start + dt.timedelta(hours=2)
    assert fields.project_external_id == "901"
    assert fields.task_external_id == "86abc"
    assert fields.billable is True
    # the same instant read in Tokyo is already 6 November
    assert entry_fields(_entry(start, 60_000), "Asia/Tokyo").date == dt.date(2026, 11, 6)


def test_an_entry_across_a_dst_change_keeps_its_elapsed_duration() -> None:
    # 01:30 CET on 29 March 2026; two real hours later Berlin's wall clock shows 04:30
    start = dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC)
    fields = entry_fields(_entry(start, 7_200_000), "Europe/Berlin")
    assert fields.date == dt.date(2026, 3, 29)
    assert fields.duration_seconds == 7200
    body = create_body(fields, "Europe/Berlin")
    assert body["start"] == int(start.timestamp() * 1000)
    assert body["duration"] == 7_200_000
    update = update_body(fields, "Europe/Berlin")
    assert update["end"] - update["start"] == 7_200_000
    assert update["tags"] == []


def test_milliseconds_round_to_whole_seconds_and_back() -> None:
    start = dt.datetime(2026, 11, 2, 8, tzinfo=dt.UTC)
    fields = entry_fields(_entry(start, 1_499), "UTC")
    assert fields.duration_seconds == 1
    assert create_body(fields, "UTC")["duration"] == 1000


def test_a_running_timer_is_not_translated() -> None:
    start = dt.datetime(2026, 11, 2, 8, tzinfo=dt.UTC)
    running = _entry(start, -int(start.timestamp() * 1000))
    assert running.running
    with pytest.raises(InvalidMessageError, match="running timer"):
        entry_fields(running, "UTC")


def test_a_user_id_that_is_not_a_number_is_refused() -> None:
    fields = entry_fields(_entry(dt.datetime(2026, 11, 2, 8, tzinfo=dt.UTC), 60_000), "UTC")
    other = fields.model_copy(update={"user": fields.user.model_copy(update={"external_id": "x"})})
    with pytest.raises(InvalidMessageError, match="number"):
        create_body(other, "UTC")


def _delivery(after: Mapping[str, object] | None, before: Mapping[str, object] | None) -> bytes:
    return json.dumps(
        {
            "event": "taskTimeTrackedUpdated",
            "history_items": [{"user": {"id": 7}, "before": before, "after": after}],
            "task_id": "86abc",
            "data": {"description": "Time Tracking Created", "interval_id": "4242"},
            "webhook_id": "hook",
        }
    ).encode()


def test_a_delivery_is_a_hint_naming_the_interval_user_task_and_date() -> None:
    period = {"id": "4242", "start": "1793921400000", "end": "1793928600000", "time": "7200000"}
    hint = ClickUpWebhooks().hint(_delivery(period, None))
    assert (hint.external_id, hint.user_id, hint.task_id) == ("4242", "7", "86abc")
    assert hint.date == dt.datetime.fromtimestamp(1793921400, dt.UTC).date()
    deleted = ClickUpWebhooks().hint(_delivery(None, period))
    assert deleted.external_id == "4242"


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"event": "taskUpdated"}', _delivery({"id": "1"}, None)],
    ids=["not-json", "array", "other-event", "no-start"],
)
def test_a_delivery_naming_no_interval_is_refused(body: bytes) -> None:
    with pytest.raises(RefusedError) as refused:
        ClickUpWebhooks().hint(body)
    assert refused.value.status in {400, 422}


def test_x_signature_is_the_hex_hmac_sha256_of_the_body() -> None:
    body = _delivery(None, {"id": "1", "start": "1"})
    good = sign("s3cret", body)
    verify_signature("s3cret", good, body)
    verify_signature("s3cret", good.upper(), body)
    for secret, header, signed in [
        ("other", good, body),
        ("s3cret", good, body + b" "),
        ("s3cret", None, body),
        ("s3cret", "\u00e9" * 10, body),
    ]:
        with pytest.raises(RefusedError) as refused:
            verify_signature(secret, header, signed)
        assert refused.value.status == 401
