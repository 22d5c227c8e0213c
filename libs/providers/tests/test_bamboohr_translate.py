"""BambooHR time off to the kit's requests: statuses, units, per-day amounts, the cursor."""

import datetime as dt
from decimal import Decimal

import httpx
import pytest
from timebridge_providers.bamboohr.client import BambooHrClient, basic_auth, company_url
from timebridge_providers.bamboohr.time_off import BambooHrTimeOff, per_day, status_of, translate
from timebridge_providers.bamboohr.wire import TimeOffRequest

RAW = {
    "id": "1342",
    "employeeId": 5,
    "name": "Ann Admin",
    "start": "2026-11-23",
    "end": "2026-11-24",
    "created": "2026-11-01",
    "status": {"status": "approved", "lastChanged": "2026-11-02", "lastChangedByUserId": "1"},
    "type": {"id": "78", "name": "Vacation", "icon": "palm-trees"},
    "amount": {"unit": "hours", "amount": "12"},
    "dates": {"2026-11-23": "8", "2026-11-24": "4"},
}


def test_strings_and_numbers_are_read_alike_and_days_kept() -> None:
    request = translate(TimeOffRequest.model_validate(RAW), {"5": "ann@example.com"})
    assert (request.external_id, request.employee_id, request.email) == (
        "1342",
        "5",
        "ann@example.com",
    )
    assert request.status == "approved"
    assert request.unit == "hours"
    assert request.amount == Decimal(12)
    assert request.type_name == "Vacation"
    assert request.days == {dt.date(2026, 11, 23): Decimal(8), dt.date(2026, 11, 24): Decimal(4)}
    assert request.changed_on == dt.date(2026, 11, 2)


def test_without_dates_the_total_is_spread_over_weekdays() -> None:
    raw = {**RAW, "dates": {}, "start": "2026-11-27", "end": "2026-11-30"}  # Fri..Mon
    raw["amount"] = {"unit": "days", "amount": "2"}
    days = per_day(TimeOffRequest.model_validate(raw))
    assert days == {dt.date(2026, 11, 27): Decimal(1), dt.date(2026, 11, 30): Decimal(1)}


@pytest.mark.parametrize(
    ("given", "status"),
    [
        ("approved", "approved"),
        ("canceled", "canceled"),
        ("superceded", "superseded"),
        ("denied", "denied"),
        ("something new", "requested"),
    ],
)
def test_statuses(given: str, status: str) -> None:
    assert status_of(given) == status


def test_company_url_and_basic_auth() -> None:
    assert company_url("https://{company_domain}.bamboohr.com", "acme") == (
        "https://acme.bamboohr.com"
    )
    assert basic_auth("key") == "Basic a2V5Ong="  # base64("key:x")


async def test_changes_keep_what_changed_since_the_cursor_day() -> None:
    older = {**RAW, "id": "1", "status": {"status": "approved", "lastChanged": "2026-11-01"}}
    newer = {**RAW, "id": "2", "status": {"status": "canceled", "lastChanged": "2026-11-20"}}
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/directory"):
            return httpx.Response(200, json={"employees": [{"id": "5", "workEmail": "a@x.io"}]})
        return httpx.Response(200, json=[older, newer])

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    source = BambooHrTimeOff(BambooHrClient("http://bamboo.test", "key", "acme", http=http))
    now = dt.datetime(2026, 11, 21, 9, tzinfo=dt.UTC)
    page = await source.changes("2026-11-19", now=now, lookback=dt.timedelta(days=31))
    assert [r.external_id for r in page.requests] == ["2"]
    assert page.requests[0].status == "canceled"
    assert page.requests[0].email == "a@x.io"
    assert page.cursor == "2026-11-20"
    assert seen[0].url.params["start"] == "2026-10-21"
    assert seen[0].headers["accept"] == "application/json"
    everything = await source.changes(None, now=now, lookback=dt.timedelta(days=31))
    assert [r.external_id for r in everything.requests] == ["1", "2"]
