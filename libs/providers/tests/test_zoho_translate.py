"""Zoho Projects' translation (HH:MM, MM-DD-YYYY dates kept as the work date, bill_status, ids)
and its token endpoint (client credentials in the form, refresh tokens that do not rotate,
``200 {"error": "invalid_code"}`` as a refusal)."""

import datetime as dt

import httpx
import pytest
from pydantic import SecretStr
from timebridge_providers.installed import registry
from timebridge_providers.kit.credentials import OAuthApp
from timebridge_providers.kit.ports.entries import UnwritableEntryError
from timebridge_providers.zoho.translate import (
    entry_fields,
    hhmm,
    log_params,
    minutes_of_hhmm,
    month_starts,
    parse_record_id,
    record_id,
    same_log,
)
from timebridge_providers.zoho.wire import TimeLog

from timebridge_common.errors import InvalidMessageError
from timebridge_common.outbound.oauth import ReauthorizationNeededError


def log(**changes: object) -> TimeLog:
    raw = {
        "id": 170000000123,
        "notes": "work",
        "log_date": "11-05-2026",
        "hours_display": "02:00",
        "total_minutes": 120,
        "owner_id": 2060758,
        "owner_name": "Ann",
        "bill_status": "Non Billable",
        "approval_status": "Pending",
        "task": {"id": 170000000009, "name": "Fix"},
    }
    return TimeLog.model_validate({**raw, **changes})


def test_hours_are_hh_mm_and_the_date_is_kept_as_logged() -> None:
    fields = entry_fields(log(), "170000000001", zone="Asia/Kolkata")
    assert fields.duration_seconds == 7200
    assert fields.date == dt.date(2026, 11, 5), "an entry crossing midnight keeps its day"
    assert fields.billable is False
    assert fields.user.external_id == "2060758"
    assert fields.task_external_id == "170000000009"
    assert fields.timezone == "Asia/Kolkata"
    assert hhmm(5400) == "01:30"
    assert hhmm(90000) == "25:00"
    assert hhmm(20) == "00:01", "Zoho's least is a minute"
    assert minutes_of_hhmm("1:05") == 65
    for bad in ("1.5", "01:60", "ab:cd", ""):
        with pytest.raises(InvalidMessageError):
            minutes_of_hhmm(bad)
    without_total = log(total_minutes=None, hours_display="03:15")
    assert entry_fields(without_total, "1", zone="UTC").duration_seconds == 11700


def test_a_log_across_a_dst_change_keeps_its_elapsed_minutes_and_date() -> None:
    # Logged on 29 March 2026 in a Berlin portal (clocks jump that night): Zoho keeps a date and
    # minutes, no wall-clock times, so two hours stay two hours on the 29th
    fields = entry_fields(log(log_date="03-29-2026"), "1", zone="Europe/Berlin")
    assert fields.date == dt.date(2026, 3, 29)
    assert fields.duration_seconds == 7200


def test_the_log_parameters_and_the_look_up_of_a_lost_create() -> None:
    fields = entry_fields(log(bill_status="Billable"), "1", zone="UTC")
    assert log_params(fields) == {
        "date": "11-05-2026",
        "bill_status": "Billable",
        "hours": "02:00",
        "owner": "2060758",
        "notes": "work",
    }
    assert same_log(log(), fields)
    assert not same_log(log(notes="other"), fields)


def test_record_ids_and_month_views() -> None:
    assert parse_record_id(record_id("1", "2", "3")) == ("1", "2", "3")
    for bad in ("1:2", "a:b:c", "1:2:3:4"):
        with pytest.raises(UnwritableEntryError):
            parse_record_id(bad)
    assert month_starts(dt.date(2026, 10, 25), dt.date(2026, 12, 2)) == [
        dt.date(2026, 10, 1),
        dt.date(2026, 11, 1),
        dt.date(2026, 12, 1),
    ]


async def _endpoint(answer: dict[str, object], sent: list[dict[str, str]]) -> object:
    def reply(request: httpx.Request) -> httpx.Response:
        sent.append(dict(httpx.QueryParams(request.content.decode())))
        return httpx.Response(200, json=answer)

    http = httpx.AsyncClient(transport=httpx.MockTransport(reply))
    oauth = registry().get("zoho").oauth
    assert oauth is not None
    app = OAuthApp("zoho-client", SecretStr("zoho-secret"))
    return oauth.open("zoho", app, http)


async def test_a_refresh_keeps_the_refresh_token_zoho_does_not_rotate() -> None:
    sent: list[dict[str, str]] = []
    answer = {"access_token": "1000.new", "expires_in": 3600, "api_domain": "https://x"}
    endpoint = await _endpoint(answer, sent)
    tokens = await endpoint.refresh("1000.refresh")  # type: ignore[attr-defined]
    assert tokens.access_token == "1000.new"
    assert tokens.refresh_token == "1000.refresh"
    assert sent[0]["client_id"] == "zoho-client"
    assert sent[0]["client_secret"] == "zoho-secret"
    assert sent[0]["grant_type"] == "refresh_token"


async def test_invalid_code_in_a_200_means_connect_again() -> None:
    endpoint = await _endpoint({"error": "invalid_code"}, [])
    with pytest.raises(ReauthorizationNeededError):
        await endpoint.refresh("1000.revoked")  # type: ignore[attr-defined]
