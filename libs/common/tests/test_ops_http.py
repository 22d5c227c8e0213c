"""The operations API's pure parts: what a letter shows, and which replay requests it takes."""

import pytest
from pydantic import ValidationError

from timebridge_common.kafka.dlt import REPLAYED_FROM, SourceRecord, dead_letter_headers
from timebridge_common.kafka.replay import DeadLetter
from timebridge_common.ops_http import ReplayBody, letter_json


def _letter() -> DeadLetter:
    failed = SourceRecord(
        "timebridge.time-entry-logged.v1",
        2,
        41,
        1_700_000_000_000,
        0,
        b"k",
        b"{}",
        {"ce_id": "e-1", "ce_type": "timebridge.TimeEntryLogged.v1", "ce_workspaceid": "acme"},
    )
    try:
        raise ValueError("duration_seconds: must be >= 0")
    except ValueError as exc:
        headers = dead_letter_headers(
            failed,
            group_id="timebridge-mapping",
            error=exc,
            reason="duration_seconds: must be >= 0",
            error_class="invalid",
            attempts=1,
        )
    headers[REPLAYED_FROM] = "timebridge.time-entry-logged.v1.DLT@0:3"
    return DeadLetter(
        SourceRecord(
            "timebridge.time-entry-logged.v1.DLT", 1, 7, 1_700_000_001_000, 0, b"k", b"{}", headers
        )
    )


def test_a_letter_shows_why_it_failed_but_not_the_stack_trace() -> None:
    shown = letter_json(_letter())
    assert shown["position"] == "1:7"
    assert shown["original_position"] == "2:41"
    assert shown["consumer_group"] == "timebridge-mapping"
    assert shown["reason"] == "duration_seconds: must be >= 0"
    assert shown["exception"] == "builtins.ValueError"
    assert shown["error_class"] == "invalid"
    assert shown["replayed_from"] == "timebridge.time-entry-logged.v1.DLT@0:3"
    assert "Traceback" not in repr(shown)


def test_replay_requests_name_positions_or_all() -> None:
    assert ReplayBody.model_validate({"letters": ["0:12", "3:0"]}).letters == ("0:12", "3:0")
    assert ReplayBody.model_validate({"all": True}).all
    for bad in ({"letters": ["12"]}, {"letters": ["a:b"]}, {"letters": ["0:1\n"]}, {"x": 1}):
        with pytest.raises(ValidationError):
            ReplayBody.model_validate(bad)
