"""Everhour's writes at fewer requests (issue 12), against the Everhour sandbox: a project's billing
type read once per credential, not per change; the look-ups and read-backs of a batch's writers
answered by shared listings, each write still confirmed by a listing sent after it, and a lost
create still looked up (by a shared listing) before it would be sent again."""

import asyncio
import datetime as dt
from collections import Counter
from typing import Any

import httpx
import pytest
from timebridge_providers.everhour.client import EverhourClient
from timebridge_providers.everhour.entries import EverhourRecords
from timebridge_providers.kit.ports.entries import Observed, Slot, Write, day_key
from timebridge_providers.kit.writes import ReadGroup

from timebridge_common.errors import TransientError
from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_common.outbound.http import RequestBudget, RetryPolicy
from timebridge_sandboxes.everhour import EverhourState, create_everhour_sandbox
from timebridge_sandboxes.faults import Faults, RateLimit

DAY = dt.date(2026, 3, 2)
KEY = "ek-shared"
WRITERS = 10


class LostAnswers(httpx.AsyncBaseTransport):
    """The sandbox, except that the answers of the next ``lose`` POSTs are lost after the
    sandbox applied them (as a timeout over a socket would)."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.lose = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and self.lose > 0:
            self.lose -= 1
            raise httpx.ReadTimeout("no answer in time", request=request)
        return response


class Rig:
    """Stores on one credential (one budget, as the kit's sessions give), requests counted."""

    def __init__(self, state: EverhourState) -> None:
        self.state = state
        self.requests: Counter[str] = Counter()
        self.budget = RequestBudget(10**6, 1)
        app = create_everhour_sandbox(state, Faults(), rate_limit=RateLimit(10**6, 10))

        async def seen(request: httpx.Request) -> None:
            path = request.url.path
            kind = "/projects" if path.startswith("/projects") else path.rsplit("/", 1)[-1]
            self.requests[f"{request.method} {kind}"] += 1

        self.transport = LostAnswers(app)
        self.http = httpx.AsyncClient(transport=self.transport, event_hooks={"request": [seen]})

    def store(self) -> EverhourRecords:
        """A store per change, as the resolver opens one."""
        retry = RetryPolicy(max_attempts=1)
        return EverhourRecords(
            EverhourClient(
                "http://everhour.sandbox", KEY, http=self.http, budget=self.budget, retry=retry
            )
        )


def _fields(user: int, task: str, seconds: int) -> TimeEntryFields:
    return TimeEntryFields(
        user=UserRef(external_id=str(user)),
        task_external_id=task,
        date=DAY,
        duration_seconds=seconds,
        notes="shared",
        billable=True,
    )


def _world(count: int) -> tuple[EverhourState, int, list[str]]:
    state = EverhourState()
    ann = state.add_user("Ann", api_key=KEY)
    project = state.add_project("Site", billing="hourly")
    return state, ann, [state.add_task(project, f"Task {n}") for n in range(count)]


async def test_the_billing_type_is_read_once_per_credential_not_once_per_change() -> None:
    state, ann, tasks = _world(3)
    rig = Rig(state)
    for n, task in enumerate(tasks):  # three changes, each with its own store
        records = rig.store()
        slot = Slot("everhour", day_key(task, str(ann), DAY))
        assert await records.read(slot) is None
        await records.write(slot, Write("create", _fields(ann, task, 600 + n), None, "k"))
        back = await records.read(slot)
        assert back is not None
        assert back.fields.billable

    # Look-up, write, read-back per change; the project once (it was read by every change).
    assert rig.requests == {"GET time": 6, "POST time": 3, "GET /projects": 1}


async def _write_one(
    group: ReadGroup, rig: Rig, ann: int, task: str, seconds: int
) -> tuple[Observed | None, Observed | None]:
    async with group.member():
        records = rig.store()
        slot = Slot("everhour", day_key(task, str(ann), DAY))
        before = await records.read(slot)
        made = await records.write(slot, Write("create", _fields(ann, task, seconds), None, "k"))
        back = await records.read(Slot("everhour", slot.key, made))
        return before, back


async def test_a_batchs_writers_share_one_look_up_and_one_read_back_listing() -> None:
    state, ann, tasks = _world(WRITERS)
    rig = Rig(state)
    group = ReadGroup()

    results = await asyncio.gather(
        *(_write_one(group, rig, ann, task, 600 + n) for n, task in enumerate(tasks))
    )

    for n, (before, back) in enumerate(results):
        assert before is None
        assert back is not None  # each write confirmed by the listing sent after it
        assert back.fields.duration_seconds == 600 + n
        assert back.fields.task_external_id == tasks[n]
    assert group.listings == 2
    assert rig.requests == {"GET time": 2, "POST time": WRITERS, "GET /projects": 1}


async def test_a_shared_look_up_before_a_retried_create_still_finds_the_earlier_write() -> None:
    state, ann, tasks = _world(WRITERS)
    rig = Rig(state)
    group = ReadGroup()
    rig.transport.lose = 1  # the first create is applied, its answer lost

    results = await asyncio.gather(
        *(_write_one(group, rig, ann, task, 600 + n) for n, task in enumerate(tasks)),
        return_exceptions=True,
    )

    assert not [r for r in results if isinstance(r, BaseException)]
    assert [r[1] is not None for r in results if not isinstance(r, BaseException)] == [True] * 10
    # Not sent again: each record holds its time once (a second POST would have added to it).
    times = sorted(r.time for r in state.records.values())
    assert times == [600 + n for n in range(WRITERS)]
    assert rig.requests["POST time"] == WRITERS
    assert group.listings == 3  # look-up, the lost create's look-up, read-back (shared)


async def test_a_lost_create_not_applied_is_found_missing_by_the_shared_look_up() -> None:
    state, ann, tasks = _world(1)
    rig = Rig(state)
    group = ReadGroup()
    records = rig.store()
    slot = Slot("everhour", day_key(tasks[0], str(ann), DAY))

    async def lost(request: httpx.Request) -> None:
        if request.method == "POST":
            raise httpx.ReadTimeout("no answer", request=request)

    rig.http.event_hooks["request"].append(lost)
    async with group.member():
        with pytest.raises(TransientError, match="not there"):  # retried: the look-up found none
            await records.write(slot, Write("create", _fields(ann, tasks[0], 60), None, "k"))
    assert group.listings == 1
    assert not state.records
