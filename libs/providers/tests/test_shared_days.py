"""Shared look-ups and read-backs by users' days (issue 12), for Toggl, Clockify, Harvest,
Wrike, ClickUp, Tempo and QuickBooks Time against their sandboxes: a batch's N writes cost one
listing to look up and one to read back, not N reads each; every page of a listing is read; a
record the listing does not show (moved to another date since it was written) is read by id, not
taken as gone; a create whose answer was lost is found by the shared look-up and not sent again."""

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from timebridge_providers.clickup.client import ClickUpClient
from timebridge_providers.clickup.entries import ClickUpEntries
from timebridge_providers.clockify.client import ClockifyClient
from timebridge_providers.clockify.entries import ClockifyEntries
from timebridge_providers.clockify.people import People as ClockifyPeople
from timebridge_providers.harvest.client import HarvestClient
from timebridge_providers.harvest.entries import HarvestEntries
from timebridge_providers.kit.ports.entries import EntryStore, Observed, Slot, Write
from timebridge_providers.kit.writes import ReadGroup
from timebridge_providers.quickbooks_time.client import QuickBooksTimeClient
from timebridge_providers.quickbooks_time.entries import QuickBooksTimeEntries
from timebridge_providers.tempo.client import TempoClient
from timebridge_providers.tempo.entries import TempoEntries
from timebridge_providers.toggl.client import TogglClient
from timebridge_providers.toggl.entries import TogglEntries
from timebridge_providers.toggl.people import People as TogglPeople
from timebridge_providers.wrike.client import WrikeClient
from timebridge_providers.wrike.entries import WrikeEntries

from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_common.outbound.http import OutcomeUnknownError, RequestBudget, RetryPolicy
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


def _kind(request: httpx.Request) -> str:
    """``list``: a listing of time entries; ``by id``: one entry read; ``lookup``: Harvest's
    filter by reference; ``write``; ``other`` (users, the account)."""
    path, query = request.url.path, request.url.params
    if request.method != "GET":  # Wrike's /tasks/{id}/timelogs too
        return "write" if "time" in path or "worklogs" in path else "other"
    if "external_reference_id" in query:
        return "lookup"
    if "ids" in query:
        return "by id"  # QuickBooks Time reads one timesheet by filtering its id
    if path.endswith(("/time_entries", "/time-entries", "/timelogs", "/worklogs", "/timesheets")):
        return "list"
    if any(f"{kind}/" in path for kind in ("time_entries", "time-entries", "timelogs", "worklogs")):
        return "by id"
    return "other"


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
}


async def _write_one(
    group: ReadGroup, world: World, n: int, *, never_written: bool = False
) -> tuple[Observed | None, str | None, Observed | None]:
    async with group.member():
        store = world.store()
        slot = Slot(world.name, f"core:te_{n}", never_written=never_written)
        before = await store.read(slot)
        made = await store.write(slot, Write("create", world.fields(n), None, f"k{n}"))
        back = await store.read(Slot(world.name, slot.key, made))
        return before, made, back


async def _batch(world: World, group: ReadGroup) -> list[str]:
    results = await asyncio.gather(*(_write_one(group, world, n) for n in range(WRITERS)))
    made = []
    for n, (before, target, back) in enumerate(results):
        assert before is None
        assert target is not None
        assert back is not None  # each write confirmed by a listing sent after it
        assert back.target_id == target
        assert back.fields.duration_seconds == 600 + n
        made.append(target)
    return made


@pytest.mark.parametrize("name", sorted(WORLDS))
async def test_a_batchs_writes_cost_one_look_up_listing_and_one_read_back_listing(
    name: str,
) -> None:
    world = WORLDS[name](200)
    group = ReadGroup()

    await _batch(world, group)

    assert world.requests["write"] == WRITERS
    assert world.requests["by id"] == 0  # no read of its own: every read-back was listed
    if name == "harvest":  # one filter per reference (no date to list by), one read-back list
        assert (group.listings, world.requests["list"]) == (1, 1)
        assert world.requests["lookup"] == WRITERS
    else:  # the look-ups of lost creates and the read-backs: one listing each
        assert (group.listings, world.requests["list"]) == (2, 2)
    assert world.requests["other"] <= 2  # the token's user, the account: once per credential


@pytest.mark.parametrize("name", ["clockify", "harvest", "tempo", "quickbooks_time"])
async def test_a_listing_reads_every_page(name: str) -> None:
    world = WORLDS[name](3)  # 10 entries: 4 pages of 3
    group = ReadGroup()

    await _batch(world, group)

    assert world.requests["by id"] == 0  # the entries on later pages were found there
    read_back_pages = 4
    look_up_pages = 0 if name == "harvest" else 1  # nothing there yet: one empty page
    assert world.requests["list"] == look_up_pages + read_back_pages


@pytest.mark.parametrize("name", sorted(WORLDS))
async def test_a_record_missing_from_its_days_listing_is_read_by_id_not_taken_as_gone(
    name: str,
) -> None:
    world = WORLDS[name](200)
    made = await _batch(world, ReadGroup())
    world.move(made[0], 5)  # edited in the tracker: now on another date than it was written
    world.requests.clear()

    group = ReadGroup()
    async with group.member():
        found = await world.store().read(Slot(world.name, "core:te_0", made[0]))

    assert found is not None
    assert found.fields.date == DAY + dt.timedelta(days=5)
    assert (world.requests["list"], world.requests["by id"]) == (1, 1)


@pytest.mark.parametrize(
    "name", ["clockify", "toggl", "wrike", "clickup", "tempo", "quickbooks_time"]
)
async def test_a_lost_create_is_found_by_the_shared_look_up_and_not_sent_again(name: str) -> None:
    world = WORLDS[name](200)
    world.transport.lose = 1
    slot = Slot(world.name, "core:te_0")
    write = Write("create", world.fields(0), None, "k0")

    async with ReadGroup().member():
        with pytest.raises(OutcomeUnknownError):  # applied, its answer lost: retried later
            await world.store().write(slot, write)
    group = ReadGroup()
    async with group.member():  # the retry: another change's store, reads shared
        made = await world.store().write(slot, write)

    assert made is not None
    assert world.requests["write"] == 1  # found by the look-up, not sent again
    assert group.listings == 1


async def test_harvest_looks_nothing_up_by_reference_for_a_slot_never_written() -> None:
    """Issue 12: the look-up by reference (a request per new entry) is only for a create whose
    answer may have been lost; a slot the resolver never planned a write to cannot have one."""
    world = WORLDS["harvest"](200)
    group = ReadGroup()

    results = await asyncio.gather(
        *(_write_one(group, world, n, never_written=True) for n in range(WRITERS))
    )

    assert all(back is not None and back.target_id == made for _, made, back in results)
    assert world.requests["lookup"] == 0
    assert world.requests["write"] == WRITERS
    assert (group.listings, world.requests["list"]) == (1, 1)  # the read-backs


async def test_harvest_still_finds_a_lost_create_by_reference_before_sending_it_again() -> None:
    world = WORLDS["harvest"](200)
    world.transport.lose = 1
    slot = Slot(world.name, "core:te_0")  # written before: a create of it may be lost
    write = Write("create", world.fields(0), None, "k0")
    with pytest.raises(OutcomeUnknownError):
        await world.store().write(slot, write)

    store = world.store()
    found = await store.read(slot)
    made = await store.write(slot, write)

    assert found is not None
    assert made == found.target_id
    assert world.requests["write"] == 1  # found by its reference, not sent again


async def test_quickbooks_time_knows_a_jobcode_billable_from_another_clients_listing() -> None:
    """A timesheet has no billable flag: its jobcode's is in an answer's supplemental data. A
    read picked from a listing another reader's client sent still knows it (per credential)."""
    world = WORLDS["quickbooks_time"](200)
    made = await _batch(world, ReadGroup())
    group = ReadGroup()

    async def read(target: str) -> Observed | None:
        async with group.member():  # each its own store and client, as each change has
            return await world.store().read(Slot(world.name, "core:any", target))

    backs = await asyncio.gather(*(read(target) for target in made[:3]))

    assert group.listings == 1
    assert all(back is not None and back.fields.billable for back in backs)
