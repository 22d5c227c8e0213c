"""The conformance suite (``timebridge_providers.kit.conformance``) for QuickBooks Time against
its sandbox, in-process; plus what QuickBooks Time adds: ``more`` pages followed, approvals and
locks refused on every write, a running timer not synced until it stops, tombstones seen however
old, manual timesheets (date + duration), the per-item and whole-request error shapes, and every
request form of the Postman collection's timesheet, user, jobcode and report folders accepted.

The :class:`QuickBooksTimeControl` is a QuickBooks Time admin working through the API with their
own token. The collection carries no example answers, so the sandbox's answers are checked
against the documented field names here.
"""

import datetime as dt
import json
import zoneinfo
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from timebridge_providers.installed import registry
from timebridge_providers.kit.conformance import SCENARIOS, Rig, Scenario, Work
from timebridge_providers.kit.conformance.running import Polled, answering_client, run
from timebridge_providers.kit.credentials import OAuthApp
from timebridge_providers.kit.ports.entries import EntryLockedError, Slot, Write
from timebridge_providers.quickbooks_time.client import QuickBooksTimeClient

from timebridge_common.events import TimeEntryFields
from timebridge_common.outbound.http import AuthenticationError, ProviderError
from timebridge_common.outbound.oauth import ReauthorizationNeededError
from timebridge_sandboxes.quickbooks_time import (
    QuickBooksTimeState,
    create_quickbooks_time_sandbox,
    demo_quickbooks_time,
)
from timebridge_sandboxes.testing import TimeoutTransport

TIMEOUT_S = 1.0
BASE = "http://qbt.test"
API = f"{BASE}/api/v1"
ZONE = "America/New_York"
COLLECTION = (
    Path(__file__).resolve().parents[2].parent
    / "shared/provider-specs/quickbooks-time-v1.postman_collection.json"
)


@dataclass
class QuickBooksTimeControl(Polled):
    state: QuickBooksTimeState
    http: httpx.AsyncClient
    token: str

    async def call(self, method: str, path: str, body: Any = None, **params: str) -> Any:
        answer = await self.http.request(
            method, f"{API}{path}", json=body, params=params,
            headers={"Authorization": f"Bearer {self.token}"},
        )  # fmt: skip
        assert answer.is_success, answer.text
        return answer.json()

    async def write(self, method: str, item: dict[str, Any]) -> dict[str, Any]:
        answer = await self.call(method, "/timesheets", {"data": [item]})
        result: dict[str, Any] = answer["results"]["timesheets"]["1"]
        assert result["_status_code"] == 200, result
        return result

    def count(self) -> int:
        return len(self.state.timesheets)

    async def add(self, fields: TimeEntryFields) -> str:
        assert fields.started_at is not None
        zone = zoneinfo.ZoneInfo(ZONE)
        start = fields.started_at.astimezone(zone)
        end = (fields.started_at + dt.timedelta(seconds=fields.duration_seconds)).astimezone(zone)
        item = {
            "user_id": int(fields.user.external_id), "jobcode_id": fields.task_external_id,
            "type": "regular", "start": start.isoformat(), "end": end.isoformat(),
            "notes": fields.notes,
        }  # fmt: skip
        return str((await self.write("POST", item))["id"])

    async def edit(self, external_id: str, notes: str) -> None:
        await self.write("PUT", {"id": int(external_id), "notes": notes})

    async def remove(self, external_id: str) -> None:
        answer = await self.call("DELETE", "/timesheets", ids=external_id)
        assert answer["results"]["timesheets"]["1"]["_status_code"] == 200

    async def lock(self, external_id: str) -> None:
        """The manager approves the user's time up to the timesheet's date."""
        sheet = self.state.timesheets[int(external_id)]
        item = {"id": sheet.user_id, "approved_to": sheet.date.isoformat()}
        answer = await self.call("PUT", "/users", {"data": [item]})
        assert answer["results"]["users"]["1"]["_status_code"] == 200

    def limit_pages(self, size: int) -> bool:
        self.state.page_cap = size
        return True

    no_webhooks = "QuickBooks Time documents no timesheet webhooks"


@dataclass
class Built:
    rig: Rig
    state: QuickBooksTimeState
    http: httpx.AsyncClient
    control: QuickBooksTimeControl


async def quickbooks_time_rig() -> Built:
    state = demo_quickbooks_time("conformance-qbt-token", "conformance-qbt-member")
    app = create_quickbooks_time_sandbox(state)
    answers: list[int] = []

    http = answering_client(TimeoutTransport(app, TIMEOUT_S), answers)
    control = QuickBooksTimeControl(state, http, "conformance-qbt-token")
    rig = Rig(
        provider=registry().get("quickbooks_time"),
        base_url=API,
        sandbox_url=BASE,
        credential=control.token,
        http=http,
        control=control,
        work=Work("1242515", "ann@example.com", "17288283", "17288284", ZONE),
        extra={"timezone": ZONE},
        answers=answers,
    )
    return Built(rig, state, http, control)


@pytest.fixture
async def built() -> AsyncIterator[Built]:
    made = await quickbooks_time_rig()
    yield made
    await made.http.aclose()


NOT_OFFERED = {"webhook_signatures": "no timesheet webhooks documented: polled"}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_quickbooks_time_conformance(built: Built, scenario: Scenario) -> None:
    if reason := await run(scenario, built.rig, NOT_OFFERED):
        pytest.skip(reason)


async def _store(built: Built) -> Any:
    assert built.rig.provider.entries is not None
    return built.rig.provider.entries(built.rig.session())


async def test_pages_follow_more(built: Built) -> None:
    rig = built.rig
    for n in range(5):
        await rig.control.add(rig.fields(dt.date(2026, 11, 2 + n), dt.time(9), 600, f"p{n}"))
    built.state.page_cap = 2
    client = QuickBooksTimeClient(API, rig.credential, http=rig.http)
    seen = [t.id async for t in client.timesheets(start_date="2026-11-01", end_date="2026-11-30")]
    assert len(set(seen)) == 5
    assert rig.answers[-3:] == [200, 200, 200], "three pages of two"


async def test_a_wrong_token_is_an_authentication_error_in_its_shape(built: Built) -> None:
    client = QuickBooksTimeClient(API, "not-a-token", http=built.rig.http)
    with pytest.raises(AuthenticationError) as refused:
        await client.timesheet(1)
    assert json.loads(refused.value.body) == {"error": {"code": 401, "message": "Unauthorized"}}


async def test_a_running_timer_is_not_synced_until_it_stops(built: Built) -> None:
    rig = built.rig
    assert rig.provider.observe is not None
    observer = rig.provider.observe(rig.session())
    now = dt.datetime.now(dt.UTC)
    first = await observer.changes(None, now=now, lookback=dt.timedelta(days=2))
    start = (now - dt.timedelta(minutes=30)).replace(microsecond=0)
    running = {"user_id": 1242515, "jobcode_id": 17288284, "type": "regular",
               "start": start.isoformat(), "notes": "timer"}  # fmt: skip
    timesheet = (await built.control.write("POST", running))["id"]
    assert built.state.timesheets[timesheet].on_the_clock
    second = await observer.changes(first.cursor, now=now, lookback=dt.timedelta(days=2))
    assert str(timesheet) not in {c.external_id for c in second.changes}, "running: not synced"
    end = start + dt.timedelta(minutes=25)
    await built.control.write("PUT", {"id": timesheet, "end": end.isoformat()})
    third = await observer.changes(second.cursor, now=now, lookback=dt.timedelta(days=2))
    [change] = [c for c in third.changes if c.external_id == str(timesheet)]
    assert change.fields.duration_seconds == 1500
    assert change.fields.started_at == start


async def test_a_deletion_older_than_any_window_is_seen_in_the_tombstones(built: Built) -> None:
    rig = built.rig
    assert rig.provider.observe is not None
    observer = rig.provider.observe(rig.session())
    now = dt.datetime.now(dt.UTC)
    old = await rig.control.add(rig.fields(dt.date(2025, 1, 6), dt.time(9), 600, "old"))
    first = await observer.changes(None, now=now, lookback=dt.timedelta(days=1))
    await rig.control.remove(old)
    second = await observer.changes(first.cursor, now=now, lookback=dt.timedelta(days=1))
    [gone] = [c for c in second.changes if c.external_id == old]
    assert gone.deleted
    assert gone.fields.date == dt.date(2025, 1, 6)
    third = await observer.changes(second.cursor, now=now, lookback=dt.timedelta(days=1))
    assert old not in {c.external_id for c in third.changes}, "reported once"


async def test_a_locked_timesheet_is_not_deleted(built: Built) -> None:
    rig = built.rig
    store = await _store(built)
    fields = rig.fields(dt.date(2026, 11, 10), dt.time(13), 2700, "locked")
    slot = rig.slot(fields)
    target = await store.write(slot, Write("create", fields, None, slot.key))
    (await rig.http.post(f"{BASE}/_sandbox/timesheets/{target}/lock")).raise_for_status()
    with pytest.raises(EntryLockedError) as refused:
        await store.write(Slot(slot.system, slot.key, target), Write("delete", None, None, "d"))
    assert "locked" in refused.value.body
    assert int(target) in built.state.timesheets


async def test_a_manual_timesheet_is_a_date_and_seconds(built: Built) -> None:
    rig = built.rig
    store = await _store(built)
    fields = rig.fields(dt.date(2026, 11, 11), dt.time(9), 5400, "manual")
    fields = fields.model_copy(update={"started_at": None, "ended_at": None})
    slot = rig.slot(fields)
    target = await store.write(slot, Write("create", fields, None, slot.key))
    sheet = built.state.timesheets[int(target)]
    assert (sheet.type, sheet.date, sheet.seconds, sheet.start) == (
        "manual", dt.date(2026, 11, 11), 5400, None,
    )  # fmt: skip
    read = await store.read(Slot(slot.system, slot.key, target))
    assert read is not None
    assert (read.fields.date, read.fields.duration_seconds) == (dt.date(2026, 11, 11), 5400)
    assert read.fields.started_at is None


def _value(key: str) -> str:
    """A plausible value for a query parameter the collection names."""
    if key.endswith("_date"):
        return "2026-11-01"
    if key.startswith("modified_"):
        return "2026-01-01T00:00:00+00:00"
    if key.endswith("ids") or key.endswith("_id") or key in {"page"}:
        return "1"
    return {"active": "both", "limit": "50", "on_the_clock": "false"}.get(key, "regular")


_DOCUMENTED = {
    "timesheets": {"id", "user_id", "jobcode_id", "start", "end", "duration", "date", "tz",
                   "tz_str", "type", "location", "on_the_clock", "locked", "notes",
                   "customfields", "last_modified", "attached_files", "created_by_user_id"},
    "users": {"id", "first_name", "last_name", "group_id", "active", "email", "username",
              "submitted_to", "approved_to", "last_modified", "created"},
    "jobcodes": {"id", "parent_id", "assigned_to_all", "billable", "active", "type",
                 "has_children", "name", "short_code", "last_modified", "created"},
}  # fmt: skip
_DOCUMENTED["timesheets_deleted"] = _DOCUMENTED["timesheets"]


def _collection_gets() -> list[tuple[str, str, list[str]]]:
    folders = {"Current User", "Users", "Jobcodes", "Timesheets", "Timesheets Deleted"}
    found = []
    for folder in json.loads(COLLECTION.read_text())["item"]:
        for item in folder.get("item", []) if folder["name"] in folders else []:
            request = item["request"]
            if request["method"] == "GET":
                path = "/" + "/".join(request["url"]["path"][1:] if request["url"]["path"][0]
                                      .startswith("{{") else request["url"]["path"])  # fmt: skip
                keys = [q["key"] for q in request["url"].get("query", [])]
                found.append((item["name"], path, keys))
    return found


@pytest.mark.skipif(not COLLECTION.exists(), reason="the Postman collection is not here")
async def test_the_collections_list_requests_are_answered_in_the_documented_shape(
    built: Built,
) -> None:
    await built.rig.control.add(built.rig.fields(dt.date(2026, 11, 2), dt.time(9), 600, "x"))
    gets = _collection_gets()
    assert {path for _, path, _ in gets} >= {"/timesheets", "/timesheets_deleted", "/users"}
    for name, path, keys in gets:
        params = {key: _value(key) for key in keys}
        if path in {"/timesheets", "/timesheets_deleted"}:
            params |= {"ids": "", "start_date": "2026-11-01", "end_date": "2026-11-30"}
            params.pop("jobcode_ids", None), params.pop("user_ids", None)
            params = {k: v for k, v in params.items() if v}
        answer = await built.http.get(
            f"{API}{path}",
            params=params,
            headers={"Authorization": f"Bearer {built.rig.credential}"},
        )
        assert answer.status_code == 200, (name, answer.text)
        body = answer.json()
        assert set(body) >= {"results", "more", "supplemental_data"}, name
        [(key, items)] = body["results"].items()
        for item in items.values():
            assert set(item) >= _DOCUMENTED[key], (name, _DOCUMENTED[key] - set(item))


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/timesheets", b"\xff\xfe"),
        ("POST", "/timesheets", b"[1]"),
        ("POST", "/timesheets", b'{"data": {"user_id": 1}}'),
        ("GET", "/timesheets?start_date=2026-01-01&page=x", None),
        ("GET", "/timesheets?modified_since=nope", None),
        ("GET", "/timesheets?start_date=2026-13-01", None),
        ("DELETE", "/timesheets?ids=a,b", None),
    ],
)
async def test_bad_requests_are_4xx_in_its_shape(
    built: Built, method: str, path: str, body: bytes | None
) -> None:
    answer = await built.http.request(
        method, f"{API}{path}", content=body,
        headers={"Authorization": f"Bearer {built.rig.credential}"},
    )  # fmt: skip
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["message"]
    assert built.state.timesheets == {}


async def test_a_refused_item_is_an_error_with_its_reason(built: Built) -> None:
    client = QuickBooksTimeClient(API, built.rig.credential, http=built.rig.http)
    with pytest.raises(ProviderError) as refused:
        await client.create({"user_id": 1242515, "jobcode_id": 99, "type": "manual",
                             "date": "2026-11-02", "duration": 60})  # fmt: skip
    assert refused.value.status == 417
    assert "jobcode_id" in refused.value.body
    assert built.state.timesheets == {}


async def test_billable_is_the_jobcodes_from_the_supplemental_data(built: Built) -> None:
    rig = built.rig
    store = await _store(built)
    billable = await rig.control.add(rig.fields(dt.date(2026, 11, 12), dt.time(9), 600, "b"))
    other = rig.fields(dt.date(2026, 11, 12), dt.time(11), 600, "not")
    plain = await rig.control.add(other.model_copy(update={"task_external_id": "17288285"}))
    for target, expected in ((billable, True), (plain, False)):
        read = await store.read(Slot("quickbooks_time", "k", target))
        assert read is not None
        assert (read.fields.billable, read.billable_by) == (expected, "task")
    assert rig.provider.profile.keeps("billable")
    assert "billable" not in rig.provider.profile.writable_fields, "the jobcode's, not written"


async def test_the_credential_owner_refreshes_at_grant_and_the_refresh_token_rotates(
    built: Built,
) -> None:
    """What ``Provider.oauth`` tells the credential owner: the app's id and secret in the form
    body, a new access token the API takes, a new refresh token each time, a used one refused
    as needing re-authorisation."""
    oauth = built.rig.provider.oauth
    assert oauth is not None
    assert oauth.token_url == "https://rest.tsheets.com/api/v1/grant"
    code = (await built.http.post(f"{BASE}/_sandbox/codes", params={"user_id": 1242515})).json()
    app = OAuthApp("sandbox-qbt-client", SecretStr("sandbox-qbt-secret"), token_url=f"{API}/grant")
    endpoint = oauth.open("quickbooks_time", app, built.http)
    first = await endpoint.exchange_code(code["code"], "https://timebridge.test/callback")
    me = await built.http.get(
        f"{API}/current_user", headers={"Authorization": f"Bearer {first.access_token}"}
    )
    assert me.json()["results"]["users"]["1242515"]["email"] == "ann@example.com"
    second = await endpoint.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert second.access_token != first.access_token
    with pytest.raises(ReauthorizationNeededError):
        await endpoint.refresh(first.refresh_token)
    wrong = OAuthApp("sandbox-qbt-client", SecretStr("nope"), token_url=f"{API}/grant")
    with pytest.raises(AuthenticationError):
        await oauth.open("quickbooks_time", wrong, built.http).refresh(second.refresh_token)


async def test_time_submitted_for_approval_is_refused_too(built: Built) -> None:
    rig = built.rig
    store = await _store(built)
    fields = rig.fields(dt.date(2026, 11, 13), dt.time(9), 600, "submitted")
    slot = rig.slot(fields)
    target = await store.write(slot, Write("create", fields, None, slot.key))
    item = {"id": 1242515, "submitted_to": "2026-11-13"}
    await built.control.call("PUT", "/users", {"data": [item]})
    changed = fields.model_copy(update={"notes": "after submitting"})
    with pytest.raises(EntryLockedError) as refused:
        await store.write(Slot(slot.system, slot.key, target), Write("update", changed, None, "u"))
    assert "submitted" in refused.value.body
    assert built.state.timesheets[int(target)].notes == "submitted"


async def test_bad_bytes_in_a_query_are_a_400(built: Built) -> None:
    answer = await built.http.get(
        f"{API}/timesheets?start_date=%ff%fe&modified_since=%00",
        headers={"Authorization": f"Bearer {built.rig.credential}"},
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == 400
