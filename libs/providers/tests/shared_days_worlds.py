"""The trackers whose stores list users' days, each against its sandbox with requests counted by
kind, shared by ``test_shared_days`` (imported as ``libs.providers.tests.shared_days_worlds``, see
this folder's conftest)."""

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from timebridge_providers.clickup.client import ClickUpClient
from timebridge_providers.clickup.entries import ClickUpEntries
from timebridge_providers.clockify.client import ClockifyClient
from timebridge_providers.clockify.entries import ClockifyEntries
from timebridge_providers.clockify.people import People as ClockifyPeople
from timebridge_providers.harvest.client import HarvestClient
from timebridge_providers.harvest.entries import HarvestEntries
from timebridge_providers.kit.ports.entries import EntryStore
from timebridge_providers.quickbooks_time.client import QuickBooksTimeClient
from timebridge_providers.quickbooks_time.entries import QuickBooksTimeEntries
from timebridge_providers.tempo.client import TempoClient
from timebridge_providers.tempo.entries import TempoEntries
from timebridge_providers.toggl.client import TogglClient
from timebridge_providers.toggl.entries import TogglEntries
from timebridge_providers.toggl.people import People as TogglPeople
from timebridge_providers.wrike.client import WrikeClient
from timebridge_providers.wrike.entries import WrikeEntries
from timebridge_providers.xero_projects.client import XeroProjectsClient
from timebridge_providers.xero_projects.entries import XeroProjectsEntries
from timebridge_providers.xero_projects.people import Lookups
from timebridge_providers.zoho.client import ZohoClient
from timebridge_providers.zoho.entries import ZohoEntries

from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_common.outbound.http import RequestBudget, RetryPolicy
from timebridge_sandboxes.clickup import ClickUpState, create_clickup_sandbox
from timebridge_sandboxes.clockify import ClockifyState, create_clockify_sandbox
from timebridge_sandboxes.faults import Faults, RateLimit
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

DAY = dt.date(2026, 3, 2)
WRITERS = 10
UNLIMITED = RateLimit(10**6, 1)


class Counted(httpx.AsyncBaseTransport):
    """The sandbox, requests counted by kind; the answers of the next ``lose`` POSTs are lost
    after the sandbox applied them (as a timeout over a socket would)."""

    def __init__(self, app: Any, kind: Callable[[httpx.Request], str]) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.kind = kind
        self.requests: Counter[str] = Counter()
        self.lose = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests[self.kind(request)] += 1
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and self.lose > 0:
            self.lose -= 1
            raise httpx.ReadTimeout("no answer in time", request=request)
        return response


@dataclass
class World:
    """One provider's sandbox and a store per change on one credential (one budget)."""

    name: str
    transport: Counted
    store: Callable[[], EntryStore]
    fields: Callable[[int], TimeEntryFields]
    move: Callable[[str, int], None]
    """Moves a record ``days`` later in the sandbox (a person editing it there)."""

    @property
    def requests(self) -> Counter[str]:
        return self.transport.requests


_LISTINGS = ("/time_entries", "/time-entries", "/timelogs", "/worklogs", "/timesheets", "/time")
_RECORDS = ("time_entries/", "time-entries/", "timelogs/", "worklogs/", "/tasks/", "/time/")


def _kind(request: httpx.Request) -> str:
    """``list``: a listing of time entries; ``by id``: one entry read (QuickBooks Time's by its
    ``ids`` filter, Zoho's from its task's logs); ``lookup``: Harvest's filter by reference;
    ``write``; ``other`` (users, the account, tasks)."""
    path, query = request.url.path.lower(), request.url.params  # Xero's paths in any case
    if request.method != "GET":  # Wrike's /tasks/{id}/timelogs too
        return "write" if any(k in path for k in ("time", "worklogs", "/logs/")) else "other"
    if "external_reference_id" in query:
        return "lookup"
    if "ids" in query or (
        any(k in path for k in _RECORDS) and not path.endswith((*_LISTINGS, "/tasks"))
    ):
        return "by id"
    return "list" if path.endswith((*_LISTINGS, "/logs/")) else "other"


def _toggl(page: int) -> World:
    del page  # Toggl's /me/time_entries is not paged
    state = TogglState()
    ann = state.add_user("Ann", "ann@example.com", "tt-ann", "Europe/Berlin")
    project = state.add_project("Site")
    app = create_toggl_sandbox(state, Faults(), bucket=UNLIMITED, quota=UNLIMITED)
    transport = Counted(app, _kind)
    http = httpx.AsyncClient(transport=transport)
    budget = RequestBudget(10**6, 1)

    def store() -> EntryStore:
        client = TogglClient(
            "http://toggl.test/api/v9",
            "tt-ann",
            state.workspace_id,
            http=http,
            budget=budget,
            retry=RetryPolicy(max_attempts=1),
        )
        return TogglEntries(client, TogglPeople(client))

    def move(target: str, days: int) -> None:
        state.entries[int(target)].start += dt.timedelta(days=days)

    return World("toggl", transport, store, _fields(str(ann), str(project), None), move)


def _clockify(page: int) -> World:
    state = ClockifyState()
    ann = state.add_user("Ann", "ann@example.com", "ck-ann", "Europe/Berlin")
    project = state.add_project("Site")
    state.page_cap = page
    app = create_clockify_sandbox(state, Faults(), rate_limit=UNLIMITED)
    transport = Counted(app, _kind)
    http = httpx.AsyncClient(transport=transport)
    budget = RequestBudget(10**6, 1)

    def store() -> EntryStore:
        client = ClockifyClient(
            "http://clockify.test/api/v1",
            "ck-ann",
            state.workspace_id,
            http=http,
            budget=budget,
            retry=RetryPolicy(max_attempts=1),
        )
        return ClockifyEntries(client, ClockifyPeople(client))

    def move(target: str, days: int) -> None:
        entry = state.entries[target]
        entry.start += dt.timedelta(days=days)
        entry.end = None if entry.end is None else entry.end + dt.timedelta(days=days)

    return World("clockify", transport, store, _fields(ann, project, None), move)


def _harvest(page: int) -> World:
    state = HarvestState()
    ann = state.add_user("Ann", "Admin", "ann@example.com", token="hv-ann", timezone="UTC")
    project = state.add_project(state.add_client("Acme"), "Site")
    task = state.add_task("Build")
    state.assign(project, task)
    app = create_harvest_sandbox(state, Faults(), rate_limit=UNLIMITED)
    transport = Counted(app, _kind)
    http = httpx.AsyncClient(transport=transport)
    budget = RequestBudget(10**6, 1)

    def store() -> EntryStore:
        client = HarvestClient(
            "http://harvest.test/v2",
            "hv-ann",
            "1000001",
            page_size=page,
            http=http,
            budget=budget,
            retry=RetryPolicy(max_attempts=1),
        )
        return HarvestEntries(client)

    def move(target: str, days: int) -> None:
        state.entries[int(target)].spent_date += dt.timedelta(days=days)

    return World("harvest", transport, store, _fields(str(ann), str(project), str(task)), move)


def _wrike(page: int) -> World:
    del page  # Wrike's timelog lists are not paged
    state = WrikeState()
    ann = state.add_contact("Ann", "Admin", "ann@example.com", "wr-ann", "UTC")
    project = state.add_project("Site")
    task = state.add_task(project.id, "Build")
    app = create_wrike_sandbox(state, Faults(), limit=UNLIMITED)
    transport = Counted(app, _kind)
    http = httpx.AsyncClient(transport=transport)
    budget = RequestBudget(10**6, 1)

    def store() -> EntryStore:
        retry = RetryPolicy(max_attempts=1)
        client = WrikeClient(
            "http://wrike.test/api/v4", "wr-ann", http=http, budget=budget, retry=retry
        )
        return WrikeEntries(client)

    def move(target: str, days: int) -> None:
        state.timelogs[target].tracked += dt.timedelta(days=days)

    return World("wrike", transport, store, _fields(ann.id, project.id, task.id), move)


def _clickup(page: int) -> World:
    del page  # ClickUp's time entry lists are not paged
    state = ClickUpState()
    ann = state.add_user("Ann", "ann@example.com", "pk_ann", "UTC")
    site = state.add_list(state.add_space("Acme"), "Site")
    task = state.add_task(site, "Build")
    app = create_clickup_sandbox(state, Faults(), limit=UNLIMITED)
    transport = Counted(app, _kind)
    http = httpx.AsyncClient(transport=transport)
    budget = RequestBudget(10**6, 1)

    def store() -> EntryStore:
        retry = RetryPolicy(max_attempts=1)
        client = ClickUpClient(
            "http://clickup.test/api",
            "pk_ann",
            str(state.team_id),
            http=http,
            budget=budget,
            retry=retry,
        )
        return ClickUpEntries(client)

    def move(target: str, days: int) -> None:
        state.entries[target].start += days * 86_400_000

    return World("clickup", transport, store, _fields(str(ann.id), str(site.id), task.id), move)


def _tempo(page: int) -> World:
    state = TempoState()
    state.add_user("acc-ann", "Ann", "ann@example.com", "tp-ann", "UTC")
    state.add_project(10000, "WEB", "Website")
    state.add_issue(10001, "WEB-1")
    state.page_cap = page
    app = create_tempo_sandbox(state, Faults(), limit=UNLIMITED)
    transport = Counted(app, _kind)
    http = httpx.AsyncClient(transport=transport)
    budget = RequestBudget(10**6, 1)

    def store() -> EntryStore:
        retry = RetryPolicy(max_attempts=1)
        client = TempoClient("http://tempo.test/4", "tp-ann", http=http, budget=budget, retry=retry)
        return TempoEntries(client, "UTC")

    def move(target: str, days: int) -> None:
        state.worklogs[int(target)].start_date += dt.timedelta(days=days)

    return World("tempo", transport, store, _fields("acc-ann", "10000", "10001"), move)


def _quickbooks_time(page: int) -> World:
    state = QuickBooksTimeState()
    state.add_user(1242515, "Ann", "Admin", "ann@example.com", "qbt-ann")
    state.add_jobcode(17288283, "Website")
    state.add_jobcode(17288284, "Build", 17288283, billable=True)
    state.page_cap = page
    app = create_quickbooks_time_sandbox(state, Faults(), limit=UNLIMITED)
    transport = Counted(app, _kind)
    http = httpx.AsyncClient(transport=transport)
    budget = RequestBudget(10**6, 1)

    def store() -> EntryStore:
        retry = RetryPolicy(max_attempts=1)
        client = QuickBooksTimeClient(
            "http://qbt.test/api/v1", "qbt-ann", http=http, budget=budget, retry=retry
        )
        return QuickBooksTimeEntries(client, "UTC")

    def move(target: str, days: int) -> None:
        sheet = state.timesheets[int(target)]
        shift = dt.timedelta(days=days)
        sheet.date += shift
        sheet.start = None if sheet.start is None else sheet.start + shift
        sheet.end = None if sheet.end is None else sheet.end + shift

    fields = _fields("1242515", "17288283", "17288284")
    return World("quickbooks_time", transport, store, fields, move)


def _zoho(page: int) -> World:
    del page  # a listing is a month of a project's logs, not paged
    state = ZohoState()
    ann = state.add_user("Ann", "ann@example.com", "zo-ann")
    project = state.add_project("Site")
    task = state.add_task(project, "Build")
    app = create_zoho_sandbox(state, Faults(), limit=UNLIMITED)
    transport = Counted(app, _kind)
    http = httpx.AsyncClient(transport=transport)
    budget = RequestBudget(10**6, 1)

    def store() -> EntryStore:
        retry = RetryPolicy(max_attempts=1)
        portal = str(state.portal_id)
        client = ZohoClient(
            "http://zoho.test/restapi", "zo-ann", portal, http=http, budget=budget, retry=retry
        )
        return ZohoEntries(client, "UTC")

    def move(target: str, days: int) -> None:
        state.logs[int(target.split(":")[2])].day += dt.timedelta(days=days)

    per_entry = _fields(str(ann.id), str(project.id), str(task.id))

    def fields(n: int) -> TimeEntryFields:  # Zoho keeps whole minutes and no start time
        return per_entry(n).model_copy(
            update={"duration_seconds": 60 * (10 + n), "started_at": None}
        )

    return World("zoho", transport, store, fields, move)


def _xero_projects(page: int) -> World:
    state = XeroProjectsState()
    ann, token = state.add_user("Ann", "ann@example.com", "xp-ann")
    project = state.add_project("Site")
    task = state.add_task(project, "Build")
    state.max_page_size = page
    app = create_xero_projects_sandbox(state, Faults(), minute=UNLIMITED, day=UNLIMITED)
    transport = Counted(app, _kind)
    http = httpx.AsyncClient(transport=transport)
    budget = RequestBudget(10**6, 1)

    def store() -> EntryStore:
        retry = RetryPolicy(max_attempts=1)
        client = XeroProjectsClient(
            "http://xero.test/projects.xro/2.0",
            token,
            state.tenant_id,
            http=http,
            budget=budget,
            retry=retry,
        )
        return XeroProjectsEntries(Lookups(client, "UTC", per_credential=True))

    def move(target: str, days: int) -> None:
        state.entries[target.split(":")[1]].date_utc += dt.timedelta(days=days)

    per_entry = _fields(ann.user_id, project.project_id, task.task_id)

    def fields(n: int) -> TimeEntryFields:  # Xero keeps whole minutes
        return per_entry(n).model_copy(update={"duration_seconds": 60 * (10 + n)})

    return World("xero_projects", transport, store, fields, move)


def _fields(user: str, project: str, task: str | None) -> Callable[[int], TimeEntryFields]:
    def fields(n: int) -> TimeEntryFields:
        start = dt.datetime.combine(DAY, dt.time(8), tzinfo=dt.UTC) + dt.timedelta(minutes=n)
        return TimeEntryFields(
            user=UserRef(external_id=user),
            project_external_id=project,
            task_external_id=task,
            date=DAY,
            started_at=start,
            duration_seconds=600 + n,
            notes=f"shared {n}",
            billable=True,
        )

    return fields


WORLDS = {
    "toggl": _toggl,
    "clockify": _clockify,
    "harvest": _harvest,
    "wrike": _wrike,
    "clickup": _clickup,
    "tempo": _tempo,
    "quickbooks_time": _quickbooks_time,
    "zoho": _zoho,
    "xero_projects": _xero_projects,
}
