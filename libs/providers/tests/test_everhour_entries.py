"""Everhour records as an EntryStore, against the Everhour sandbox: billable as Everhour decides it
(the project's billing type, then the task), locks as the kit's typed refusal, writes by key."""

import datetime as dt

import httpx
import pytest
from timebridge_providers.everhour.client import EverhourClient
from timebridge_providers.everhour.entries import EverhourRecords, billable
from timebridge_providers.kit.ports.entries import (
    EntryLockedError,
    Slot,
    UnwritableEntryError,
    Write,
    day_key,
)

from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_common.outbound.http import RequestBudget
from timebridge_sandboxes.everhour import EverhourState, create_everhour_sandbox

DAY = dt.date(2026, 3, 2)
KEY = "ek-entries"


def _records(state: EverhourState) -> EverhourRecords:
    app = create_everhour_sandbox(state)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    return EverhourRecords(
        EverhourClient("http://everhour.sandbox", KEY, http=http, budget=RequestBudget(10**6, 1))
    )


def _fields(user: int, task: str, seconds: int = 3600) -> TimeEntryFields:
    return TimeEntryFields(
        user=UserRef(external_id=str(user)),
        task_external_id=task,
        date=DAY,
        duration_seconds=seconds,
        notes="review",
        billable=True,
    )


@pytest.mark.parametrize(
    ("billing", "unbillable", "expected"),
    [
        ("hourly", False, (True, "task")),
        ("fixed_fee", True, (False, "task")),
        ("non_billable", False, (False, "project")),
    ],
)
async def test_billable_is_the_projects_billing_type_then_the_task(
    billing: str, unbillable: bool, expected: tuple[bool, str]
) -> None:
    state = EverhourState()
    ann = state.add_user("Ann", api_key=KEY)
    task = state.add_task(state.add_project("Site", billing=billing), "Fix", unbillable=unbillable)
    records = _records(state)
    slot = Slot("everhour", day_key(task, str(ann), DAY))

    made = await records.write(slot, Write("create", _fields(ann, task), None, "k"))
    read = await records.read(slot)

    assert read is not None
    assert read.target_id == made
    assert (read.fields.billable, read.billable_by) == expected
    assert (read.fields.duration_seconds, read.fields.notes) == (3600, "review")


def test_without_a_task_time_counts_as_billable() -> None:
    assert billable(None, "hourly") == (True, "task")
    assert billable(None, "non_billable") == (False, "project")


async def test_an_update_sets_the_absolute_time_and_a_delete_removes_the_record() -> None:
    state = EverhourState()
    ann = state.add_user("Ann", api_key=KEY)
    task = state.add_task(state.add_project("Site"), "Fix")
    records = _records(state)
    slot = Slot("everhour", day_key(task, str(ann), DAY))
    await records.write(slot, Write("create", _fields(ann, task), None, "k"))
    current = await records.read(slot)

    await records.write(slot, Write("update", _fields(ann, task, 5400), current, "k"))
    updated = await records.read(slot)
    await records.write(slot, Write("delete", None, updated, "k"))

    assert updated is not None
    assert updated.fields.duration_seconds == 5400
    assert await records.read(slot) is None


async def test_a_locked_record_refuses_with_the_kits_typed_error() -> None:
    state = EverhourState()
    ann = state.add_user("Ann", api_key=KEY)
    task = state.add_task(state.add_project("Site"), "Fix")
    records = _records(state)
    slot = Slot("everhour", day_key(task, str(ann), DAY))
    made = await records.write(slot, Write("create", _fields(ann, task), None, "k"))
    assert made is not None
    state.lock_time(int(made))
    current = await records.read(slot)

    with pytest.raises(EntryLockedError):
        await records.write(slot, Write("update", _fields(ann, task, 60), current, "k"))


async def test_a_user_id_everhour_cannot_have_is_refused_before_any_request() -> None:
    records = _records(EverhourState())
    slot = Slot("everhour", day_key("ev:1", "u_1", DAY))

    with pytest.raises(UnwritableEntryError, match="'u_1' is not an Everhour user id"):
        await records.read(slot)


async def test_the_project_is_read_once_per_store_and_not_for_an_unbillable_task() -> None:
    state = EverhourState()
    ann = state.add_user("Ann", api_key=KEY)
    project = state.add_project("Site", billing="non_billable")
    billable_task = state.add_task(project, "Fix")
    unbillable_task = state.add_task(project, "Chores", unbillable=True)
    app = create_everhour_sandbox(state)
    paths: list[str] = []

    async def seen(request: httpx.Request) -> None:
        paths.append(request.url.path)

    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), event_hooks={"request": [seen]}
    )
    client = EverhourClient(
        "http://everhour.sandbox", KEY, http=http, budget=RequestBudget(10**6, 1)
    )
    records = EverhourRecords(client)
    for task in (billable_task, unbillable_task):
        slot = Slot("everhour", day_key(task, str(ann), DAY))
        await records.write(slot, Write("create", _fields(ann, task), None, "k"))
        await records.read(slot)
        await records.read(slot)

    assert paths.count(f"/projects/{project}") == 1
