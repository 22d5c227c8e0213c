"""The Harvest sandbox plays Harvest's API v2 as documented, checked against its OpenAPI text.

Every request these tests send and every answer they get goes through the spec checker (openapi-
core against ``harvest-v2-openapi.yaml``); each test ends asserting it found nothing. Harvest
publishes no official Python SDK, so our client and raw HTTP are the drivers.
"""

import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from timebridge_providers.harvest.client import HarvestClient
from timebridge_providers.harvest.directory import HarvestDirectory
from timebridge_providers.harvest.entries import HarvestEntries
from timebridge_providers.harvest.observe import HarvestObserver
from timebridge_providers.kit.ports.entries import EntryLockedError, Slot, Write
from timebridge_providers.kit.ports.observe import Hint

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_common.outbound.http import ProviderError, RequestBudget
from timebridge_sandboxes.faults import RateLimit
from timebridge_sandboxes.harvest import create_harvest_sandbox, demo_harvest
from timebridge_sandboxes.harvest_openapi import SpecCheckingTransport, harvest_openapi
from timebridge_sandboxes.harvest_state import HarvestState
from timebridge_sandboxes.testing import FakeTime, provider_specs

BASE = "http://harvest.test"
TOKEN = "harvest-token"
ACCOUNT = "1000001"


@dataclass
class Api:
    state: HarvestState
    http: httpx.AsyncClient
    checker: SpecCheckingTransport
    time: FakeTime

    @property
    def project(self) -> int:
        return next(iter(self.state.projects))

    def task(self, name: str) -> int:
        return next(t.id for t in self.state.tasks.values() if t.name == name)

    def client(self) -> HarvestClient:
        budget = RequestBudget(100, 15.0, clock=self.time.clock, sleep=self.time.sleep)
        return HarvestClient(f"{BASE}/v2", TOKEN, ACCOUNT, http=self.http, budget=budget)


HEADERS = {"Authorization": f"Bearer {TOKEN}", "Harvest-Account-Id": ACCOUNT, "User-Agent": "t"}


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    if not (provider_specs() / "harvest-v2-openapi.yaml").exists():
        pytest.skip(f"the provider specs are not at {provider_specs()}")
    time = FakeTime()
    state = demo_harvest(TOKEN, "member-token", ACCOUNT)
    app = create_harvest_sandbox(state, rate_limit=RateLimit(100, 15.0, clock=time.clock))
    checker = SpecCheckingTransport(
        httpx.ASGITransport(app), harvest_openapi(provider_specs(), BASE)
    )
    async with httpx.AsyncClient(transport=checker, base_url=f"{BASE}/v2") as http:
        yield Api(state, http, checker, time)


def spec_clean(api: Api) -> None:
    assert api.checker.checked > 0
    assert api.checker.problems == [], "\n".join(api.checker.problems)


async def test_the_spec_checker_catches_a_request_harvest_would_not_accept(api: Api) -> None:
    answer = await api.http.post(
        "/time_entries",
        headers=HEADERS,
        json={"project_id": "Website", "task_id": 1, "spent_date": "2026-11-02", "hours": 1},
    )
    assert answer.status_code == 422
    assert answer.json()["error"] == "unprocessable_entity"
    assert any("request POST /v2/time_entries" in p for p in api.checker.problems)


async def test_a_token_in_the_query_string_is_accepted_and_bad_credentials_refused(
    api: Api,
) -> None:
    me = await api.http.get("/users/me", params={"access_token": TOKEN, "account_id": ACCOUNT})
    assert me.status_code == 200
    assert me.json()["email"] == "ann@example.com"
    # Harvest's authentication guide allows both as query parameters; the generated spec
    # describes only the headers.
    assert len(api.checker.take("SecurityValidationError")) == 1
    bad = await api.http.get("/users/me", headers={**HEADERS, "Authorization": "Bearer nope"})
    assert bad.status_code == 401
    assert bad.json()["error"] == "invalid_token"
    assert bad.json()["error_description"]
    other = await api.http.get("/users/me", headers={**HEADERS, "Harvest-Account-Id": "42"})
    assert other.status_code == 403
    spec_clean(api)


async def test_the_rate_limit_is_100_requests_per_15_seconds_per_token(api: Api) -> None:
    for _ in range(100):
        assert (await api.http.get("/company", headers=HEADERS)).status_code == 200
    refused = await api.http.get("/company", headers=HEADERS)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 15
    api.time.now += 15
    assert (await api.http.get("/company", headers=HEADERS)).status_code == 200
    spec_clean(api)


async def test_duration_and_timer_forms_of_a_create(api: Api) -> None:
    task = api.task("Fix the login page")
    day = {"project_id": api.project, "task_id": task, "spent_date": "2026-11-02"}
    made = await api.http.post("/time_entries", headers=HEADERS, json={**day, "hours": 1.25})
    assert made.status_code == 201
    assert (made.json()["hours"], made.json()["is_running"]) == (1.25, False)
    assert made.json()["billable"] is True
    timer = await api.http.post("/time_entries", headers=HEADERS, json=day)
    assert timer.json()["is_running"] is True
    assert timer.json()["hours"] == 0.0
    unassigned = api.state.add_task("Unassigned")
    refused = await api.http.post(
        "/time_entries", headers=HEADERS, json={**day, "task_id": unassigned, "hours": 1}
    )
    assert refused.status_code == 422
    assert "assigned" in refused.json()["message"]
    spec_clean(api)


async def test_start_and_end_forms_on_a_timestamp_account(api: Api) -> None:
    api.state.wants_timestamp_timers = True
    assert (await api.http.get("/company", headers=HEADERS)).json()["wants_timestamp_timers"]
    day = {
        "project_id": api.project,
        "task_id": api.task("Meetings"),
        "spent_date": "2026-03-29",
    }
    twelve = await api.http.post(
        "/time_entries",
        headers=HEADERS,
        json={**day, "started_time": "1:30am", "ended_time": "4:30am"},
    )
    assert twelve.status_code == 201
    body = twelve.json()
    assert (body["started_time"], body["ended_time"]) == ("1:30am", "4:30am")
    assert body["hours"] == 2.0  # Berlin moved its clocks an hour forward that night
    assert body["billable"] is False  # the task assignment is not billable
    day["spent_date"] = "2026-11-05"
    late = await api.http.post(
        "/time_entries",
        headers=HEADERS,
        json={**day, "started_time": "23:30", "ended_time": "00:15"},
    )
    assert (late.json()["hours"], late.json()["spent_date"]) == (0.75, "2026-11-05")
    bad = await api.http.post(
        "/time_entries", headers=HEADERS, json={**day, "started_time": "half past eight"}
    )
    assert bad.status_code == 422
    spec_clean(api)


async def test_the_client_pages_filters_updates_deletes_and_is_refused_on_a_locked_entry(
    api: Api,
) -> None:
    api.state.page_cap = 2
    client = api.client()
    task = api.task("Fix the login page")
    made = [
        await client.create_time_entry(
            {
                "project_id": api.project,
                "task_id": task,
                "spent_date": f"2026-11-0{n}",
                "hours": n,
                "external_reference": {"id": f"core:te_{n}", "group_id": "timebridge"},
            }
        )
        for n in range(1, 6)
    ]
    listed = [e.id async for e in client.time_entries(start=dt.date(2026, 11, 2))]
    assert listed == [e.id for e in reversed(made[1:])]  # newest spent date first, 2 a page
    found = [e.id async for e in client.time_entries(external_reference_id="core:te_3")]
    assert found == [made[2].id]
    changed = await client.update_time_entry(made[0].id, {"notes": "changed"})
    assert (changed.notes, changed.hours) == ("changed", 1.0)
    api.state.lock(made[1].id)
    with pytest.raises(EntryLockedError):
        await client.update_time_entry(made[1].id, {"hours": 3})
    assert await client.delete_time_entry(made[0].id) is True
    assert await client.delete_time_entry(made[0].id) is False
    assert await client.time_entry(made[0].id) is None
    spec_clean(api)


async def test_a_next_link_off_the_api_is_not_followed() -> None:
    client = HarvestClient(f"{BASE}/v2", TOKEN, ACCOUNT)
    with pytest.raises(ProviderError, match="leaves the API"):
        client._relative("https://attacker.test/v2/time_entries?page=2")
    assert client._relative(f"{BASE}/v2/time_entries?page=2&per_page=2") == (
        "/time_entries",
        {"page": "2", "per_page": "2"},
    )
    await client.aclose()


async def test_directory_and_time_reports(api: Api) -> None:
    client = api.client()
    assigned = [a.task.name async for a in client.task_assignments(api.project)]
    assert assigned == ["Fix the login page", "Meetings"]
    task = await client.create_task("Design review")
    assignment = await client.assign_task(api.project, task.id)
    assert assignment.task.id == task.id
    for name, hours in (("Fix the login page", 1.5), ("Meetings", 0.5)):
        await client.create_time_entry(
            {
                "project_id": api.project,
                "task_id": api.task(name),
                "spent_date": "2026-11-03",
                "hours": hours,
            }
        )
    team = [r async for r in client.time_report("team", dt.date(2026, 11, 2), dt.date(2026, 11, 8))]
    assert [(r.total_hours, r.billable_hours) for r in team] == [(2.0, 1.5)]
    iso = await api.http.get(
        "/reports/time/projects", headers=HEADERS, params={"from": "2026-11-01", "to": "2026-11-30"}
    )
    assert iso.json()["results"][0]["total_hours"] == 2.0
    missing = await api.http.get("/reports/time/team", headers=HEADERS, params={"from": "20261101"})
    assert missing.status_code == 422
    assert len(api.checker.take("MissingRequiredParameter(name='to'")) == 1
    spec_clean(api)


async def test_a_member_sees_their_assignments_and_own_time_and_runs_a_timer(api: Api) -> None:
    member = {**HEADERS, "Authorization": "Bearer member-token"}
    assert (await api.http.get("/projects", headers=member)).status_code == 403
    assert (await api.http.get("/users", headers=member)).status_code == 403
    mine = await api.http.get("/users/me/project_assignments", headers=member)
    assert mine.status_code == 200
    (assignment,) = mine.json()["project_assignments"]
    task = assignment["task_assignments"][0]["task"]["id"]
    clock = [dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)]
    api.state.now = lambda: clock[0]
    body = {"project_id": assignment["project"]["id"], "task_id": task, "spent_date": "2026-11-02"}
    timer = (await api.http.post("/time_entries", headers=member, json=body)).json()
    assert timer["is_running"] is True
    clock[0] += dt.timedelta(minutes=30)
    stopped = await api.http.patch(f"/time_entries/{timer['id']}/stop", headers=member)
    assert (stopped.json()["hours"], stopped.json()["is_running"]) == (0.5, False)
    again = await api.http.patch(f"/time_entries/{timer['id']}/stop", headers=member)
    assert again.status_code == 422
    restarted = await api.http.patch(f"/time_entries/{timer['id']}/restart", headers=member)
    assert restarted.json()["is_running"] is True
    await api.http.post("/time_entries", headers=HEADERS, json={**body, "hours": 1})
    listed = (await api.http.get("/time_entries", headers=member)).json()["time_entries"]
    assert [e["id"] for e in listed] == [timer["id"]]  # not Ann's
    spec_clean(api)


async def test_an_update_that_moves_an_entry_to_another_user_is_refused(api: Api) -> None:
    store = HarvestEntries(api.client())
    ann, max_ = (str(u.id) for u in api.state.users.values())
    fields = TimeEntryFields(
        user=UserRef(external_id=ann),
        project_external_id=str(api.project),
        task_external_id=str(api.task("Fix the login page")),
        date=dt.date(2026, 11, 2),
        duration_seconds=3600,
        billable=True,
    )
    slot = Slot("harvest", "core:te_moved")
    target = await store.write(slot, Write("create", fields, None, "k1"))
    current = await store.read(Slot("harvest", slot.key, target))
    assert current is not None
    moved = fields.model_copy(update={"user": UserRef(external_id=max_)})
    with pytest.raises(InvalidMessageError, match="another user"):
        await store.write(Slot("harvest", slot.key, target), Write("update", moved, current, "k2"))
    assert api.state.entries[int(current.target_id)].user_id == int(ann)
    spec_clean(api)


async def test_a_members_token_polls_its_own_time(api: Api) -> None:
    member = next(u for u in api.state.users.values() if not u.is_admin)
    budget = RequestBudget(100, 15.0, clock=api.time.clock, sleep=api.time.sleep)
    client = HarvestClient(f"{BASE}/v2", member.token, ACCOUNT, http=api.http, budget=budget)
    body = {
        "project_id": api.project,
        "task_id": api.task("Meetings"),
        "spent_date": dt.datetime.now(dt.UTC).date().isoformat(),
        "hours": 0.5,
    }
    mine = await client.create_time_entry(body)
    await api.client().create_time_entry({**body, "hours": 2})  # Ann's: not the member's to see
    now = dt.datetime.now(dt.UTC)
    page = await HarvestObserver(client).changes(None, now=now, lookback=dt.timedelta(days=2))
    assert [(c.external_id, c.fields.user.email) for c in page.changes] == [
        (str(mine.id), member.email)
    ]
    spec_clean(api)


async def test_clients_projects_users_and_tasks_are_managed_as_harvest_documents(
    api: Api,
) -> None:
    made = await api.http.post(
        "/clients", headers=HEADERS, json={"name": "Globex", "currency": "EUR"}
    )
    assert (made.status_code, made.json()["currency"]) == (201, "EUR")
    client_id = made.json()["id"]
    renamed = await api.http.patch(
        f"/clients/{client_id}", headers=HEADERS, json={"name": "Globex Corp"}
    )
    assert renamed.json()["name"] == "Globex Corp"
    listed = await api.http.get("/clients", headers=HEADERS)
    assert "Globex Corp" in [c["name"] for c in listed.json()["clients"]]
    project = {"client_id": client_id, "name": "Portal", "is_billable": True}
    incomplete = await api.http.post("/projects", headers=HEADERS, json=project)
    assert incomplete.status_code == 422
    assert "Bill by can't be blank" in incomplete.json()["message"]
    assert len(api.checker.take("request POST /v2/projects: InvalidRequestBody")) == 1
    full = {**project, "bill_by": "Tasks", "budget_by": "none"}
    created = await api.http.post("/projects", headers=HEADERS, json=full)
    assert (created.status_code, created.json()["bill_by"]) == (201, "Tasks")
    archived = await api.http.patch(
        f"/projects/{created.json()['id']}", headers=HEADERS, json={"is_active": False}
    )
    assert archived.json()["is_active"] is False
    person = {"first_name": "Lea", "last_name": "Lead", "email": "lea@example.com"}
    user = await api.http.post("/users", headers=HEADERS, json=person)
    assert (user.status_code, user.json()["email"]) == (201, "lea@example.com")
    taken = await api.http.post("/users", headers=HEADERS, json=person)
    assert taken.status_code == 422
    task = api.task("Meetings")
    await api.http.post(
        "/time_entries",
        headers=HEADERS,
        json={"project_id": api.project, "task_id": task, "spent_date": "2026-11-02", "hours": 1},
    )
    assert (await api.http.delete(f"/tasks/{task}", headers=HEADERS)).status_code == 422
    unused = await api.http.post("/tasks", headers=HEADERS, json={"name": "Unused"})
    patched = await api.http.patch(
        f"/tasks/{unused.json()['id']}", headers=HEADERS, json={"billable_by_default": False}
    )
    assert patched.json()["billable_by_default"] is False
    assert (await api.http.delete(f"/tasks/{unused.json()['id']}", headers=HEADERS)).json() == {}
    assignment = api.state.assignment(api.project, task)
    assert assignment is not None
    path = f"/projects/{api.project}/task_assignments/{assignment.id}"
    off = await api.http.patch(path, headers=HEADERS, json={"billable": False})
    assert off.json()["billable"] is False
    assert (await api.http.delete(path, headers=HEADERS)).status_code == 422
    member = {**HEADERS, "Authorization": "Bearer member-token"}
    assert (await api.http.post("/clients", headers=member, json={"name": "X"})).status_code == 403
    spec_clean(api)


async def test_directory_creates_a_task_in_a_project_and_reread_sees_deletions(api: Api) -> None:
    directory = HarvestDirectory(api.client())
    project = await directory.project(str(api.project))
    assert (project.name, project.billing, project.closed) == ("Website", "hourly", False)
    made = await directory.create_task(str(api.project), name="Code review")
    assert made.project_ids == (str(api.project),)
    assert made.external_id in [t.external_id async for t in directory.tasks(str(api.project))]
    assert (await directory.task(made.external_id)).project_ids == (str(api.project),)

    client = api.client()
    entry = await client.create_time_entry(
        {
            "project_id": api.project,
            "task_id": int(made.external_id),
            "spent_date": "2026-11-02",
            "hours": 0.25,
        }
    )
    observer = HarvestObserver(client)
    now = dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC)
    hint = Hint(str(entry.id), dt.date(2026, 11, 2), str(entry.user.id), made.external_id)
    (seen,) = await observer.reread([hint], now=now)
    assert (seen.deleted, seen.fields.duration_seconds) == (False, 900)
    await client.delete_time_entry(entry.id)
    (gone,) = await observer.reread([hint], now=now)
    assert gone.deleted
    assert (gone.fields.user.external_id, gone.fields.task_external_id) == (
        str(entry.user.id),
        made.external_id,
    )
    spec_clean(api)


async def test_bad_bytes_in_bodies_and_queries_are_refused_with_4xx(api: Api) -> None:
    entry = {"project_id": api.project, "task_id": api.task("Meetings"), "spent_date": "2026-11-02"}
    cases = [
        ("POST", "/time_entries", b"\xff\xfe", 400),
        ("POST", "/time_entries", b"[1, 2]", 400),
        ("POST", "/time_entries", json.dumps({**entry, "notes": "a\u0000b"}).encode(), 400),
        ("POST", "/time_entries", b'{"project_id": 1e400}', 422),
        ("GET", "/time_entries?updated_since=%00", None, 422),
        ("GET", "/time_entries?from=2026-13-45", None, 422),
        ("GET", "/time_entries?per_page=2001", None, 422),
    ]
    for method, path, body, status in cases:
        answer = await api.http.request(
            method, path, content=body, headers={**HEADERS, "content-type": "application/json"}
        )
        assert answer.status_code == status, (path, body, answer.text)
        assert answer.json()["error_description"]
    assert api.state.entries == {}
    api.checker.take("request ")  # these requests break the spec on purpose
    spec_clean(api)


async def test_lists_page_by_cursor_links_and_the_client_follows_them(api: Api) -> None:
    api.state.page_cap = 1
    for n in range(3):
        api.state.add_user(f"U{n}", "Test", f"u{n}@example.com", token=f"u{n}")
    first = (await api.http.get("/users", headers=HEADERS)).json()
    following = httpx.URL(first["links"]["next"])
    assert "cursor" in following.params
    assert "page" not in following.params
    assert following.params["ref"] == "next"
    emails = [u.email async for u in api.client().users()]
    assert len(emails) == 5  # Ann, Max and three more, one a page
    assert len(set(emails)) == 5
    bad = await api.http.get("/users", headers=HEADERS, params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422
    spec_clean(api)


async def test_a_poll_reports_an_entry_once_per_change_despite_the_overlap(api: Api) -> None:
    client = api.client()
    observer = HarvestObserver(client)
    body = {
        "project_id": api.project,
        "task_id": api.task("Meetings"),
        "spent_date": dt.datetime.now(dt.UTC).date().isoformat(),
        "hours": 1,
    }
    made = await client.create_time_entry(body)
    now, lookback = dt.datetime.now(dt.UTC), dt.timedelta(days=3)
    first = await observer.changes(None, now=now, lookback=lookback)
    assert [c.external_id for c in first.changes] == [str(made.id)]
    again = await observer.changes(first.cursor, now=now, lookback=lookback)
    assert again.changes == []  # the overlap lists it again; it did not change
    await client.update_time_entry(made.id, {"notes": "changed"})  # likely the same second
    edited = await observer.changes(again.cursor, now=now, lookback=lookback)
    assert [(c.external_id, c.fields.notes) for c in edited.changes] == [(str(made.id), "changed")]
    spec_clean(api)
