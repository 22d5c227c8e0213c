"""Xero Projects API routes: project users, projects, tasks and time entries, as the spec
(``xero-projects.yaml``) describes them. Paths are matched in lower case (see
:class:`~.http.CaseInsensitivePaths`); ids are UUIDs, compared in lower case."""

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from timebridge_sandboxes.faults import ApiError
from timebridge_sandboxes.xero_projects.http import (
    API,
    Caller,
    ModelStateError,
    moment,
    paging,
    projects_state,
    read_json,
)
from timebridge_sandboxes.xero_projects.state import Entry, Project, Task, XeroProjectsState
from timebridge_sandboxes.xero_projects.state import page as paged

router = APIRouter(prefix=API.lower())
MAX_MINUTES = 59940
LOCKED_MESSAGE = "Time entry cannot be changed because its status is {status}."


def _project(state: XeroProjectsState, project_id: str) -> Project:
    project = state.projects.get(project_id.lower())
    if project is None:
        raise ApiError(404, "The resource you're looking for cannot be found")
    return project


def _task(state: XeroProjectsState, project: Project, task_id: str) -> Task:
    task = state.tasks.get(task_id.lower())
    if task is None or task.project_id != project.project_id:
        raise ApiError(404, "The resource you're looking for cannot be found")
    return task


def _entry(state: XeroProjectsState, project: Project, entry_id: str) -> Entry:
    entry = state.entries.get(entry_id.lower())
    if entry is None or entry.project_id != project.project_id:
        raise ApiError(404, "The resource you're looking for cannot be found")
    return entry


async def _keyed(request: Request, make: Callable[[], Awaitable[tuple[int, Any]]]) -> Response:
    """Apply a write once per ``Idempotency-Key``: a repeat gets the first answer again."""
    state = projects_state(request)
    key = request.headers.get("idempotency-key")
    slot = (request.method, request.url.path.lower(), key or "")
    if key and slot in state.replies:
        status, body = state.replies[slot]
    else:
        status, body = await make()
        if key:
            state.replies[slot] = (status, body)
    if body is None:
        return Response(status_code=status)
    return JSONResponse(body, status_code=status)


@router.get("/projectsusers")
async def project_users(
    request: Request, _: Caller, page: int | None = None, pageSize: int | None = None
) -> dict[str, Any]:
    state = projects_state(request)
    number, size = paging(page, pageSize, state)
    users = [{"userId": u.user_id, "name": u.name, "email": u.email} for u in state.users.values()]
    return paged(users, number, size)


@router.get("/projects")
async def projects(
    request: Request,
    _: Caller,
    *,
    projectIds: str | None = None,
    contactID: str | None = None,
    states: str | None = None,
    page: int | None = None,
    pageSize: int | None = None,
) -> dict[str, Any]:
    state = projects_state(request)
    number, size = paging(page, pageSize, state)
    chosen = list(state.projects.values())
    if projectIds:
        wanted = {p.strip().lower() for p in projectIds.split(",")}
        chosen = [p for p in chosen if p.project_id in wanted]
    if contactID:
        chosen = [p for p in chosen if p.contact_id == contactID.lower()]
    if states:
        allowed = {s.strip().upper() for s in states.split(",")}
        chosen = [p for p in chosen if p.status in allowed]
    return paged([state.project_json(p) for p in chosen], number, size)


@router.get("/projects/{project_id}")
async def project(request: Request, _: Caller, project_id: str) -> dict[str, Any]:
    state = projects_state(request)
    return state.project_json(_project(state, project_id))


@router.get("/projects/{project_id}/tasks")
async def tasks(
    request: Request,
    _: Caller,
    *,
    project_id: str,
    page: int | None = None,
    pageSize: int | None = None,
    taskIds: str | None = None,
    chargeType: str | None = None,
) -> dict[str, Any]:
    state = projects_state(request)
    number, size = paging(page, pageSize, state)
    found = _project(state, project_id)
    chosen = [t for t in state.tasks.values() if t.project_id == found.project_id]
    if taskIds:
        wanted = {t.strip().lower() for t in taskIds.split(",")}
        chosen = [t for t in chosen if t.task_id in wanted]
    if chargeType:
        chosen = [t for t in chosen if t.charge_type == chargeType.upper()]
    return paged([state.task_json(t) for t in chosen], number, size)


@router.get("/projects/{project_id}/tasks/{task_id}")
async def task(request: Request, _: Caller, project_id: str, task_id: str) -> dict[str, Any]:
    state = projects_state(request)
    return state.task_json(_task(state, _project(state, project_id), task_id))


def _task_fields(body: dict[str, Any]) -> tuple[str, str, float]:
    name, rate, charge = body.get("name"), body.get("rate"), body.get("chargeType")
    problems: dict[str, list[str]] = {}
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        problems["name"] = ["name is required (at most 100 characters)."]
    if charge not in {"TIME", "FIXED", "NON_CHARGEABLE"}:
        problems["chargeType"] = ["chargeType must be TIME, FIXED or NON_CHARGEABLE."]
    value = rate.get("value") if isinstance(rate, dict) else None
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        problems["rate"] = ["rate with a value is required."]
    if problems:
        raise ModelStateError("Validation failed.", problems)
    assert isinstance(name, str)
    assert isinstance(charge, str)
    assert isinstance(value, int | float)
    return name.strip(), charge, float(value)


@router.post("/projects/{project_id}/tasks")
async def create_task(request: Request, _: Caller, project_id: str) -> Response:
    state = projects_state(request)
    found = _project(state, project_id)
    body = await read_json(request)

    async def make() -> tuple[int, Any]:
        name, charge, rate = _task_fields(body)
        made = state.add_task(found, name, charge)
        made.rate = rate
        return 201, state.task_json(made)

    return await _keyed(request, make)


@router.delete("/projects/{project_id}/tasks/{task_id}", status_code=204)
async def delete_task(request: Request, _: Caller, project_id: str, task_id: str) -> Response:
    state = projects_state(request)
    found = _task(state, _project(state, project_id), task_id)
    if any(e.task_id == found.task_id for e in state.entries.values()):
        raise ApiError(400, "A task with time entries cannot be deleted.")
    del state.tasks[found.task_id]
    return Response(status_code=204)


@router.get("/projects/{project_id}/time")
async def time_entries(
    request: Request,
    _: Caller,
    *,
    project_id: str,
    userId: str | None = None,
    taskId: str | None = None,
    invoiceId: str | None = None,  # noqa: ARG001 - documented; nothing here is invoiced by id
    contactId: str | None = None,
    page: int | None = None,
    pageSize: int | None = None,
    states: str | None = None,
    isChargeable: bool | None = None,
    dateAfterUtc: str | None = None,
    dateBeforeUtc: str | None = None,
) -> dict[str, Any]:
    state = projects_state(request)
    number, size = paging(page, pageSize, state)
    found = _project(state, project_id)
    chosen = [e for e in state.entries.values() if e.project_id == found.project_id]
    if contactId and contactId.lower() != found.contact_id:
        chosen = []
    if userId:
        chosen = [e for e in chosen if e.user_id == userId.lower()]
    if taskId:
        chosen = [e for e in chosen if e.task_id == taskId.lower()]
    if states:
        allowed = {s.strip().upper() for s in states.split(",")}
        chosen = [e for e in chosen if e.status in allowed]
    if isChargeable is not None:
        chosen = [
            e
            for e in chosen
            if (state.tasks[e.task_id].charge_type != "NON_CHARGEABLE") == isChargeable
        ]
    if dateAfterUtc:
        after = moment(dateAfterUtc, "dateAfterUtc")
        chosen = [e for e in chosen if e.date_utc >= after]
    if dateBeforeUtc:
        before = moment(dateBeforeUtc, "dateBeforeUtc")
        chosen = [e for e in chosen if e.date_utc <= before]
    chosen.sort(key=lambda e: (e.date_utc, e.entered))
    return paged([state.entry_json(e) for e in chosen], number, size)


@router.get("/projects/{project_id}/time/{entry_id}")
async def time_entry(request: Request, _: Caller, project_id: str, entry_id: str) -> Any:
    state = projects_state(request)
    return state.entry_json(_entry(state, _project(state, project_id), entry_id))


def _entry_fields(
    state: XeroProjectsState, project: Project, body: dict[str, Any]
) -> dict[str, Any]:
    """The fields of ``TimeEntryCreateOrUpdate``, checked as Xero checks them."""
    problems: dict[str, list[str]] = {}
    user_id, task_id = body.get("userId"), body.get("taskId")
    duration, description = body.get("duration"), body.get("description")
    if not isinstance(user_id, str) or user_id.lower() not in state.users:
        problems["userId"] = ["userId must be a user of the projects."]
    task = state.tasks.get(task_id.lower()) if isinstance(task_id, str) else None
    if task is None or task.project_id != project.project_id:
        problems["taskId"] = ["taskId must be a task of the project."]
    if (
        not isinstance(duration, int)
        or isinstance(duration, bool)
        or not 1 <= duration <= MAX_MINUTES
    ):
        problems["duration"] = [f"duration must be between 1 and {MAX_MINUTES} minutes."]
    if description is not None and (not isinstance(description, str) or "\x00" in description):
        problems["description"] = ["description must be text."]
    if problems:
        raise ModelStateError("Validation failed.", problems)
    assert isinstance(user_id, str)
    assert task is not None
    if task.status != "ACTIVE":
        raise ApiError(400, "Time cannot be logged against an invoiced or locked task.")
    return {
        "user_id": user_id.lower(),
        "task_id": task.task_id,
        "date_utc": moment(body.get("dateUtc"), "dateUtc"),
        "duration": duration,
        "description": description,
    }


@router.post("/projects/{project_id}/time")
async def create_time_entry(request: Request, _: Caller, project_id: str) -> Response:
    state = projects_state(request)
    found = _project(state, project_id)
    body = await read_json(request)

    async def make() -> tuple[int, Any]:
        fields = _entry_fields(state, found, body)
        entry = Entry(str(uuid.uuid4()), project_id=found.project_id, **fields)
        state.entries[entry.time_entry_id] = entry
        return 200, state.entry_json(entry)

    return await _keyed(request, make)


def _writable(entry: Entry) -> None:
    if entry.status != "ACTIVE":
        raise ApiError(400, LOCKED_MESSAGE.format(status=entry.status))


@router.put("/projects/{project_id}/time/{entry_id}")
async def update_time_entry(
    request: Request, _: Caller, project_id: str, entry_id: str
) -> Response:
    state = projects_state(request)
    found = _project(state, project_id)
    entry = _entry(state, found, entry_id)
    body = await read_json(request)

    async def make() -> tuple[int, Any]:
        _writable(entry)
        fields = _entry_fields(state, found, body)
        for name, value in fields.items():
            setattr(entry, name, value)  # description not sent becomes null, as documented
        return 204, None

    return await _keyed(request, make)


@router.delete("/projects/{project_id}/time/{entry_id}", status_code=204)
async def delete_time_entry(
    request: Request, _: Caller, project_id: str, entry_id: str
) -> Response:
    state = projects_state(request)
    entry = _entry(state, _project(state, project_id), entry_id)
    _writable(entry)
    del state.entries[entry.time_entry_id]
    return Response(status_code=204)


admin = APIRouter(prefix="/_sandbox")


@admin.post("/time/{entry_id}/invoice")
async def invoice_entry(request: Request, entry_id: str) -> dict[str, Any]:
    """Invoice an entry, as raising an invoice for the project in Xero does."""
    state = projects_state(request)
    entry = state.entries.get(entry_id.lower())
    if entry is None:
        raise ApiError(404, "no such time entry")
    entry.status = "INVOICED"
    return state.entry_json(entry)


@admin.post("/page_size")
async def page_size(request: Request, size: int) -> dict[str, int]:
    """Answer lists at most ``size`` items a page, whatever ``pageSize`` asks."""
    state = projects_state(request)
    state.max_page_size = max(1, size)
    return {"max_page_size": state.max_page_size}
