"""The trackers ``bench.sync_limit`` runs at their documented limits: each sandbox as served (its
default limits, as the provider documents them), the world it holds, how its requests are counted
by kind, and a new Core entry mapped to it.

Kinds: ``write`` (a create, update or delete), ``list`` (a listing of time entries: shared
look-ups and read-backs; Everhour's time-record reads), ``by id`` (one entry read), ``lookup``
(Harvest's filter by reference), ``project read``, ``other`` (users, the
account), and each refusal by status (``429``; Toggl's hourly quota ``402``).
"""

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from timebridge_common.events import EntryMapped, TimeEntryFields, UserRef
from timebridge_common.testing import sample_entry_mapped
from timebridge_sandboxes.clickup import ClickUpState, create_clickup_sandbox
from timebridge_sandboxes.clockify import ClockifyState, create_clockify_sandbox
from timebridge_sandboxes.everhour import EverhourState, create_everhour_sandbox
from timebridge_sandboxes.faults import Faults
from timebridge_sandboxes.harvest import HarvestState, create_harvest_sandbox
from timebridge_sandboxes.quickbooks_time import (
    QuickBooksTimeState,
    create_quickbooks_time_sandbox,
)
from timebridge_sandboxes.tempo import TempoState, create_tempo_sandbox
from timebridge_sandboxes.toggl import TogglState, create_toggl_sandbox
from timebridge_sandboxes.wrike import WrikeState, create_wrike_sandbox
from timebridge_sandboxes.xero_projects import XeroProjectsState, create_xero_projects_sandbox
from timebridge_sandboxes.zoho import ZohoState, create_zoho_sandbox

DAY = dt.date(2026, 11, 21)
PER_DAY = 50
"""New entries per date (the bench's entries spread over dates, a listing's window each)."""


@dataclass(frozen=True)
class Limit:
    """One documented limit the sandbox enforces: ``requests`` per ``window_s`` per key."""

    requests: int
    window_s: float

    def allowed(self, seconds: float) -> float:
        """Requests this limit admits in ``seconds`` from a fresh key at most: a sliding window
        lets its whole ``requests`` through at once, and again a window later."""
        return float(self.requests * math.ceil(seconds / self.window_s))

    def rate(self, seconds: float) -> float:
        """The limit's rate over ``seconds`` (what a caller that never bursts may send)."""
        return self.requests / self.window_s * seconds


@dataclass(frozen=True)
class Tracker:
    name: str
    path: str
    """The API's path on the sandbox's host (the connection's base URL ends with it)."""
    limits: tuple[Limit, ...]
    serve: Callable[[str], tuple[Any, dict[str, Any]]]
    """An API key -> the sandbox app (at its default limits) and its world."""
    extra: Callable[[dict[str, Any]], dict[str, str]]
    """The connection's fields (workspace, account) from the world."""
    fields: Callable[[dict[str, Any], int], TimeEntryFields]

    def allowed(self, seconds: float) -> float:
        return min(limit.allowed(seconds) for limit in self.limits)

    def rate(self, seconds: float) -> float:
        return min(max(limit.rate(seconds), limit.requests) for limit in self.limits)


_LISTINGS = ("/time_entries", "/time-entries", "/time", "/timelogs", "/worklogs", "/timesheets")


def kind(method: str, path: str, query: str) -> str:
    """What a request is, for the per-entry figures."""
    path = path.lower()  # Xero's paths in any case
    if "/time" not in path and "/worklogs" not in path and "/logs/" not in path:
        if path.startswith("/projects/") and path.count("/") == 2:
            return "project read"
        return "other"
    if method in {"POST", "PUT", "PATCH", "DELETE"} and "/search/" not in path:
        return "write"
    if "external_reference_id" in query:
        return "lookup"
    # Everhour's time-record reads (one task's or the team's) and Toggl's reports search (POST:
    # another member's entries) are listings too; QuickBooks Time reads one timesheet by its
    # ``ids`` filter, Zoho one log from its task's logs.
    by_id = "ids" in parse_qs(query) or ("/tasks/" in path and path.endswith("/logs/"))
    listing = path.endswith((*_LISTINGS, "/logs/")) or "/search/" in path
    return "list" if listing and not by_id else "by id"


def _everhour(key: str) -> tuple[Any, dict[str, Any]]:
    state = EverhourState()
    ann = state.add_user("Ann", api_key=key, email="ann@acme.test")
    project = state.add_project("Website")
    tasks = [state.add_task(project, f"Bench {n}") for n in range(PER_DAY)]
    world = {"user": str(ann), "project": project, "tasks": tasks, "key": key}
    return create_everhour_sandbox(state, Faults()), world  # 20 per 10 s per key


def _toggl(key: str) -> tuple[Any, dict[str, Any]]:
    state = TogglState()
    ann = state.add_user("Ann", "ann@acme.test", key, "UTC")
    project = state.add_project("Website")
    world = {"user": str(ann), "project": str(project), "tasks": [None], "key": key}
    world["workspace_id"] = str(state.workspace_id)
    return create_toggl_sandbox(state, Faults()), world  # 60 per 60 s and 240 per hour


def _clockify(key: str) -> tuple[Any, dict[str, Any]]:
    state = ClockifyState()
    ann = state.add_user("Ann", "ann@acme.test", key, "UTC")
    project = state.add_project("Website")
    world = {"user": ann, "project": project, "tasks": [None], "key": key}
    world["workspace_id"] = state.workspace_id
    return create_clockify_sandbox(state, Faults()), world  # 50 per second


def _harvest(key: str) -> tuple[Any, dict[str, Any]]:
    state = HarvestState()
    ann = state.add_user("Ann", "Admin", "ann@acme.test", token=key, timezone="UTC")
    project = state.add_project(state.add_client("Acme"), "Website")
    task = state.add_task("Build")
    state.assign(project, task)
    world = {"user": str(ann), "project": str(project), "tasks": [str(task)], "key": key}
    world["account_id"] = state.account_id
    return create_harvest_sandbox(state, Faults()), world  # 100 per 15 s


def _wrike(key: str) -> tuple[Any, dict[str, Any]]:
    state = WrikeState()
    ann = state.add_contact("Ann", "Admin", "ann@acme.test", key, "UTC")
    project = state.add_project("Website")
    task = state.add_task(project.id, "Build")
    world = {"user": ann.id, "project": project.id, "tasks": [task.id], "key": key}
    return create_wrike_sandbox(state, Faults()), world  # 400 per minute per token


def _clickup(key: str) -> tuple[Any, dict[str, Any]]:
    state = ClickUpState()
    ann = state.add_user("Ann", "ann@acme.test", key, "UTC")
    website = state.add_list(state.add_space("Acme"), "Website")
    task = state.add_task(website, "Build")
    world = {"user": str(ann.id), "project": str(website.id), "tasks": [task.id], "key": key}
    world["team_id"] = str(state.team_id)
    return create_clickup_sandbox(state, Faults()), world  # 100 per minute per token


def _tempo(key: str) -> tuple[Any, dict[str, Any]]:
    state = TempoState()
    state.add_user("acc-ann", "Ann", "ann@acme.test", key, "UTC")
    state.add_project(10000, "WEB", "Website")
    state.add_issue(10001, "WEB-1")
    world = {"user": "acc-ann", "project": "10000", "tasks": ["10001"], "key": key}
    return create_tempo_sandbox(state, Faults()), world  # 300 per minute (assumed: unpublished)


def _quickbooks_time(key: str) -> tuple[Any, dict[str, Any]]:
    state = QuickBooksTimeState()
    state.add_user(1242515, "Ann", "Admin", "ann@acme.test", key)
    state.add_jobcode(17288283, "Website")
    state.add_jobcode(17288284, "Build", 17288283, billable=True)
    world = {"user": "1242515", "project": "17288283", "tasks": ["17288284"], "key": key}
    sandbox = create_quickbooks_time_sandbox(state, Faults())
    return sandbox, world  # 300 per 5 minutes (assumed: unpublished)


def _zoho(key: str) -> tuple[Any, dict[str, Any]]:
    state = ZohoState()
    ann = state.add_user("Ann", "ann@acme.test", key)
    project = state.add_project("Website")
    task = state.add_task(project, "Build")
    world = {"user": str(ann.id), "project": str(project.id), "tasks": [str(task.id)], "key": key}
    world["portal_id"] = str(state.portal_id)
    return create_zoho_sandbox(state, Faults()), world  # 100 per 2 minutes per user


def _xero_projects(key: str) -> tuple[Any, dict[str, Any]]:
    state = XeroProjectsState()
    ann, token = state.add_user("Ann", "ann@acme.test", key)
    project = state.add_project("Website")
    task = state.add_task(project, "Build")
    world = {"user": ann.user_id, "project": project.project_id, "tasks": [task.task_id]}
    world |= {"key": token, "tenant_id": state.tenant_id}  # the sandbox's signed access token
    return create_xero_projects_sandbox(state, Faults()), world  # 60 a minute, 5,000 a day


def _fields(world: dict[str, Any], n: int) -> TimeEntryFields:
    """Entry ``n``: Ann, on the world's tasks in turn, ``PER_DAY`` a date, each its own start
    (Everhour: each its own day record)."""
    tasks = world["tasks"]
    date = DAY - dt.timedelta(days=n // PER_DAY)
    start = dt.datetime.combine(date, dt.time(8), tzinfo=dt.UTC) + dt.timedelta(minutes=n % PER_DAY)
    return TimeEntryFields(
        user=UserRef(external_id=world["user"], email="ann@acme.test"),
        project_external_id=world["project"],
        task_external_id=tasks[n % len(tasks)],
        date=date,
        started_at=start,
        ended_at=start + dt.timedelta(seconds=600 + n),
        timezone="UTC",
        duration_seconds=600 + n,
        notes=f"bench {n}",
        billable=True,
    )


def _everhour_fields(world: dict[str, Any], n: int) -> TimeEntryFields:
    return _fields(world, n).model_copy(update={"started_at": None, "ended_at": None})


def _minutes_fields(world: dict[str, Any], n: int) -> TimeEntryFields:
    """Whole minutes (Xero Projects)."""
    minutes = 60 * (10 + n % PER_DAY)
    update = {"duration_seconds": minutes, "ended_at": None}
    return _fields(world, n).model_copy(update=update)


def _zoho_fields(world: dict[str, Any], n: int) -> TimeEntryFields:
    """Zoho keeps whole minutes and no start time."""
    minutes = {"duration_seconds": 60 * (10 + n % PER_DAY)}
    return _everhour_fields(world, n).model_copy(update=minutes)


TRACKERS = {
    "everhour": Tracker(
        "everhour", "", (Limit(20, 10.0),), _everhour, lambda _: {}, _everhour_fields
    ),
    "toggl": Tracker(
        "toggl",
        "/api/v9",
        (Limit(60, 60.0), Limit(240, 3600.0)),
        _toggl,
        lambda w: {"workspace_id": w["workspace_id"]},
        _fields,
    ),
    "clockify": Tracker(
        "clockify",
        "/api/v1",
        (Limit(50, 1.0),),
        _clockify,
        lambda w: {"workspace_id": w["workspace_id"]},
        _fields,
    ),
    "harvest": Tracker(
        "harvest",
        "/v2",
        (Limit(100, 15.0),),
        _harvest,
        lambda w: {"account_id": w["account_id"]},
        _fields,
    ),
    "wrike": Tracker("wrike", "/api/v4", (Limit(400, 60.0),), _wrike, lambda _: {}, _fields),
    "clickup": Tracker(
        "clickup",
        "/api",
        (Limit(100, 60.0),),
        _clickup,
        lambda w: {"team_id": w["team_id"]},
        _fields,
    ),
    "tempo": Tracker(
        "tempo",
        "/4",
        (Limit(300, 60.0),),
        _tempo,
        lambda _: {"account_id": "acc-ann", "timezone": "UTC"},
        _fields,
    ),
    "quickbooks_time": Tracker(
        "quickbooks_time",
        "/api/v1",
        (Limit(300, 300.0),),
        _quickbooks_time,
        lambda _: {"timezone": "UTC"},
        _fields,
    ),
    "zoho": Tracker(
        "zoho",
        "/restapi",
        (Limit(100, 120.0),),
        _zoho,
        lambda w: {"portal_id": w["portal_id"], "timezone": "UTC"},
        _zoho_fields,
    ),
    "xero_projects": Tracker(
        "xero_projects",
        "/projects.xro/2.0",
        (Limit(60, 60.0), Limit(5000, 86400.0)),
        _xero_projects,
        lambda w: {"tenant": w["tenant_id"], "timezone": "UTC"},
        _minutes_fields,
    ),
}


def entry(
    tracker: Tracker, world: dict[str, Any], ids: tuple[str, str], n: int, name: str
) -> EntryMapped:
    """A new Core entry mapped to ``tracker`` in ``ids`` (workspace, integration)."""
    fields = tracker.fields(world, n)
    return sample_entry_mapped(
        workspace_id=ids[0],
        integration_id=ids[1],
        target=tracker.name,
        source_external_id=name,
        entry=fields,
        source_entry=fields.model_copy(
            update={"user": UserRef(external_id="cu_ann", email="ann@acme.test")}
        ),
        source_updated_at=dt.datetime.now(dt.UTC),
    )
