"""The Harvest sandbox's account management: clients, creating and changing projects, users and
tasks, and single task assignments (administrators only, as in Harvest).

Documented rules played here: a name is required to create a client or a task, a project needs
``client_id``, ``name``, ``is_billable``, ``bill_by`` and ``budget_by``, a user ``first_name``,
``last_name`` and ``email`` (unique); ``PATCH`` changes only the fields sent; a task with time
tracked to it cannot be deleted (``422``), nor a task assignment of a project with time on it.
"""

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from timebridge_sandboxes.faults import ApiError
from timebridge_sandboxes.harvest_http import (
    Caller,
    Listing,
    admin_only,
    harvest_state,
    read_body,
)
from timebridge_sandboxes.harvest_state import (
    HarvestState,
    assignment_json,
    client_json,
    project_json,
    stamp,
    task_json,
    user_json,
)

manage = APIRouter(prefix="/v2")


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _ClientIn(_Loose):
    name: str | None = Field(default=None, min_length=1)
    is_active: bool | None = None
    address: str | None = None
    currency: str | None = Field(default=None, min_length=3, max_length=3)


class _ProjectIn(_Loose):
    client_id: int | None = None
    name: str | None = Field(default=None, min_length=1)
    code: str | None = None
    is_active: bool | None = None
    is_billable: bool | None = None
    bill_by: Literal["Project", "Tasks", "People", "none"] | None = None
    budget_by: Literal["project", "project_cost", "task", "task_fees", "person", "none"] | None = (
        None
    )
    hourly_rate: float | None = None


class _UserIn(_Loose):
    first_name: str | None = Field(default=None, min_length=1)
    last_name: str | None = Field(default=None, min_length=1)
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    timezone: str | None = None
    is_active: bool | None = None


class _TaskPatch(_Loose):
    name: str | None = Field(default=None, min_length=1)
    billable_by_default: bool | None = None
    default_hourly_rate: float | None = None
    is_active: bool | None = None


class _AssignmentPatch(_Loose):
    is_active: bool | None = None
    billable: bool | None = None
    hourly_rate: float | None = None


def _missing(body: BaseModel, *names: str) -> None:
    absent = [n for n in names if getattr(body, n) is None]
    if absent:
        raise ApiError(
            422, ", ".join(f"{n.replace('_', ' ').capitalize()} can't be blank" for n in absent)
        )


def _set(target: object, body: BaseModel, state: HarvestState) -> None:
    for name in body.model_fields_set:
        value = getattr(body, name)
        if value is None:
            raise ApiError(422, f"{name.replace('_', ' ').capitalize()} can't be blank")
        setattr(target, name, value)
    if body.model_fields_set and hasattr(target, "updated_at"):
        target.updated_at = stamp(state.now())


@manage.get("/clients")
async def clients(request: Request, caller: Caller, query: Listing) -> dict[str, Any]:
    admin_only(caller, "list clients")
    return query.answer(request, "clients", harvest_state(request).clients.values(), client_json)


@manage.get("/clients/{client_id}")
async def client(request: Request, caller: Caller, client_id: int) -> dict[str, Any]:
    admin_only(caller, "see clients")
    found = harvest_state(request).clients.get(client_id)
    if found is None:
        raise ApiError(404, "Client not found")
    return client_json(found)


@manage.post("/clients", status_code=201)
async def create_client(request: Request, caller: Caller) -> dict[str, Any]:
    body = await read_body(request, _ClientIn)
    assert isinstance(body, _ClientIn)
    admin_only(caller, "create clients")
    _missing(body, "name")
    state = harvest_state(request)
    created = state.clients[state.add_client(body.name or "", body.currency or "USD")]
    _set(created, body, state)
    created.created_at = created.updated_at = stamp(state.now())
    return client_json(created)


@manage.patch("/clients/{client_id}")
async def update_client(request: Request, caller: Caller, client_id: int) -> dict[str, Any]:
    body = await read_body(request, _ClientIn)
    admin_only(caller, "change clients")
    state = harvest_state(request)
    found = state.clients.get(client_id)
    if found is None:
        raise ApiError(404, "Client not found")
    _set(found, body, state)
    return client_json(found)


@manage.post("/projects", status_code=201)
async def create_project(request: Request, caller: Caller) -> dict[str, Any]:
    body = await read_body(request, _ProjectIn)
    assert isinstance(body, _ProjectIn)
    admin_only(caller, "create projects")
    _missing(body, "client_id", "name", "is_billable", "bill_by", "budget_by")
    state = harvest_state(request)
    if body.client_id not in state.clients:
        raise ApiError(422, "Client must exist")
    assert body.client_id is not None
    made = state.add_project(
        body.client_id,
        body.name or "",
        code=body.code,
        is_billable=bool(body.is_billable),
        bill_by=body.bill_by or "none",
        hourly_rate=body.hourly_rate,
    )
    return project_json(state, state.projects[made])


@manage.patch("/projects/{project_id}")
async def update_project(request: Request, caller: Caller, project_id: int) -> dict[str, Any]:
    body = await read_body(request, _ProjectIn)
    assert isinstance(body, _ProjectIn)
    admin_only(caller, "change projects")
    state = harvest_state(request)
    found = state.projects.get(project_id)
    if found is None:
        raise ApiError(404, "Project not found")
    if "client_id" in body.model_fields_set and body.client_id not in state.clients:
        raise ApiError(422, "Client must exist")
    _set(found, body, state)
    return project_json(state, found)


@manage.post("/users", status_code=201)
async def create_user(request: Request, caller: Caller) -> dict[str, Any]:
    body = await read_body(request, _UserIn)
    assert isinstance(body, _UserIn)
    admin_only(caller, "create users")
    _missing(body, "first_name", "last_name", "email")
    state = harvest_state(request)
    if any(u.email == body.email for u in state.users.values()):
        raise ApiError(422, "Email has already been taken")
    made = state.add_user(
        body.first_name or "",
        body.last_name or "",
        body.email or "",
        token=f"pat-{state.next_id('token', 1)}",
        timezone=body.timezone or "Eastern Time (US & Canada)",
        admin=False,
    )
    return user_json(state.users[made])


@manage.patch("/users/{user_id}")
async def update_user(request: Request, caller: Caller, user_id: int) -> dict[str, Any]:
    body = await read_body(request, _UserIn)
    state = harvest_state(request)
    found = state.users.get(user_id)
    if found is None:
        raise ApiError(404, "User not found")
    if found.id != caller.id:
        admin_only(caller, "change other users")
    _set(found, body, state)
    return user_json(found)


@manage.patch("/tasks/{task_id}")
async def update_task(request: Request, caller: Caller, task_id: int) -> dict[str, Any]:
    body = await read_body(request, _TaskPatch)
    admin_only(caller, "change tasks")
    state = harvest_state(request)
    found = state.tasks.get(task_id)
    if found is None:
        raise ApiError(404, "Task not found")
    _set(found, body, state)
    return task_json(found)


@manage.delete("/tasks/{task_id}")
async def delete_task(request: Request, caller: Caller, task_id: int) -> dict[str, Any]:
    admin_only(caller, "delete tasks")
    state = harvest_state(request)
    if task_id not in state.tasks:
        raise ApiError(404, "Task not found")
    if any(e.task_id == task_id for e in state.entries.values()):
        raise ApiError(422, "Task has time tracked to it and cannot be deleted")
    del state.tasks[task_id]
    for assignment in [a for a in state.assignments.values() if a.task_id == task_id]:
        del state.assignments[assignment.id]
    return {}


def _assignment(state: HarvestState, project_id: int, assignment_id: int) -> Any:
    found = state.assignments.get(assignment_id)
    if found is None or found.project_id != project_id:
        raise ApiError(404, "Task assignment not found")
    return found


@manage.get("/projects/{project_id}/task_assignments/{assignment_id}")
async def task_assignment(
    request: Request, caller: Caller, project_id: int, assignment_id: int
) -> dict[str, Any]:
    admin_only(caller, "see task assignments")
    state = harvest_state(request)
    return assignment_json(state, _assignment(state, project_id, assignment_id))


@manage.patch("/projects/{project_id}/task_assignments/{assignment_id}")
async def update_task_assignment(
    request: Request, caller: Caller, project_id: int, assignment_id: int
) -> dict[str, Any]:
    body = await read_body(request, _AssignmentPatch)
    admin_only(caller, "change task assignments")
    state = harvest_state(request)
    found = _assignment(state, project_id, assignment_id)
    _set(found, body, state)
    return assignment_json(state, found)


@manage.delete("/projects/{project_id}/task_assignments/{assignment_id}")
async def delete_task_assignment(
    request: Request, caller: Caller, project_id: int, assignment_id: int
) -> dict[str, Any]:
    admin_only(caller, "delete task assignments")
    state = harvest_state(request)
    found = _assignment(state, project_id, assignment_id)
    if any(
        e.project_id == project_id and e.task_id == found.task_id for e in state.entries.values()
    ):
        raise ApiError(422, "Task assignment has time tracked to it and cannot be deleted")
    del state.assignments[assignment_id]
    return {}
