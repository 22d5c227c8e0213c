"""Clockify API v1 routes (under ``/api/v1``) and the summary report (under ``/report/v1``, as
on Clockify's regional hosts), as ``clockify-v1-openapi.yaml`` describes them."""

import datetime as dt
import json
from collections import defaultdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from timebridge_sandboxes.clockify.state import ClockifyState, Entry, User, now
from timebridge_sandboxes.faults import ApiError

api = APIRouter(prefix="/api/v1")
reports = APIRouter(prefix="/report/v1")
admin = APIRouter(prefix="/_sandbox", tags=["sandbox"])
_CODES = {400: 501, 401: 1000, 403: 1001, 404: 1002, 429: 1003}


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"message": message, "code": _CODES.get(status, status)}


def clockify_state(request: Request) -> ClockifyState:
    state: ClockifyState = request.app.state.clockify
    return state


def caller(request: Request) -> User:
    """``X-Api-Key``, then the per-key limit of 50 requests a second."""
    user = clockify_state(request).user_by_key(request.headers.get("x-api-key"))
    if user is None:
        raise ApiError(401, "Full authentication is required to access this resource")
    request.app.state.limit.admit(user.api_key)
    return user


Caller = Annotated[User, Depends(caller)]
PageQ = Annotated[int, Query(ge=1)]
SizeQ = Annotated[int, Query(alias="page-size", ge=1, le=5000)]


def _workspace(request: Request, workspace_id: str) -> ClockifyState:
    state = clockify_state(request)
    if workspace_id != state.workspace_id:
        raise ApiError(403, "Access denied to workspace")
    return state


def _paged(state: ClockifyState, items: list[dict[str, Any]], page: int, size: int) -> Response:
    size = min(size, state.page_cap) if state.page_cap else size
    shown = items[(page - 1) * size : page * size]
    last = page * size >= len(items)
    return JSONResponse(shown, headers={"Last-Page": str(last).lower()})


async def _json(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "Malformed JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "Malformed JSON")
    return data


def _moment(value: object, name: str) -> dt.datetime:
    if not isinstance(value, str):
        raise ApiError(400, f"{name} is required (yyyy-MM-ddThh:mm:ssZ)")
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{name} is not a date and time (yyyy-MM-ddThh:mm:ssZ)") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


@api.get("/user")
async def me(request: Request, user: Caller) -> dict[str, Any]:
    return clockify_state(request).user_json(user)


@api.get("/workspaces/{workspace_id}/users")
async def users(
    request: Request, caller: Caller, workspace_id: str, page: PageQ = 1, size: SizeQ = 50
) -> Response:
    state = _workspace(request, workspace_id)
    if not caller.admin:
        raise ApiError(403, "Only workspace admins can list users")
    return _paged(state, [state.user_json(u) for u in state.users.values()], page, size)


@api.get("/workspaces/{workspace_id}/projects")
async def projects(
    request: Request, _: Caller, workspace_id: str, page: PageQ = 1, size: SizeQ = 50
) -> Response:
    state = _workspace(request, workspace_id)
    return _paged(state, [state.project_json(p) for p in state.projects.values()], page, size)


@api.get("/workspaces/{workspace_id}/projects/{project_id}")
async def project(request: Request, _: Caller, workspace_id: str, project_id: str) -> Any:
    state = _workspace(request, workspace_id)
    if project_id not in state.projects:
        raise ApiError(404, "Project doesn't exist")
    return state.project_json(state.projects[project_id])


@api.get("/workspaces/{workspace_id}/projects/{project_id}/tasks")
async def tasks(
    request: Request,
    _: Caller,
    workspace_id: str,
    project_id: str,
    page: PageQ = 1,
    size: SizeQ = 50,
) -> Response:
    state = _workspace(request, workspace_id)
    if project_id not in state.projects:
        raise ApiError(404, "Project doesn't exist")
    found = [state.task_json(t) for t in state.tasks.values() if t.project_id == project_id]
    return _paged(state, found, page, size)


@api.get("/workspaces/{workspace_id}/projects/{project_id}/tasks/{task_id}")
async def task(
    request: Request, _: Caller, workspace_id: str, project_id: str, task_id: str
) -> Any:
    state = _workspace(request, workspace_id)
    found = state.tasks.get(task_id)
    if found is None or found.project_id != project_id:
        raise ApiError(404, "Task doesn't exist")
    return state.task_json(found)


@api.post("/workspaces/{workspace_id}/projects/{project_id}/tasks", status_code=201)
async def create_task(request: Request, caller: Caller, workspace_id: str, project_id: str) -> Any:
    state = _workspace(request, workspace_id)
    body = await _json(request)
    if project_id not in state.projects:
        raise ApiError(404, "Project doesn't exist")
    if not caller.admin:
        raise ApiError(403, "Only workspace admins can create tasks")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, "Task name is required")
    if any(t.name == name and t.project_id == project_id for t in state.tasks.values()):
        raise ApiError(400, "Task with name already exists")
    return state.task_json(state.tasks[state.add_task(project_id, name)])


@api.get("/workspaces/{workspace_id}/user/{user_id}/time-entries")
async def user_entries(
    request: Request,
    caller: Caller,
    workspace_id: str,
    user_id: str,
    *,
    page: PageQ = 1,
    size: SizeQ = 50,
    start: str | None = None,
    end: str | None = None,
) -> Response:
    """The user's entries, newest start first, filtered by start (``in-progress`` ones too)."""
    state = _workspace(request, workspace_id)
    if user_id != caller.id and not caller.admin:
        raise ApiError(403, "Only workspace admins can see other users' time entries")
    low = _moment(start, "start") if start else None
    high = _moment(end, "end") if end else None
    found = [
        e
        for e in state.entries.values()
        if e.user_id == user_id
        and (low is None or e.start >= low)
        and (high is None or e.start <= high)
    ]
    found.sort(key=lambda e: e.start, reverse=True)
    return _paged(state, [state.entry_json(e) for e in found], page, size)


def _apply(state: ClockifyState, entry: Entry, body: dict[str, Any]) -> None:
    """A create or ``PUT``: every field is set from the body (``PUT`` replaces)."""
    entry.start = _moment(body.get("start"), "start")
    entry.end = _moment(body["end"], "end") if body.get("end") is not None else None
    if entry.end is not None and entry.end < entry.start:
        raise ApiError(400, "End date must be after start date")
    project, task = body.get("projectId"), body.get("taskId")
    if project is not None and project not in state.projects:
        raise ApiError(400, "Project doesn't exist")
    if task is not None:
        found = state.tasks.get(task)
        if found is None or found.project_id != project:
            raise ApiError(400, "Task doesn't belong to project")
    entry.project_id, entry.task_id = project, task
    entry.description = str(body.get("description") or "")
    entry.billable = bool(body.get("billable", False))
    entry.tag_ids = [str(t) for t in body.get("tagIds") or []]


async def _create(request: Request, caller: User, workspace_id: str, owner: str) -> Any:
    state = _workspace(request, workspace_id)
    body = await _json(request)
    if owner != caller.id and not caller.admin:
        raise ApiError(403, "Only workspace admins can add time for others")
    if owner not in state.users:
        raise ApiError(404, "User doesn't exist")
    entry = Entry(state.next_id(), owner, now(), None)
    _apply(state, entry, body)
    state.entries[entry.id] = entry
    await request.app.state.announce(request, entry, "NEW_TIME_ENTRY")
    return JSONResponse(state.entry_json(entry), status_code=201)


@api.post("/workspaces/{workspace_id}/time-entries", status_code=201)
async def create_own(request: Request, caller: Caller, workspace_id: str) -> Any:
    return await _create(request, caller, workspace_id, caller.id)


@api.post("/workspaces/{workspace_id}/user/{user_id}/time-entries", status_code=201)
async def create_for(request: Request, caller: Caller, workspace_id: str, user_id: str) -> Any:
    return await _create(request, caller, workspace_id, user_id)


def _entry(state: ClockifyState, caller: User, entry_id: str, *, write: bool) -> Entry:
    entry = state.entries.get(entry_id)
    if entry is None or (entry.user_id != caller.id and not caller.admin):
        raise ApiError(404, "Time entry doesn't exist")
    if write and entry.locked:
        raise ApiError(400, "Time entry is locked (approved or in a locked period)")
    return entry


@api.get("/workspaces/{workspace_id}/time-entries/{entry_id}")
async def read(request: Request, caller: Caller, workspace_id: str, entry_id: str) -> Any:
    state = _workspace(request, workspace_id)
    return state.entry_json(_entry(state, caller, entry_id, write=False))


@api.put("/workspaces/{workspace_id}/time-entries/{entry_id}")
async def update(request: Request, caller: Caller, workspace_id: str, entry_id: str) -> Any:
    state = _workspace(request, workspace_id)
    body = await _json(request)
    entry = _entry(state, caller, entry_id, write=True)
    _apply(state, entry, body)
    await request.app.state.announce(request, entry, "TIME_ENTRY_UPDATED")
    return state.entry_json(entry)


@api.delete("/workspaces/{workspace_id}/time-entries/{entry_id}", status_code=204)
async def delete(request: Request, caller: Caller, workspace_id: str, entry_id: str) -> Response:
    state = _workspace(request, workspace_id)
    entry = state.entries.pop(_entry(state, caller, entry_id, write=True).id)
    await request.app.state.announce(request, entry, "TIME_ENTRY_DELETED")
    return Response(status_code=204)


@reports.post("/workspaces/{workspace_id}/reports/summary")
async def summary(request: Request, _: Caller, workspace_id: str) -> Any:
    """Seconds grouped by the first two of ``summaryFilter.groups`` (PROJECT, TASK, USER) for
    entries starting within ``dateRangeStart``..``dateRangeEnd``, of the ``users`` filtered."""
    state = _workspace(request, workspace_id)
    body = await _json(request)
    low = _moment(body.get("dateRangeStart"), "dateRangeStart")
    high = _moment(body.get("dateRangeEnd"), "dateRangeEnd")
    groups = (body.get("summaryFilter") or {}).get("groups") or ["PROJECT", "TIMEENTRY"]
    keys = {"USER": "user_id", "PROJECT": "project_id", "TASK": "task_id"}
    first, second = keys.get(groups[0]), keys.get(groups[1]) if len(groups) > 1 else None
    if first is None:
        raise ApiError(400, "summaryFilter.groups must start with PROJECT, TASK or USER")
    users = (body.get("users") or {}).get("ids") or None
    totals: dict[Any, dict[Any, int]] = defaultdict(lambda: defaultdict(int))
    total = 0
    for entry in state.entries.values():
        if entry.end is None or not low <= entry.start <= high:
            continue
        if users is not None and entry.user_id not in users:
            continue
        seconds = int((entry.end - entry.start).total_seconds())
        totals[getattr(entry, first)][getattr(entry, second) if second else None] += seconds
        total += seconds
    rows = [
        {
            "_id": group or "",
            "id": group or "",
            "duration": sum(subs.values()),
            "children": [
                {"_id": s or "", "id": s or "", "duration": n} for s, n in subs.items() if second
            ],
        }
        for group, subs in totals.items()
    ]
    count = sum(1 for e in state.entries.values() if e.end is not None)
    return {"totals": [{"id": "", "totalTime": total, "entriesCount": count}], "groupOne": rows}


@admin.post("/time-entries/{entry_id}/lock", status_code=204)
async def lock(request: Request, entry_id: str) -> Response:
    entry = clockify_state(request).entries.get(entry_id)
    if entry is None:
        raise ApiError(404, "Time entry doesn't exist")
    entry.locked = True
    return Response(status_code=204)
