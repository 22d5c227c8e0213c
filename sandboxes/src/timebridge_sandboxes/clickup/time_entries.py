"""``/api/v2/team/{team_id}/time_entries``: list by start window, read, create, update, delete."""

import time
from typing import Any

from fastapi import APIRouter, Request

from timebridge_sandboxes.clickup.http import (
    Caller,
    ClickUpError,
    deliver,
    read_json,
    team,
)
from timebridge_sandboxes.clickup.state import ClickUpState, Entry, User, now_ms

router = APIRouter(prefix="/api/v2/team/{team_id}/time_entries")
THIRTY_DAYS_MS = 30 * 86_400_000


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ClickUpError(400, f"{what} must be a number", "INPUT_003")
    try:
        return int(value)
    except ValueError:
        raise ClickUpError(400, f"{what} must be a number", "INPUT_003") from None


def _entry(state: ClickUpState, timer_id: str, user: User) -> Entry:
    entry = state.entries.get(timer_id)
    if entry is None or (entry.user != user.id and not user.admin):
        raise ClickUpError(404, "Time entry not found", "TIMEENTRY_005")
    return entry


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ClickUpError(400, f"{what} must be a string", "INPUT_003")
    return value


@router.get("")
async def list_entries(request: Request, team_id: str, user: Caller) -> dict[str, Any]:
    state = team(request, team_id)
    query = request.query_params
    end = _int(query.get("end_date", now_ms()), "end_date")
    start = _int(query.get("start_date", end - THIRTY_DAYS_MS), "start_date")
    wanted = {user.id}
    if query.get("assignee"):
        wanted = {_int(a, "assignee") for a in query["assignee"].split(",") if a}
        if wanted != {user.id} and not user.admin:
            raise ClickUpError(401, "Only owners and admins may see others' time", "OAUTH_023")
    listed = [
        state.render_entry(e)
        for e in sorted(state.entries.values(), key=lambda e: e.start)
        if e.user in wanted and start <= e.start <= end
    ]
    return {"data": listed}


def _stop_running(state: ClickUpState, user: User) -> Entry | None:
    """Stop the user's running timer, if any (its duration becomes the time it ran)."""
    running = next(
        (e for e in state.entries.values() if e.user == user.id and e.duration < 0), None
    )
    if running is None:
        return None
    before = Entry(**vars(running))
    running.duration = max(0, now_ms() - running.start)
    running.at = now_ms()
    state.notify(running, before=before, deleted=False, by=user.id)
    return running


@router.post("/start")
async def start_timer(request: Request, team_id: str, user: Caller) -> Any:
    """Start a timer for the caller now (a running one is stopped first)."""
    state = team(request, team_id)
    body = await read_json(request)
    tid = body.get("tid")
    if tid is None or _text(tid, "tid") not in state.tasks:
        raise ClickUpError(400, "A time entry needs a task on this plan", "TIMEENTRY_029")
    _stop_running(state, user)
    start = now_ms()
    entry = Entry(
        f"{state.next_id()}{int(time.time()) % 1000:03d}",
        user.id,
        tid,
        start,
        -start,
        _text(body.get("description", ""), "description"),
        bool(body.get("billable", False)),
    )
    state.entries[entry.id] = entry
    await deliver(request)
    rendered = state.render_entry(entry)
    rendered |= {"duration": entry.duration, "at": entry.at}
    return {"data": rendered}


@router.post("/stop")
async def stop_timer(request: Request, team_id: str, user: Caller) -> Any:
    state = team(request, team_id)
    stopped = _stop_running(state, user)
    if stopped is None:
        raise ClickUpError(400, "No timer running", "TIMEENTRY_047")
    await deliver(request)
    rendered = state.render_entry(stopped)
    rendered |= {"end": int(rendered["end"]), "duration": stopped.duration, "at": stopped.at}
    return {"data": rendered}


@router.get("/{timer_id}")
async def get_entry(request: Request, team_id: str, timer_id: str, user: Caller) -> Any:
    state = team(request, team_id)
    return {"data": state.render_entry(_entry(state, timer_id, user))}


@router.post("")
async def create_entry(request: Request, team_id: str, user: Caller) -> Any:
    state = team(request, team_id)
    body = await read_json(request)
    if "start" not in body:
        raise ClickUpError(400, "Start is required", "TIMEENTRY_001")
    start = _int(body["start"], "start")
    if body.get("end") is not None or body.get("stop") is not None:
        duration = _int(body.get("end", body.get("stop")), "end") - start
    elif "duration" in body:
        duration = _int(body["duration"], "duration")
    else:
        raise ClickUpError(400, "Duration or end is required", "TIMEENTRY_002")
    assignee = _int(body.get("assignee", user.id), "assignee")
    if assignee not in state.users:
        raise ClickUpError(400, "Assignee is not a member of the workspace", "TIMEENTRY_010")
    if assignee != user.id and not user.admin:
        raise ClickUpError(401, "Members may log time only for themselves", "OAUTH_023")
    tid = body.get("tid")
    if tid is None:
        raise ClickUpError(400, "A time entry needs a task on this plan", "TIMEENTRY_029")
    if _text(tid, "tid") not in state.tasks:
        raise ClickUpError(404, "Task not found", "ITEM_015")
    entry = Entry(
        f"{state.next_id()}{int(time.time()) % 1000:03d}",
        assignee,
        tid,
        start,
        duration if duration >= 0 else -start,
        _text(body.get("description", ""), "description"),
        bool(body.get("billable", False)),
    )
    state.entries[entry.id] = entry
    state.notify(entry, before=None, deleted=False, by=user.id)
    await deliver(request)
    rendered = state.render_entry(entry)
    # The spec documents the flat shape below; ClickUp answers {"data": {...}}: both are here.
    return {
        "data": rendered,
        "description": entry.description,
        "tags": [],
        "start": entry.start,
        "billable": entry.billable,
        "duration": entry.duration,
        "assignee": entry.user,
        "tid": entry.task,
    }


@router.put("/{timer_id}")
async def update_entry(request: Request, team_id: str, timer_id: str, user: Caller) -> Any:
    state = team(request, team_id)
    entry = _entry(state, timer_id, user)
    body = await read_json(request)
    if not isinstance(body.get("tags"), list):
        raise ClickUpError(400, "Tags must be an array", "TIMEENTRY_019")
    if entry.locked:
        raise ClickUpError(400, "Time entry is approved and locked", "TIMEENTRY_077")
    if ("start" in body) != ("end" in body):
        raise ClickUpError(400, "Start and end go together", "TIMEENTRY_004")
    before = Entry(**vars(entry))
    if "start" in body:
        entry.start = _int(body["start"], "start")
        entry.duration = _int(body["end"], "end") - entry.start
    elif "duration" in body:
        entry.duration = _int(body["duration"], "duration")
    if "description" in body:
        entry.description = _text(body["description"], "description")
    if "billable" in body:
        entry.billable = bool(body["billable"])
    if body.get("tid") is not None:
        if _text(body["tid"], "tid") not in state.tasks:
            raise ClickUpError(404, "Task not found", "ITEM_015")
        entry.task = body["tid"]
    entry.at = now_ms()
    state.notify(entry, before=before, deleted=False, by=user.id)
    await deliver(request)
    return {"data": [state.render_entry(entry)]}


@router.delete("/{timer_id}")
async def delete_entry(request: Request, team_id: str, timer_id: str, user: Caller) -> Any:
    state = team(request, team_id)
    entry = _entry(state, timer_id, user)
    if entry.locked:
        raise ClickUpError(400, "Time entry is approved and locked", "TIMEENTRY_077")
    del state.entries[timer_id]
    state.notify(entry, before=entry, deleted=True, by=user.id)
    await deliver(request)
    gone = state.render_entry(entry)  # answered with numbers where the listing has strings
    gone |= {"end": int(gone["end"]), "duration": entry.duration, "at": entry.at}
    return {"data": gone}


__all__ = ["router"]
