"""Connection health in the sync log: how a change reads, and its place among entry outcomes."""

import datetime as dt
import uuid
from typing import Any

from timebridge_reporting.domain.connection_health import as_log_row, merged, reason

T0 = dt.datetime(2026, 11, 21, 10, 2, tzinfo=dt.UTC)


def change(state: str, at: dt.datetime = T0, message: str | None = None) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4(),
        "workspace_id": "acme",
        "connection_id": "int_1",
        "integration_id": "int_1",
        "provider": "tracker-x",
        "state": state,
        "previous_state": "ok",
        "error_class": "authentication" if state == "needs_reauthorisation" else None,
        "message": message,
        "provider_response": None,
        "failures": 1,
        "changed_at": at,
    }


def test_a_refused_credential_reads_as_an_error_asking_to_reconnect() -> None:
    row = as_log_row(change("needs_reauthorisation", message="401 Invalid API key"))
    assert (row["kind"], row["status"], row["synced_at"]) == ("connection", "error", T0)
    assert row["reason"] == "tracker-x refused the credential: reconnect it (401 Invalid API key)"


def test_failing_polls_and_recovery_read_as_error_and_synced() -> None:
    assert as_log_row(change("failing"))["reason"] == "polling tracker-x fails"
    assert as_log_row(change("failing"))["status"] == "error"
    back = as_log_row(change("ok"))
    assert (back["status"], back["reason"]) == ("synced", "tracker-x connection works again")
    failing = {"state": "failing", "provider": "p", "message": "503"}
    assert reason(failing) == "polling p fails (503)"


def test_connection_changes_sit_among_entry_outcomes_newest_first_within_the_limit() -> None:
    entries = [
        {"event_id": "e1", "synced_at": T0 - dt.timedelta(minutes=5), "status": "synced"},
        {"event_id": "e2", "synced_at": T0 + dt.timedelta(minutes=5), "status": "error"},
    ]
    refused = as_log_row(change("needs_reauthorisation"))
    rows = merged(entries, [refused], limit=2)
    assert [(r["kind"], r["event_id"]) for r in rows] == [
        ("entry", "e2"),
        ("connection", refused["event_id"]),
    ]
