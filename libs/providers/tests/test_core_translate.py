"""Core entries <-> canonical fields: the one translation ingest and the resolver share."""

import datetime as dt

from timebridge_providers.core.client import TimeEntry, TimeEntryWrite
from timebridge_providers.core.translate import entry_fields, entry_to_event, writable


def _entry(**extra: object) -> TimeEntry:
    body: dict[str, object] = {
        "id": "te_1",
        "user": {"id": "u1", "email": "ann@example.com", "name": "Ann"},
        "project_id": "p1",
        "ticket_id": "t1",
        "date": "2026-03-28",
        "started_at": "2026-03-28T23:30:00Z",
        "duration_seconds": 5400,
        "notes": "night shift",
        "billable": False,
        "timezone": "Europe/Berlin",
        "updated_at": "2026-03-29T01:00:00Z",
        "version": 3,
    }
    body.update(extra)
    return TimeEntry.model_validate(body)


def test_an_entry_keeps_its_zone_and_its_end_is_derived_across_midnight() -> None:
    fields = entry_fields(_entry())
    assert fields.timezone == "Europe/Berlin"
    assert fields.started_at == dt.datetime(2026, 3, 28, 23, 30, tzinfo=dt.UTC)
    assert fields.ended_at == dt.datetime(2026, 3, 29, 1, 0, tzinfo=dt.UTC)
    assert fields.date == dt.date(2026, 3, 28)
    assert (fields.user.email, fields.task_external_id, fields.billable) == (
        "ann@example.com",
        "t1",
        False,
    )


def test_an_entry_without_a_start_has_no_end() -> None:
    fields = entry_fields(_entry(started_at=None))
    assert (fields.started_at, fields.ended_at) == (None, None)


def test_the_event_is_deleted_when_told_or_when_the_entry_says_so() -> None:
    live = entry_to_event("ws", _entry(), deleted=False, observed_via="poll")
    assert (live.source, live.external_id, live.deleted, live.integration_id) == (
        "core",
        "te_1",
        False,
        None,
    )
    assert live.updated_at == dt.datetime(2026, 3, 29, 1, tzinfo=dt.UTC)
    gone = _entry(deleted_at="2026-03-29T02:00:00Z")
    assert entry_to_event("ws", gone, deleted=False, observed_via="poll").deleted
    assert entry_to_event("ws", _entry(), deleted=True, observed_via="webhook").deleted


def test_written_back_fields_round_trip_through_core_write() -> None:
    entry = _entry()
    values = writable(entry_fields(entry))
    assert "ended_at" not in values
    write = TimeEntryWrite(**values)
    assert (write.timezone, write.started_at, write.duration_seconds) == (
        "Europe/Berlin",
        entry.started_at,
        5400,
    )
