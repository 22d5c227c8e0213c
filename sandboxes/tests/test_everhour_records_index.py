"""The Everhour sandbox's records index (issue 12): every request used to scan all records, so
the sandbox slowed down with what it held; now look-ups go through an index that must follow
every way a record is stored, replaced, deleted or cleared, with the same answers as a scan."""

import datetime as dt

import httpx
import pytest

from timebridge_sandboxes.everhour import EverhourState, create_everhour_sandbox
from timebridge_sandboxes.everhour.state import _Record
from timebridge_sandboxes.faults import Faults, RateLimit

DAY = dt.date(2026, 11, 21)


def scan(state: EverhourState, task: str, user: int, date: dt.date) -> _Record | None:
    return next(
        (r for r in state.records.values() if (r.task, r.user, r.date) == (task, user, date)),
        None,
    )


def test_the_index_follows_every_change() -> None:
    state = EverhourState()
    ann = state.add_user("Ann", api_key="k")
    project = state.add_project("Website")
    tasks = [state.add_task(project, f"T{n}") for n in range(3)]
    for n in range(30):
        state.records[n + 1] = _Record(
            n + 1, tasks[n % 3], ann, DAY - dt.timedelta(n // 3), n, None, ""
        )
    state.records[31] = _Record(31, tasks[0], ann, DAY, 5, None, "")  # a second one in a slot
    del state.records[1]  # the slot's first: the second is found now
    state.records.pop(2)
    state.records[4] = _Record(4, tasks[0], ann, DAY - dt.timedelta(days=20), 9, None, "")
    state.records.setdefault(40, _Record(40, tasks[2], ann, DAY, 1, None, ""))
    for task in tasks:
        for back in range(25):
            date = DAY - dt.timedelta(days=back)
            assert state.find_record(task, ann, date) == scan(state, task, ann, date)
    assert state.find_record(tasks[0], ann, DAY).id == 31  # type: ignore[union-attr]
    state.reset()
    assert state.find_record(tasks[0], ann, DAY) is None
    assert state.records.by_date == {}


@pytest.mark.parametrize(("start", "end"), [(DAY, DAY), (DAY - dt.timedelta(5), DAY), (None, DAY)])
async def test_lists_by_date_answer_as_before(start: dt.date | None, end: dt.date) -> None:
    state = EverhourState()
    ann = state.add_user("Ann", api_key="k")
    project = state.add_project("Website")
    tasks = [state.add_task(project, f"T{n}") for n in range(4)]
    app = create_everhour_sandbox(state, Faults(), rate_limit=RateLimit(10**6, 10))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ev") as client:
        for n in range(40):
            body = {"time": 60 + n, "date": str(DAY - dt.timedelta(n % 8)), "user": ann}
            answer = await client.post(
                f"/tasks/{tasks[n % 4]}/time", json=body, headers={"X-Api-Key": "k"}
            )
            assert answer.status_code == 201
        params = {"to": str(end)} | ({"from": str(start)} if start else {})
        listed = await client.get("/team/time", params=params, headers={"X-Api-Key": "k"})
    assert listed.status_code == 200
    expected = sorted(
        (r for r in state.records.values() if (start is None or r.date >= start) and r.date <= end),
        key=lambda r: (r.date, r.id),
    )
    assert [r["id"] for r in listed.json()] == [r.id for r in expected]
    assert expected


async def test_a_listing_sums_its_tasks_times_in_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each listed record embeds its task with the task's time per user. That sum was made over
    every record for each record listed (a page of k records cost k passes over all records); it
    is made once per answer now, with the same totals as a scan."""
    state = EverhourState()
    ann, bob = state.add_user("Ann", api_key="k"), state.add_user("Bob", api_key="k2")
    project = state.add_project("Website")
    tasks = [state.add_task(project, f"T{n}") for n in range(3)]
    for n in range(24):
        state.records[n + 1] = _Record(
            n + 1, tasks[n % 3], (ann, bob)[n % 2], DAY - dt.timedelta(n // 6), 60 + n, None, ""
        )
    app = create_everhour_sandbox(state, Faults(), rate_limit=RateLimit(10**6, 10))
    passes = 0
    values = type(state.records).values

    def counted(records: dict[int, _Record]) -> object:
        nonlocal passes
        passes += 1
        return values(records)

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ev") as client:
        monkeypatch.setattr(type(state.records), "values", counted)
        listed = await client.get("/team/time", params={"to": str(DAY)}, headers={"X-Api-Key": "k"})
        monkeypatch.undo()
    assert listed.status_code == 200
    assert len(listed.json()) == 24
    assert passes <= 2  # the sum's one pass (and at most one by the listing itself), not 24+
    for record in listed.json():
        users: dict[str, int] = {}
        for r in state.records.values():
            if r.task == record["task"]["id"]:
                users[str(r.user)] = users.get(str(r.user), 0) + r.time
        assert record["task"]["time"] == {"total": sum(users.values()), "users": users}
