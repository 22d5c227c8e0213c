"""The time-entry listings the providers' shared reads use (issue 12), as each provider documents
them: Toggl's ``GET /me/time_entries?start_date&end_date`` (by start, RFC 3339 or a date, both
together, deleted entries not listed, unpaged), Clockify's ``GET .../user/{id}/time-entries?start
&end`` (by start, ``page``/``page-size`` with ``Last-Page``), Harvest's ``GET /v2/time_entries?
from&to&user_id`` (``spent_date`` inclusive, ``per_page`` with ``links.next``), ClickUp's ``GET
/team/{id}/time_entries?start_date&end_date&assignee`` (milliseconds, by start, unpaged), Tempo's
``GET /worklogs?from&to`` (``startDate`` inclusive, ``offset``/``limit`` with ``metadata.next``)."""

import datetime as dt
from typing import Any

import httpx
from timebridge_providers.clickup.client import ClickUpClient
from timebridge_providers.clockify.client import ClockifyClient
from timebridge_providers.harvest.client import HarvestClient
from timebridge_providers.tempo.client import TempoClient
from timebridge_providers.toggl.client import TogglClient

from timebridge_sandboxes.clickup import ClickUpState, create_clickup_sandbox
from timebridge_sandboxes.clockify import ClockifyState, create_clockify_sandbox
from timebridge_sandboxes.faults import Faults, RateLimit
from timebridge_sandboxes.harvest import HarvestState, create_harvest_sandbox
from timebridge_sandboxes.tempo import TempoState, create_tempo_sandbox
from timebridge_sandboxes.toggl import TogglState, create_toggl_sandbox

DAY = dt.date(2026, 3, 2)
UNLIMITED = RateLimit(10**6, 1)


def _at(days: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(DAY, dt.time(hour, minute), tzinfo=dt.UTC) + dt.timedelta(days=days)


def _z(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_toggl_lists_the_token_users_entries_by_start_deleted_ones_left_out() -> None:
    state = TogglState()
    state.add_user("Ann", "ann@example.com", "tt-ann", "Europe/Berlin")
    app = create_toggl_sandbox(state, Faults(), bucket=UNLIMITED, quota=UNLIMITED)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    client = TogglClient("http://t/api/v9", "tt-ann", state.workspace_id, http=http)
    made = {}
    for name, start in {"before": _at(-1, 23, 30), "in": _at(0, 8), "gone": _at(0, 9)}.items():
        body = {"start": _z(start), "duration": 600, "description": name}
        made[name] = (await client.create_time_entry(body)).id
    await client.create_time_entry({"start": _z(_at(1, 8)), "duration": 60, "description": "out"})
    await client.delete_time_entry(made["gone"])
    auth = httpx.BasicAuth("tt-ann", "api_token")

    window = {"start_date": _z(_at(0, 0)), "end_date": _z(_at(1, 0))}
    listed = await http.get("/api/v9/me/time_entries", params=window, auth=auth)
    by_date = {"start_date": DAY.isoformat(), "end_date": (DAY + dt.timedelta(days=1)).isoformat()}
    in_zone = await http.get("/api/v9/me/time_entries", params=by_date, auth=auth)
    alone = await http.get(
        "/api/v9/me/time_entries", params={"start_date": "2026-03-02"}, auth=auth
    )

    assert listed.status_code == 200
    assert [e["description"] for e in listed.json()] == ["in"]  # by start; the deleted one not
    # A date is midnight in the user's zone (Berlin, UTC+1): 23:30 UTC the day before is DAY.
    assert sorted(e["description"] for e in in_zone.json()) == ["before", "in"]
    assert alone.status_code == 400  # start_date and end_date go together


async def test_clockify_lists_a_users_entries_by_start_in_pages_until_the_last_page() -> None:
    state = ClockifyState()
    ann = state.add_user("Ann", "ann@example.com", "ck-ann", "UTC")
    app = create_clockify_sandbox(state, Faults(), rate_limit=UNLIMITED)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://c")
    client = ClockifyClient("http://c/api/v1", "ck-ann", state.workspace_id, http=http)
    for n in range(5):
        start = _at(0, 8, n)
        body = {"start": _z(start), "end": _z(start + dt.timedelta(seconds=60)), "description": "x"}
        await client.create_time_entry(None, body)
    late = _at(3, 8)
    await client.create_time_entry(None, {"start": _z(late), "end": _z(late + dt.timedelta(60))})
    path = f"/api/v1/workspaces/{state.workspace_id}/user/{ann}/time-entries"
    window: dict[str, str | int] = {"start": _z(_at(-1, 0)), "end": _z(_at(2, 0)), "page-size": 2}

    pages: list[tuple[int, str]] = []
    for page in (1, 2, 3):
        answer = await http.get(path, params={**window, "page": page}, headers=_key("ck-ann"))
        pages.append((len(answer.json()), answer.headers["Last-Page"]))
    listed = [e async for e in client.time_entries(ann, _at(-1, 0), _at(2, 0))]

    assert pages == [(2, "false"), (2, "false"), (1, "true")]
    assert len(listed) == 5  # the client reads every page; the entry 3 days on is not in it


def _key(key: str) -> dict[str, str]:
    return {"X-Api-Key": key}


async def test_harvest_lists_entries_by_spent_date_and_user_in_pages_by_next_links() -> None:
    state = HarvestState()
    ann = state.add_user("Ann", "Admin", "ann@example.com", token="hv-ann")
    max_ = state.add_user("Max", "Member", "max@example.com", token="hv-max", admin=False)
    project = state.add_project(state.add_client("Acme"), "Site")
    task = state.add_task("Build")
    state.assign(project, task)
    app = create_harvest_sandbox(state, Faults(), rate_limit=UNLIMITED)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://h")
    client = HarvestClient("http://h/v2", "hv-ann", "1000001", page_size=2, http=http)
    for user, days in ((ann, (-1, 0, 0, 1, 2)), (max_, (0,))):
        for offset in days:
            spent = (DAY + dt.timedelta(days=offset)).isoformat()
            body: dict[str, Any] = {"project_id": project, "task_id": task, "user_id": user}
            await client.create_time_entry({**body, "spent_date": spent, "hours": 1.0})
    headers = {"Authorization": "Bearer hv-ann", "Harvest-Account-Id": "1000001"}
    query = {"from": DAY.isoformat(), "to": (DAY + dt.timedelta(days=1)).isoformat()}

    first = (
        await http.get(
            "/v2/time_entries", params={**query, "user_id": ann, "per_page": 2}, headers=headers
        )
    ).json()
    listed = [
        e.spent_date
        async for e in client.time_entries(start=DAY, end=DAY + dt.timedelta(days=1), user_id=ann)
    ]

    assert (len(first["time_entries"]), first["total_entries"]) == (2, 3)
    assert first["links"]["next"] is not None
    assert sorted(listed) == [DAY, DAY, DAY + dt.timedelta(days=1)]  # from/to inclusive, Ann's


async def test_clickup_lists_entries_starting_in_the_window_by_assignee_for_an_admin() -> None:
    """``GET /team/{id}/time_entries?start_date&end_date&assignee``: milliseconds, by start,
    both bounds inclusive, another member's only for an owner or admin, not paged."""
    state = ClickUpState()
    ann = state.add_user("Ann", "ann@example.com", "pk_ann", "UTC")
    max_ = state.add_user("Max", "max@example.com", "pk_max", "UTC", admin=False)
    task = state.add_task(state.add_list(state.add_space("Acme"), "Site"), "Build")
    app = create_clickup_sandbox(state, Faults(), limit=UNLIMITED)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://c")
    ann_client = ClickUpClient("http://c/api", "pk_ann", str(state.team_id), http=http)
    max_client = ClickUpClient("http://c/api", "pk_max", str(state.team_id), http=http)
    start, end = int(_at(0, 0).timestamp() * 1000), int(_at(1, 0).timestamp() * 1000)
    for client, user, at, name in [
        (ann_client, ann, start, "first"),
        (ann_client, ann, end, "last"),
        (ann_client, ann, end + 1, "out"),
        (max_client, max_, start + 60_000, "max's"),
    ]:
        body = {"start": at, "duration": 60_000, "assignee": user.id, "tid": task.id}
        await client.create_time_entry({**body, "description": name})

    both = await ann_client.time_entries(start, end, [ann.id, max_.id])
    ann_only = await ann_client.time_entries(start, end, [ann.id])
    path = f"/api/v2/team/{state.team_id}/time_entries"
    query = {"start_date": start, "end_date": end, "assignee": ann.id}
    refused = await http.get(path, params=query, headers={"Authorization": "pk_max"})

    assert sorted(e.description or "" for e in both) == ["first", "last", "max's"]
    assert sorted(e.description or "" for e in ann_only) == ["first", "last"]
    assert refused.status_code == 401  # a member sees only their own time


async def test_tempo_lists_worklogs_by_date_inclusive_in_pages() -> None:
    """``GET /worklogs?from&to``: ``startDate`` within both bounds, every author, pages of
    ``limit`` with the next one named in ``metadata.next``."""
    state = TempoState()
    state.add_user("acc-ann", "Ann", "ann@example.com", "tp-ann", "UTC")
    state.add_user("acc-max", "Max", "max@example.com", "tp-max", "UTC")
    state.add_project(10000, "WEB", "Website")
    state.add_issue(10001, "WEB-1")
    app = create_tempo_sandbox(state, Faults(), limit=UNLIMITED)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tp")
    clients = {who: TempoClient("http://tp/4", f"tp-{who}", http=http) for who in ("ann", "max")}
    for who, days, name in [
        ("ann", -1, "before"),
        ("ann", 0, "first"),
        ("max", 0, "max's"),
        ("ann", 1, "last"),
        ("ann", 2, "after"),
    ]:
        await clients[who].create(
            {
                "authorAccountId": f"acc-{who}",
                "issueId": 10001,
                "startDate": (DAY + dt.timedelta(days=days)).isoformat(),
                "startTime": "08:00:00",
                "timeSpentSeconds": 600,
                "description": name,
            }
        )
    state.page_cap = 2

    listed = [w async for w in clients["ann"].dated(DAY, DAY + dt.timedelta(days=1))]
    query: dict[str, str | int] = {"from": DAY.isoformat(), "to": DAY.isoformat(), "limit": 2}
    first_page = (await http.get("/4/worklogs", params=query, headers=_bearer("tp-ann"))).json()

    assert sorted(w.description or "" for w in listed) == ["first", "last", "max's"]
    assert first_page["metadata"]["next"] is None  # two on DAY: one page
    assert len(first_page["results"]) == 2


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
