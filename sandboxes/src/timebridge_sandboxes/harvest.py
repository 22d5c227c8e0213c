"""An in-memory Harvest (API v2): its paths, request forms, shapes, units and errors.

Built from Harvest's documentation (help.getharvest.com/api-v2) and the OpenAPI text generated from
it (``shared/provider-specs/harvest-v2-openapi.yaml``), not from Timebridge's client; the tests
validate every request and answer against that spec. Harvest has no official Python SDK.

Documented behaviour played here: a personal access token as ``Authorization: Bearer`` with
``Harvest-Account-Id``, or both as the ``access_token``/``account_id`` query parameters; ``401``
``{"error": "invalid_token", "error_description"}``; 100 requests per 15 s per token (``429`` with
``Retry-After``); lists as objects with ``per_page`` (1-2000), ``page``, ``total_pages``,
``total_entries``, ``next_page``, ``previous_page`` and absolute ``links``; time entries in decimal
``hours``, created via duration (``hours``; none starts a running timer) or via start and end
time (``started_time``/``ended_time`` such as ``8:00am``, on accounts with
``wants_timestamp_timers``), filtered by ``user_id``, ``client_id``, ``project_id``, ``task_id``,
``external_reference_id``, ``is_billed``, ``is_running``, ``updated_since``, ``from``/``to``;
``PATCH`` changes only the fields sent; ``DELETE`` removes (no tombstone); an entry needs its task
assigned to its project; ``/reports/time/{clients,projects,tasks,team}`` over ``from``/``to``.

Assumed where the documentation is silent: errors other than ``401`` also carry
``{"error", "error_description"}`` (``422`` adds ``"message"``); a locked entry's change is
``422`` "Time entry is locked: <reason>"; an ``ended_time`` earlier than ``started_time`` runs past
midnight (the entry stays on the day it started, as a timer does), and start and end are read in
the user's time zone, so hours across a daylight-saving change are real elapsed hours; a timestamp
account also accepts ``hours``; ``updated_since`` includes entries updated at that very second.

Admin API (besides :mod:`~timebridge_sandboxes.faults`' ``/_sandbox/reset`` and ``/faults``):
``POST /_sandbox/time_entries/{id}/lock``, ``PUT /_sandbox/company`` (timestamp timers or not).
"""

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel

from timebridge_sandboxes.faults import ApiError, Faults, RateLimit, install
from timebridge_sandboxes.harvest_http import (
    RATE_LIMIT,
    AssignmentIn,
    Caller,
    Listing,
    Page,
    PerPage,
    TaskIn,
    admin_only,
    error_body,
    harvest_state,
    invalid,
    paginate,
    read_body,
)
from timebridge_sandboxes.harvest_manage import manage
from timebridge_sandboxes.harvest_state import (
    HarvestState,
    assignment_json,
    project_assignment_json,
    project_json,
    task_json,
    user_json,
)
from timebridge_sandboxes.harvest_time import time_router

api = APIRouter(prefix="/v2")


@api.get("/company")
async def company(request: Request, _: Caller) -> dict[str, Any]:
    state = harvest_state(request)
    return {
        "base_uri": "https://sandbox.harvestapp.com",
        "full_domain": "sandbox.harvestapp.com",
        "name": state.company_name,
        "is_active": True,
        "week_start_day": "Monday",
        "wants_timestamp_timers": state.wants_timestamp_timers,
        "time_format": "hours_minutes",
        "date_format": "%Y-%m-%d",
        "plan_type": "sponsored",
        "clock": "12h",
        "currency_code_display": "iso_code_none",
        "currency_symbol_display": "symbol_before",
        "decimal_symbol": ".",
        "thousands_separator": ",",
        "color_scheme": "orange",
        "weekly_capacity": 126000,
        "expense_feature": True,
        "invoice_feature": True,
        "estimate_feature": True,
        "approval_feature": True,
        "team_feature": True,
    }


@api.get("/users/me")
async def me(caller: Caller) -> dict[str, Any]:
    return user_json(caller)


@api.get("/users")
async def users(request: Request, caller: Caller, query: Listing) -> dict[str, Any]:
    admin_only(caller, "list users")
    return query.answer(request, "users", harvest_state(request).users.values(), user_json)


@api.get("/users/{user_id}/project_assignments")
@api.get("/users/me/project_assignments")  # registered first (decorators apply bottom-up)
async def project_assignments(
    request: Request,
    caller: Caller,
    user_id: int | None = None,
    *,
    page: Page = 1,
    per_page: PerPage = None,
) -> dict[str, Any]:
    """The projects a user may log time to, each with its task assignments (how a member, who
    may not list ``/projects``, finds their work). Every user is assigned to every project."""
    state = harvest_state(request)
    if user_id is not None and user_id != caller.id and not caller.is_admin:
        raise ApiError(403, "Only administrators can see other users' assignments")
    rows = [project_assignment_json(state, p) for p in state.projects.values() if p.is_active]
    return paginate(request, "project_assignments", rows, page, per_page or 2000)


@api.get("/users/{user_id}")
async def user(request: Request, caller: Caller, user_id: int) -> dict[str, Any]:
    found = harvest_state(request).users.get(user_id)
    if found is None:
        raise ApiError(404, "User not found")
    if found.id != caller.id and not caller.is_admin:
        raise ApiError(403, "Only administrators can see other users")
    return user_json(found)


@api.get("/projects")
async def projects(
    request: Request, caller: Caller, query: Listing, client_id: int | None = None
) -> dict[str, Any]:
    admin_only(caller, "list projects")
    state = harvest_state(request)
    found = (p for p in state.projects.values() if client_id in (None, p.client_id))
    return query.answer(request, "projects", found, lambda p: project_json(state, p))


@api.get("/projects/{project_id}")
async def project(request: Request, _: Caller, project_id: int) -> dict[str, Any]:
    state = harvest_state(request)
    if project_id not in state.projects:
        raise ApiError(404, "Project not found")
    return project_json(state, state.projects[project_id])


@api.get("/tasks")
async def tasks(request: Request, caller: Caller, query: Listing) -> dict[str, Any]:
    admin_only(caller, "list tasks")
    return query.answer(request, "tasks", harvest_state(request).tasks.values(), task_json)


@api.get("/tasks/{task_id}")
async def task(request: Request, _: Caller, task_id: int) -> dict[str, Any]:
    found = harvest_state(request).tasks.get(task_id)
    if found is None:
        raise ApiError(404, "Task not found")
    return task_json(found)


@api.post("/tasks", status_code=201)
async def create_task(request: Request, caller: Caller) -> dict[str, Any]:
    body = await read_body(request, TaskIn)
    assert isinstance(body, TaskIn)
    if not caller.is_admin:
        raise ApiError(403, "Only administrators can create tasks")
    state = harvest_state(request)
    if any(t.name == body.name for t in state.tasks.values()):
        raise ApiError(422, "Name has already been taken")
    task_id = state.add_task(
        body.name, billable_by_default=body.billable_by_default, rate=body.default_hourly_rate
    )
    state.tasks[task_id].is_active = body.is_active
    return task_json(state.tasks[task_id])


@api.get("/task_assignments")
@api.get("/projects/{project_id}/task_assignments")
async def task_assignments(
    request: Request, caller: Caller, query: Listing, project_id: int | None = None
) -> dict[str, Any]:
    admin_only(caller, "list task assignments")
    state = harvest_state(request)
    if project_id is not None and project_id not in state.projects:
        raise ApiError(404, "Project not found")
    found = (a for a in state.assignments.values() if project_id in (None, a.project_id))
    return query.answer(request, "task_assignments", found, lambda a: assignment_json(state, a))


@api.post("/projects/{project_id}/task_assignments", status_code=201)
async def assign_task(request: Request, caller: Caller, project_id: int) -> dict[str, Any]:
    body = await read_body(request, AssignmentIn)
    assert isinstance(body, AssignmentIn)
    state = harvest_state(request)
    if project_id not in state.projects:
        raise ApiError(404, "Project not found")
    if not caller.is_admin:
        raise ApiError(403, "Only administrators can assign tasks")
    if body.task_id not in state.tasks:
        raise ApiError(422, "Task can't be blank")
    if state.assignment(project_id, body.task_id) is not None:
        raise ApiError(422, "Task has already been assigned to this project")
    made = state.assign(project_id, body.task_id, billable=body.billable, rate=body.hourly_rate)
    state.assignments[made].is_active = body.is_active
    return assignment_json(state, state.assignments[made])


admin = APIRouter(prefix="/_sandbox", tags=["sandbox"])


class _CompanyIn(BaseModel):
    wants_timestamp_timers: bool


@admin.post("/time_entries/{entry_id}/lock", status_code=204)
async def lock_entry(request: Request, entry_id: int) -> Response:
    state = harvest_state(request)
    if entry_id not in state.entries:
        raise ApiError(404, "Time entry not found")
    state.lock(entry_id)
    return Response(status_code=204)


@admin.put("/company", status_code=204)
async def set_company(request: Request, body: _CompanyIn) -> Response:
    harvest_state(request).wants_timestamp_timers = body.wants_timestamp_timers
    return Response(status_code=204)


def demo_harvest(token: str, member_token: str, account_id: str) -> HarvestState:
    """Ann (admin) and Max (member) with the Core demo's emails; a client with the project
    "Website" offering the task "Fix the login page" (billable) and "Meetings" (not)."""
    state = HarvestState(account_id=account_id)
    state.add_user("Ann", "Admin", "ann@example.com", token=token, timezone="Berlin")
    state.add_user("Max", "Member", "max@example.com", token=member_token, admin=False)
    project = state.add_project(state.add_client("Website Client"), "Website", code="WEB")
    state.assign(project, state.add_task("Fix the login page"))
    state.assign(project, state.add_task("Meetings", billable_by_default=False))
    return state


def create_harvest_sandbox(
    state: HarvestState | None = None,
    faults: Faults | None = None,
    *,
    rate_limit: RateLimit | None = None,
) -> FastAPI:
    """The sandbox app, with its fault switches and admin routes."""
    state = state if state is not None else HarvestState()
    faults = faults if faults is not None else Faults()
    limit = rate_limit if rate_limit is not None else RateLimit(*RATE_LIMIT)
    app = FastAPI(title="Harvest sandbox")
    app.state.harvest = state
    app.state.limit = limit
    install(app, faults, limit, state.reset, error_body)
    app.add_exception_handler(RequestValidationError, invalid)
    app.include_router(api)
    app.include_router(time_router)
    app.include_router(manage)
    app.include_router(admin)
    return app


__all__ = ["HarvestState", "create_harvest_sandbox", "demo_harvest"]
