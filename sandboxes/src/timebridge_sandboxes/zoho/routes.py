"""Zoho Projects REST API routes: portals, users, projects, tasks and task logs, as Zoho's REST
API documentation describes them (parameters as form fields or in the query)."""

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from timebridge_sandboxes.faults import ApiError, RateLimit
from timebridge_sandboxes.zoho.state import Log, Project, Task, User, ZohoState

router = APIRouter(prefix="/restapi")
admin = APIRouter(prefix="/_sandbox")
_HHMM = re.compile(r"^(\d{1,3}):([0-5]\d)$")
_DATE = re.compile(r"^(\d{2})-(\d{2})-(\d{4})$")
MISSING = (6831, "Input Parameter Missing")
PATTERN = (6832, "Input Parameter Does not Match the Accepted Input Pattern")


class ZohoError(ApiError):
    """``{"error": {"code", "message"}}`` with an HTTP status."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(status, message)
        self.code = code


def error_body(status: int, message: str) -> dict[str, Any]:
    code = {401: 6401, 404: 6404, 429: 6403}.get(status, 6500)
    return {"error": {"code": code, "message": message}}


async def zoho_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ZohoError)
    body = {"error": {"code": exc.code, "message": exc.message}}
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


def zoho_state(request: Request) -> ZohoState:
    state: ZohoState = request.app.state.zoho
    return state


def caller(request: Request) -> User:
    """``Authorization: Zoho-oauthtoken <token>``, then the per-user limit."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    user = zoho_state(request).user_by_token(token if scheme == "Zoho-oauthtoken" else None)
    if user is None:
        raise ZohoError(401, 6401, "Invalid OAuth access token.")
    limit: RateLimit = request.app.state.limit
    try:
        limit.admit(str(user.id))
    except ApiError as exc:
        raise ZohoError(429, 6403, "Too many requests. Try again later.") from exc
    return user


Caller = Annotated[User, Depends(caller)]


async def params(request: Request) -> dict[str, str]:
    """The request's parameters: the query and, for a form body, its fields."""
    found = dict(request.query_params)
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = await request.form()
        found.update({k: v for k, v in form.items() if isinstance(v, str)})
    for value in found.values():
        if "\x00" in value:
            raise ZohoError(400, *PATTERN)
    return found


def _portal(state: ZohoState, portal: str) -> None:
    if portal not in {str(state.portal_id), state.portal_name}:
        raise ZohoError(404, 6404, "Portal not found.")


def _project(state: ZohoState, portal: str, project_id: str) -> Project:
    _portal(state, portal)
    project = state.projects.get(int(project_id)) if project_id.isdigit() else None
    if project is None:
        raise ZohoError(404, 6404, "Project not found.")
    return project


def _task(state: ZohoState, project: Project, task_id: str) -> Task:
    task = state.tasks.get(int(task_id)) if task_id.isdigit() else None
    if task is None or task.project_id != project.id:
        raise ZohoError(404, 6404, "Task not found.")
    return task


def _date(value: str | None) -> dt.date:
    if value is None:
        raise ZohoError(400, *MISSING)
    match = _DATE.match(value)
    try:
        assert match is not None
        return dt.date(int(match[3]), int(match[1]), int(match[2]))
    except (AssertionError, ValueError):
        raise ZohoError(400, *PATTERN) from None


def _paged(items: list[dict[str, Any]], given: dict[str, str], key: str) -> Response:
    index, size = given.get("index", "1"), given.get("range", "100")
    if not index.isdigit() or not size.isdigit() or int(index) < 1 or not 1 <= int(size) <= 200:
        raise ZohoError(400, *PATTERN)
    chosen = items[int(index) - 1 : int(index) - 1 + int(size)]
    if not chosen:
        return Response(status_code=204)
    return JSONResponse({key: chosen})


@router.get("/portals/")
async def portals(request: Request, user: Caller) -> dict[str, Any]:
    state = zoho_state(request)
    portal = {"id": state.portal_id, "id_string": str(state.portal_id), "name": state.portal_name}
    return {"login_id": str(user.id), "portals": [portal]}


@router.get("/portal/{portal}/users/")
async def users(request: Request, _: Caller, portal: str) -> dict[str, Any]:
    state = zoho_state(request)
    _portal(state, portal)
    return {"users": [state.user_json(u) for u in state.users.values()]}


@router.get("/portal/{portal}/projects/")
async def projects(request: Request, _: Caller, portal: str) -> Response:
    state = zoho_state(request)
    _portal(state, portal)
    given = await params(request)
    return _paged([state.project_json(p) for p in state.projects.values()], given, "projects")


@router.get("/portal/{portal}/projects/{project_id}/")
async def project(request: Request, _: Caller, portal: str, project_id: str) -> dict[str, Any]:
    state = zoho_state(request)
    return {"projects": [state.project_json(_project(state, portal, project_id))]}


@router.get("/portal/{portal}/projects/{project_id}/tasks/")
async def tasks(request: Request, _: Caller, portal: str, project_id: str) -> Response:
    state = zoho_state(request)
    found = _project(state, portal, project_id)
    listed = [state.task_json(t) for t in state.tasks.values() if t.project_id == found.id]
    return _paged(listed, await params(request), "tasks")


@router.post("/portal/{portal}/projects/{project_id}/tasks/", status_code=201)
async def create_task(request: Request, _: Caller, portal: str, project_id: str) -> dict[str, Any]:
    state = zoho_state(request)
    found = _project(state, portal, project_id)
    given = await params(request)
    name = given.get("name", "").strip()
    if not name:
        raise ZohoError(400, *MISSING)
    made = state.add_task(found, name, given.get("description", ""))
    return {"tasks": [state.task_json(made)]}


@router.get("/portal/{portal}/projects/{project_id}/tasks/{task_id}/")
async def task(
    request: Request, _: Caller, portal: str, project_id: str, task_id: str
) -> dict[str, Any]:
    state = zoho_state(request)
    return {"tasks": [state.task_json(_task(state, _project(state, portal, project_id), task_id))]}


def _period(view: str | None, day: dt.date) -> tuple[dt.date, dt.date]:
    if view == "day":
        return day, day
    if view == "week":  # Sunday to Saturday
        first = day - dt.timedelta(days=(day.weekday() + 1) % 7)
        return first, first + dt.timedelta(days=6)
    if view == "month":
        first = day.replace(day=1)
        return first, (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    raise ZohoError(400, *PATTERN)


@router.get("/portal/{portal}/projects/{project_id}/logs/")
async def logs(request: Request, _: Caller, portal: str, project_id: str) -> Response:
    """``users_list`` (``all`` or ids), ``view_type`` (day/week/month) around ``date``,
    ``bill_status`` (All/Billable/Non Billable), ``component_type`` (task/bug/general)."""
    state = zoho_state(request)
    found = _project(state, portal, project_id)
    given = await params(request)
    if "users_list" not in given or "component_type" not in given:
        raise ZohoError(400, *MISSING)
    first, last = _period(given.get("view_type"), _date(given.get("date")))
    bill = given.get("bill_status", "All")
    if bill not in {"All", "Billable", "Non Billable"}:
        raise ZohoError(400, *PATTERN)
    owners = given["users_list"]
    chosen = [
        log
        for log in state.logs.values()
        if log.project_id == found.id
        and first <= log.day <= last
        and bill in {"All", log.bill_status}
        and (owners == "all" or str(log.owner_id) in owners.split(","))
    ]
    if given["component_type"] != "task" or not chosen:
        return Response(status_code=204)  # the sandbox keeps task logs only
    return JSONResponse(state.logs_json(chosen))


@router.get("/portal/{portal}/projects/{project_id}/tasks/{task_id}/logs/")
async def task_logs(
    request: Request, _: Caller, portal: str, project_id: str, task_id: str
) -> Response:
    state = zoho_state(request)
    found = _task(state, _project(state, portal, project_id), task_id)
    chosen = [log for log in state.logs.values() if log.task_id == found.id]
    return JSONResponse(state.logs_json(chosen)) if chosen else Response(status_code=204)


def _log_fields(state: ZohoState, given: dict[str, str], user: User) -> dict[str, Any]:
    if "date" not in given or "hours" not in given or "bill_status" not in given:
        raise ZohoError(400, *MISSING)
    hours = _HHMM.match(given["hours"])
    if hours is None or given["bill_status"] not in {"Billable", "Non Billable"}:
        raise ZohoError(400, *PATTERN)
    minutes = int(hours[1]) * 60 + int(hours[2])
    if not 1 <= minutes <= 24 * 60:
        raise ZohoError(400, 6832, "Log hours must be between 00:01 and 24:00.")
    owner = given.get("owner", str(user.id))
    if not owner.isdigit() or int(owner) not in state.users:
        raise ZohoError(400, *PATTERN)
    return {
        "owner_id": int(owner),
        "day": _date(given["date"]),
        "minutes": minutes,
        "bill_status": given["bill_status"],
        "notes": given.get("notes", ""),
    }


@router.post("/portal/{portal}/projects/{project_id}/tasks/{task_id}/logs/", status_code=201)
async def add_log(
    request: Request, user: Caller, portal: str, project_id: str, task_id: str
) -> dict[str, Any]:
    state = zoho_state(request)
    found = _task(state, _project(state, portal, project_id), task_id)
    fields = _log_fields(state, await params(request), user)
    log = Log(state.next_id(), found.project_id, found.id, **fields)
    state.logs[log.id] = log
    return {"timelogs": {"tasklogs": [state.log_json(log)]}}


def _log(state: ZohoState, found: Task, log_id: str) -> Log:
    log = state.logs.get(int(log_id)) if log_id.isdigit() else None
    if log is None or log.task_id != found.id:
        raise ZohoError(404, 6404, "Time log not found.")
    return log


def _unapproved(log: Log) -> None:
    if log.approval_status == "Approved":
        raise ZohoError(400, 6890, "Approved time logs cannot be modified.")


@router.post("/portal/{portal}/projects/{project_id}/tasks/{task_id}/logs/{log_id}/")
async def update_log(
    request: Request, user: Caller, *, portal: str, project_id: str, task_id: str, log_id: str
) -> dict[str, Any]:
    state = zoho_state(request)
    log = _log(state, _task(state, _project(state, portal, project_id), task_id), log_id)
    _unapproved(log)
    for name, value in _log_fields(state, await params(request), user).items():
        setattr(log, name, value)
    log.modified = max(log.modified + 1, int(dt.datetime.now(dt.UTC).timestamp() * 1000))
    return {"timelogs": {"tasklogs": [state.log_json(log)]}}


@router.delete("/portal/{portal}/projects/{project_id}/tasks/{task_id}/logs/{log_id}/")
async def delete_log(
    request: Request, _: Caller, *, portal: str, project_id: str, task_id: str, log_id: str
) -> dict[str, str]:
    state = zoho_state(request)
    log = _log(state, _task(state, _project(state, portal, project_id), task_id), log_id)
    _unapproved(log)
    del state.logs[log.id]
    return {"response": "Timesheet log deleted successfully."}


@router.post("/portal/{portal}/projects/{project_id}/tasks/{task_id}/logs/{log_id}/approval")
async def approve_log(
    request: Request, _: Caller, *, portal: str, project_id: str, task_id: str, log_id: str
) -> dict[str, Any]:
    state = zoho_state(request)
    log = _log(state, _task(state, _project(state, portal, project_id), task_id), log_id)
    status = (await params(request)).get("approval_status", "")
    if status not in {"Approved", "Rejected", "Pending"}:
        raise ZohoError(400, *PATTERN)
    log.approval_status = status
    return {"timelogs": {"tasklogs": [state.log_json(log)]}}
