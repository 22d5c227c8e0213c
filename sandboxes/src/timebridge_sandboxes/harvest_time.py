"""The Harvest sandbox's time entries (``/v2/time_entries``) and time reports (``/v2/reports``)."""

import datetime as dt
from collections import defaultdict
from typing import Any, Literal

from fastapi import APIRouter, Request

from timebridge_sandboxes.faults import ApiError
from timebridge_sandboxes.harvest_http import (
    Caller,
    EntryIn,
    Page,
    PerPage,
    day,
    harvest_state,
    moment,
    paginate,
    read_body,
    wall,
    written,
)
from timebridge_sandboxes.harvest_state import Entry, HarvestState, User, entry_json, stamp

time_router = APIRouter(prefix="/v2")


def _entry(state: HarvestState, entry_id: int) -> Entry:
    entry = state.entries.get(entry_id)
    if entry is None:
        raise ApiError(404, "Time entry not found")
    return entry


def _may_touch(state: HarvestState, caller: User, entry: Entry) -> None:
    if entry.user_id != caller.id and not caller.is_admin:
        raise ApiError(403, "You can only change your own time entries")
    if entry.is_locked:
        raise ApiError(422, f"Time entry is locked: {entry.locked_reason or 'locked'}")
    del state


def _times(
    state: HarvestState, user: User, spent: dt.date, started: str, ended: str | None
) -> tuple[str, str | None, float]:
    """Start and end as Harvest writes them, and the hours between them in the user's zone."""
    start = wall(started, "started_time")
    if ended is None:
        return written(start), None, 0.0
    end = wall(ended, "ended_time")
    begin = dt.datetime.combine(spent, start, tzinfo=user.zone)
    finish = dt.datetime.combine(spent, end, tzinfo=user.zone)
    if finish < begin:  # ran past midnight: the entry stays on the day it started
        finish = dt.datetime.combine(spent + dt.timedelta(days=1), end, tzinfo=user.zone)
    elapsed = finish.astimezone(dt.UTC) - begin.astimezone(dt.UTC)
    del state
    return written(start), written(end), round(elapsed.total_seconds() / 3600, 4)


def _check_work(state: HarvestState, project_id: int | None, task_id: int | None) -> None:
    if project_id is None or project_id not in state.projects:
        raise ApiError(422, "Project can't be blank")
    if task_id is None or task_id not in state.tasks:
        raise ApiError(422, "Task can't be blank")
    assignment = state.assignment(project_id, task_id)
    if assignment is None or not assignment.is_active:
        raise ApiError(422, "Task isn't assigned to this project")


def _apply_duration(
    state: HarvestState, entry: Entry, body: EntryIn, user: User, fresh: bool
) -> None:
    """Hours from ``hours`` or, on a timestamp account, from start and end."""
    if state.wants_timestamp_timers and body.started_time is not None and body.hours is None:
        started, ended, hours = _times(
            state, user, entry.spent_date, body.started_time, body.ended_time
        )
        entry.started_time, entry.ended_time, entry.hours = started, ended, hours
        entry.is_running = ended is None
    elif body.hours is not None:
        entry.hours = body.hours
        entry.is_running = False
        if state.wants_timestamp_timers and entry.started_time is not None:
            start = wall(entry.started_time, "started_time")
            begin = dt.datetime.combine(entry.spent_date, start, tzinfo=user.zone)
            end = (begin.astimezone(dt.UTC) + dt.timedelta(hours=body.hours)).astimezone(user.zone)
            entry.ended_time = written(end.time())
    elif fresh:
        entry.is_running = True
    entry.timer_started_at = stamp(state.now()) if entry.is_running else None


@time_router.get("/time_entries")
async def list_entries(
    request: Request,
    caller: Caller,
    *,
    user_id: int | None = None,
    client_id: int | None = None,
    project_id: int | None = None,
    task_id: int | None = None,
    external_reference_id: str | None = None,
    is_billed: bool | None = None,
    is_running: bool | None = None,
    updated_since: str | None = None,
    page: Page = 1,
    per_page: PerPage = None,
) -> dict[str, Any]:
    state = harvest_state(request)
    start = day(request.query_params.get("from"), "from")
    end = day(request.query_params.get("to"), "to")
    after = moment(updated_since, "updated_since")
    found = [
        e
        for e in state.entries.values()
        if user_id in (None, e.user_id)
        and (caller.is_admin or e.user_id == caller.id)
        and client_id in (None, state.projects[e.project_id].client_id)
        and project_id in (None, e.project_id)
        and task_id in (None, e.task_id)
        and is_billed in (None, e.is_billed)
        and is_running in (None, e.is_running)
        and (start is None or e.spent_date >= start)
        and (end is None or e.spent_date <= end)
        and (after is None or e.updated >= after)
        and (
            external_reference_id is None
            or (e.external_reference or {}).get("id") == external_reference_id
        )
    ]
    found.sort(key=lambda e: (e.spent_date, e.created_at, e.id), reverse=True)
    rendered = [entry_json(state, e) for e in found]
    return paginate(request, "time_entries", rendered, page, per_page or 2000)


@time_router.get("/time_entries/{entry_id}")
async def get_entry(request: Request, _: Caller, entry_id: int) -> dict[str, Any]:
    state = harvest_state(request)
    return entry_json(state, _entry(state, entry_id))


@time_router.post("/time_entries", status_code=201)
async def create_entry(request: Request, caller: Caller) -> dict[str, Any]:
    body = await read_body(request, EntryIn)
    assert isinstance(body, EntryIn)
    state = harvest_state(request)
    if body.spent_date is None:
        raise ApiError(422, "Spent date can't be blank")
    _check_work(state, body.project_id, body.task_id)
    owner = state.users.get(body.user_id if body.user_id is not None else caller.id)
    if owner is None:
        raise ApiError(422, "User can't be blank")
    if owner.id != caller.id and not caller.is_admin:
        raise ApiError(403, "You can only track time for yourself")
    assert body.project_id is not None
    assert body.task_id is not None
    now = state.now()
    entry = Entry(
        id=state.next_id("time_entry", 636709355),
        user_id=owner.id,
        project_id=body.project_id,
        task_id=body.task_id,
        spent_date=body.spent_date,
        hours=0.0,
        notes=body.notes,
        started_time=None,
        ended_time=None,
        external_reference=None
        if body.external_reference is None
        else body.external_reference.model_dump(),
        created_at=stamp(now),
        updated_at=stamp(now),
        updated=now,
    )
    _apply_duration(state, entry, body, owner, fresh=True)
    state.entries[entry.id] = entry
    return entry_json(state, entry)


@time_router.patch("/time_entries/{entry_id}")
async def update_entry(request: Request, caller: Caller, entry_id: int) -> dict[str, Any]:
    body = await read_body(request, EntryIn)
    assert isinstance(body, EntryIn)
    state = harvest_state(request)
    entry = _entry(state, entry_id)
    _may_touch(state, caller, entry)
    sent = body.model_fields_set
    project_id = body.project_id if "project_id" in sent else entry.project_id
    task_id = body.task_id if "task_id" in sent else entry.task_id
    _check_work(state, project_id, task_id)
    assert project_id is not None
    assert task_id is not None
    entry.project_id, entry.task_id = project_id, task_id
    if "spent_date" in sent:
        if body.spent_date is None:
            raise ApiError(422, "Spent date can't be blank")
        entry.spent_date = body.spent_date
    if "notes" in sent:
        entry.notes = body.notes
    if "external_reference" in sent:
        reference = body.external_reference
        entry.external_reference = None if reference is None else reference.model_dump()
    _apply_duration(state, entry, body, state.users[entry.user_id], fresh=False)
    state.touch(entry)
    return entry_json(state, entry)


@time_router.delete("/time_entries/{entry_id}")
async def delete_entry(request: Request, caller: Caller, entry_id: int) -> dict[str, Any]:
    state = harvest_state(request)
    entry = _entry(state, entry_id)
    _may_touch(state, caller, entry)
    del state.entries[entry_id]
    return {}


@time_router.delete("/time_entries/{entry_id}/external_reference")
async def delete_reference(request: Request, caller: Caller, entry_id: int) -> dict[str, Any]:
    state = harvest_state(request)
    entry = _entry(state, entry_id)
    _may_touch(state, caller, entry)
    entry.external_reference = None
    state.touch(entry)
    return {}


@time_router.get("/reports/time/{by}")
async def time_report(
    request: Request,
    _: Caller,
    by: Literal["clients", "projects", "tasks", "team"],
    *,
    page: Page = 1,
    per_page: PerPage = None,
) -> dict[str, Any]:
    state = harvest_state(request)
    start = day(request.query_params.get("from"), "from")
    end = day(request.query_params.get("to"), "to")
    if start is None or end is None:
        raise ApiError(422, "from and to are required")
    totals: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for entry in state.entries.values():
        if not start <= entry.spent_date <= end:
            continue
        project = state.projects[entry.project_id]
        key = {
            "clients": project.client_id,
            "projects": entry.project_id,
            "tasks": entry.task_id,
            "team": entry.user_id,
        }[by]
        billable = state.billable(entry)
        row = totals[key]
        row[0] += entry.hours
        row[1] += entry.hours if billable else 0.0
        row[2] += entry.hours * (project.hourly_rate or 0.0) if billable else 0.0
    rows = [_report_row(state, by, key, values) for key, values in sorted(totals.items())]
    return paginate(request, "results", rows, page, per_page or 1000)


def _report_row(state: HarvestState, by: str, key: int, values: list[float]) -> dict[str, Any]:
    hours, billable, amount = values
    sums = {
        "total_hours": round(hours, 4),
        "billable_hours": round(billable, 4),
        "currency": "USD",
        "billable_amount": round(amount, 2),
    }
    if by == "team":
        user = state.users[key]
        return {
            "user_id": key,
            "user_name": f"{user.first_name} {user.last_name}",
            "is_contractor": user.is_contractor,
            "weekly_capacity": 126000,
            "avatar_url": "https://d3s3969qhosaug.cloudfront.net/v2/avatar.png",
            **sums,
        }
    if by == "tasks":
        return {"task_id": key, "task_name": state.tasks[key].name, **sums}
    if by == "clients":
        return {"client_id": key, "client_name": state.clients[key].name, **sums}
    project = state.projects[key]
    client = state.clients[project.client_id]
    return {
        "client_id": client.id,
        "client_name": client.name,
        "project_id": key,
        "project_name": project.name,
        **sums,
    }


@time_router.patch("/time_entries/{entry_id}/stop")
async def stop_timer(request: Request, caller: Caller, entry_id: int) -> dict[str, Any]:
    """Stop a running timer: its hours grow by the time since it (re)started."""
    state = harvest_state(request)
    entry = _entry(state, entry_id)
    _may_touch(state, caller, entry)
    if not entry.is_running or entry.timer_started_at is None:
        raise ApiError(422, "Time entry is not running")
    started = dt.datetime.fromisoformat(entry.timer_started_at)
    entry.hours = round(entry.hours + (state.now() - started).total_seconds() / 3600, 4)
    entry.is_running, entry.timer_started_at = False, None
    state.touch(entry)
    return entry_json(state, entry)


@time_router.patch("/time_entries/{entry_id}/restart")
async def restart_timer(request: Request, caller: Caller, entry_id: int) -> dict[str, Any]:
    state = harvest_state(request)
    entry = _entry(state, entry_id)
    _may_touch(state, caller, entry)
    if entry.is_running:
        raise ApiError(422, "Time entry is already running")
    entry.is_running, entry.timer_started_at = True, stamp(state.now())
    state.touch(entry)
    return entry_json(state, entry)
