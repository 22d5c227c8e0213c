"""Toggl API v9 time entries: ``/me/time_entries`` reads and ``/workspaces/{wid}/time_entries``
writes, as documented (engineering.toggl.com/docs/api/time_entries)."""

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request

from timebridge_sandboxes.faults import ApiError
from timebridge_sandboxes.toggl.http import Caller, deliver, read_json, toggl_state, workspace
from timebridge_sandboxes.toggl.state import Entry, TogglState, User, now

router = APIRouter(prefix="/api/v9")


def _moment(value: object, name: str) -> dt.datetime:
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be an RFC 3339 date and time")
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{name} must be an RFC 3339 date and time") from None
    if moment.tzinfo is None:
        raise ApiError(400, f"{name} must carry an offset")
    return moment.astimezone(dt.UTC)


def _bound(value: str | None, name: str, user: User) -> dt.datetime | None:
    """``start_date``/``end_date``/``before``: a date (in the user's zone) or RFC 3339."""
    if value is None:
        return None
    if len(value) == 10:
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise ApiError(400, f"{name} must be YYYY-MM-DD or RFC 3339") from None
        return dt.datetime.combine(day, dt.time(), tzinfo=user.zone).astimezone(dt.UTC)
    return _moment(value, name)


def _own(state: TogglState, user: User, entry_id: int) -> Entry:
    entry = state.entries.get(entry_id)
    if entry is None or entry.user_id != user.id or entry.server_deleted_at is not None:
        raise ApiError(404, "Time entry not found")
    return entry


@router.get("/me/time_entries")
async def my_entries(
    request: Request,
    user: Caller,
    *,
    since: int | None = None,
    before: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
) -> list[dict[str, Any]]:
    """``since`` (unix seconds): changed since, deleted ones included; else by start time
    (``start_date``/``end_date`` together, or ``before``; by default the last 9 days)."""
    state = toggl_state(request)
    mine = [e for e in state.entries.values() if e.user_id == user.id]
    if since is not None:
        if since < 0:
            raise ApiError(400, "since must be a unix timestamp")
        after = dt.datetime.fromtimestamp(since, dt.UTC)
        found = [e for e in mine if e.at >= after]
    else:
        if (start_date is None) != (end_date is None):
            raise ApiError(400, "start_date and end_date must be given together")
        low = _bound(start_date, "start_date", user) or now() - dt.timedelta(days=9)
        high = _bound(end_date, "end_date", user) or _bound(before, "before", user)
        found = [
            e
            for e in mine
            if e.server_deleted_at is None and e.start >= low and (high is None or e.start < high)
        ]
    found.sort(key=lambda e: e.start, reverse=True)
    return [state.entry_json(e) for e in found]


@router.get("/me/time_entries/current")
async def current(request: Request, user: Caller) -> dict[str, Any] | None:
    state = toggl_state(request)
    running = [e for e in state.live() if e.user_id == user.id and e.duration < 0]
    return state.entry_json(running[0]) if running else None


@router.get("/me/time_entries/{entry_id}")
async def my_entry(request: Request, user: Caller, entry_id: int) -> dict[str, Any]:
    state = toggl_state(request)
    return state.entry_json(_own(state, user, entry_id))


def _apply(state: TogglState, entry: Entry, body: dict[str, Any], user: User) -> None:
    """Set what ``body`` names (a create sends all, an update only what changed)."""
    if "project_id" in body or "pid" in body:
        project = body.get("project_id", body.get("pid"))
        if project is not None and project not in state.projects:
            raise ApiError(400, "Invalid project_id")
        entry.project_id = project
    if "task_id" in body or "tid" in body:
        _apply_task(state, entry, body.get("task_id", body.get("tid")))
    if "description" in body:
        entry.description = str(body["description"] or "")
    if "tags" in body:
        entry.tags = [str(t) for t in body["tags"] or []]
    if "billable" in body:
        if body["billable"] and not state.premium:
            raise ApiError(402, "Billable time entries are available on paid plans")
        entry.billable = bool(body["billable"])
    _apply_times(entry, body)
    del user


def _apply_times(entry: Entry, body: dict[str, Any]) -> None:
    """``start`` and the ``duration`` (negative: a running timer) or else ``stop``."""
    if "start" in body:
        entry.start = _moment(body["start"], "start").replace(microsecond=0)  # whole seconds
    duration, stop = body.get("duration"), body.get("stop")
    if duration is not None:
        if not isinstance(duration, int):
            raise ApiError(400, "duration must be an integer number of seconds")
        entry.duration = -int(entry.start.timestamp()) if duration < 0 else duration
    elif stop is not None:
        seconds = (_moment(stop, "stop") - entry.start).total_seconds()
        if seconds < 0:
            raise ApiError(400, "stop must be after start")
        entry.duration = int(seconds)


def _apply_task(state: TogglState, entry: Entry, task: Any) -> None:
    if task is not None:
        if not state.premium:
            raise ApiError(402, "Tasks are available on paid plans")
        found = state.tasks.get(task)
        if found is None or (entry.project_id and found.project_id != entry.project_id):
            raise ApiError(400, "Invalid task_id")
        entry.project_id = found.project_id
    entry.task_id = task


@router.post("/workspaces/{workspace_id}/time_entries")
async def create(request: Request, caller: Caller, workspace_id: int) -> dict[str, Any]:
    state = workspace(request, workspace_id)
    body = await read_json(request)
    if not isinstance(body.get("created_with"), str) or not body["created_with"]:
        raise ApiError(400, "created_with needs to be provided an a valid string")
    if body.get("workspace_id", body.get("wid")) not in (None, workspace_id):
        raise ApiError(400, "workspace_id in the body does not match the path")
    if "start" not in body:
        raise ApiError(400, "start is required")
    if body.get("duration") is None and body.get("stop") is None:
        raise ApiError(400, "duration or stop is required")
    owner = body.get("user_id", caller.id)
    if owner != caller.id and not caller.admin:
        raise ApiError(403, "Only workspace admins can add time for other users")
    if owner not in state.users:
        raise ApiError(400, "Invalid user_id")
    entry = Entry(state.next_id(), owner, now(), 0)
    _apply(state, entry, body, caller)
    state.entries[entry.id] = entry
    state.announce(entry, "created")
    await deliver(request)
    return state.entry_json(entry)


def _writable(state: TogglState, caller: User, entry_id: int) -> Entry:
    entry = state.entries.get(entry_id)
    if entry is None or entry.server_deleted_at is not None:
        raise ApiError(404, "Time entry not found")
    if entry.user_id != caller.id and not caller.admin:
        raise ApiError(403, "User does not have access to this resource.")
    if entry.locked:
        raise ApiError(403, "Time entry is locked: it lies before the workspace's lock date")
    return entry


@router.put("/workspaces/{workspace_id}/time_entries/{entry_id}")
async def update(
    request: Request, caller: Caller, workspace_id: int, entry_id: int
) -> dict[str, Any]:
    state = workspace(request, workspace_id)
    body = await read_json(request)
    entry = _writable(state, caller, entry_id)
    if body.get("user_id", entry.user_id) != entry.user_id:
        raise ApiError(400, "A time entry cannot be moved to another user")
    _apply(state, entry, body, caller)
    entry.at = now()
    state.announce(entry, "updated")
    await deliver(request)
    return state.entry_json(entry)


@router.patch("/workspaces/{workspace_id}/time_entries/{entry_id}/stop")
async def stop(
    request: Request, caller: Caller, workspace_id: int, entry_id: int
) -> dict[str, Any]:
    state = workspace(request, workspace_id)
    entry = _writable(state, caller, entry_id)
    if entry.duration >= 0:
        raise ApiError(409, "Time entry is already stopped")
    entry.duration = max(0, int((now() - entry.start).total_seconds()))
    entry.at = now()
    state.announce(entry, "updated")
    await deliver(request)
    return state.entry_json(entry)


@router.delete("/workspaces/{workspace_id}/time_entries/{entry_id}")
async def delete(request: Request, caller: Caller, workspace_id: int, entry_id: int) -> None:
    state = workspace(request, workspace_id)
    entry = _writable(state, caller, entry_id)
    entry.server_deleted_at = entry.at = now()
    state.announce(entry, "deleted")
    await deliver(request)
