"""The Hubstaff sandbox's API v2 routes and its admin API."""

import datetime as dt
import json
import zoneinfo
from collections.abc import Callable, Iterable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from timebridge_sandboxes.faults import ApiError
from timebridge_sandboxes.hubstaff.oauth import exchange_code
from timebridge_sandboxes.hubstaff.state import HubstaffState, User

api = APIRouter(prefix="/v2")
admin = APIRouter(prefix="/_sandbox")
tokens = APIRouter()
"""The account server's token endpoint (``account.hubstaff.com``), served here too."""
LIMIT = (1000, 3600.0)
CODES = {400: "invalid_params", 401: "invalid_token", 403: "forbidden", 404: "not_found"}
T = TypeVar("T")


def error_body(status: int, message: str) -> dict[str, Any]:
    """Hubstaff's error shape: ``{"code": ..., "error": ...}``."""
    code = CODES.get(status, "rate_limited" if status == 429 else "server_error")
    return {"code": code, "error": message}


async def api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(error_body(exc.status, exc.message), exc.status, headers=exc.headers)


def state_of(request: Request) -> HubstaffState:
    state: HubstaffState = request.app.state.hubstaff
    return state


def caller(request: Request) -> User:
    value = request.headers.get("authorization", "")
    token = value[7:].strip() if value[:7].lower() == "bearer " else None
    user = state_of(request).user_by_token(token)
    if user is None:
        raise ApiError(401, "Invalid or expired access token")
    request.app.state.limit.admit(user.token)
    return user


Caller = Annotated[User, Depends(caller)]


def _organization(request: Request, organization_id: str) -> HubstaffState:
    state = state_of(request)
    if organization_id != str(state.organization_id):
        raise ApiError(404, "Could not find record")
    return state


def _int(value: str | None, what: str) -> int:
    if value is None or not value.lstrip("-").isdigit():
        raise ApiError(400, f"{what} is invalid")
    return int(value)


def _moment(value: str | None, what: str) -> dt.datetime:
    if value is None:
        raise ApiError(400, f"{what} is missing")
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"{what} is invalid") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _date(value: str | None, what: str) -> dt.date:
    if value is None:
        raise ApiError(400, f"{what} is missing")
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise ApiError(400, f"{what} is invalid") from None


def _page(
    request: Request, items: Iterable[T], key: Callable[[T], int]
) -> tuple[list[T], dict[str, int] | None]:
    """``page_start_id``/``page_limit`` paging by id; the next start when more remain."""
    query = request.query_params
    start = _int(query.get("page_start_id", "0"), "page_start_id")
    limit = min(_int(query.get("page_limit", "100"), "page_limit"), 500)
    cap = state_of(request).page_cap
    limit = min(limit, cap) if cap else limit
    ordered = sorted((i for i in items if key(i) >= start), key=key)
    page, rest = ordered[:limit], ordered[limit:]
    return page, ({"next_page_start_id": key(rest[0])} if rest else None)


def _paged(name: str, rendered: list[dict[str, Any]], pagination: dict[str, int] | None) -> Any:
    answer: dict[str, Any] = {name: rendered}
    if pagination:
        answer["pagination"] = pagination
    return answer


@api.get("/users/me")
async def me(user: Caller) -> dict[str, Any]:
    return {"user": user.render()}


@api.get("/organizations/{organization_id}/members")
async def members(request: Request, organization_id: str, user: Caller) -> Any:
    state = _organization(request, organization_id)
    if user.role not in {"organization_manager", "owner"}:
        raise ApiError(403, "You are not authorized to view members")
    page, following = _page(request, state.users.values(), lambda u: u.id)
    answer = _paged("members", [state.member(u) for u in page], following)
    if "users" in request.query_params.getlist("include") + request.query_params.getlist(
        "include[]"
    ):
        answer["users"] = [u.render() for u in page]
    return answer


@api.get("/organizations/{organization_id}/projects")
async def projects(request: Request, organization_id: str, user: Caller) -> Any:
    del user
    state = _organization(request, organization_id)
    page, following = _page(request, state.projects.values(), lambda p: p.id)
    return _paged("projects", [state.render_project(p) for p in page], following)


@api.get("/projects/{project_id}")
async def project(request: Request, project_id: str, user: Caller) -> Any:
    del user
    state = state_of(request)
    found = state.projects.get(_int(project_id, "project_id"))
    if found is None:
        raise ApiError(404, "Could not find record")
    return {"project": state.render_project(found)}


@api.get("/projects/{project_id}/tasks")
async def tasks(request: Request, project_id: str, user: Caller) -> Any:
    del user
    state = state_of(request)
    pid = _int(project_id, "project_id")
    if pid not in state.projects:
        raise ApiError(404, "Could not find record")
    mine = (t for t in state.tasks.values() if t.project == pid)
    page, following = _page(request, mine, lambda t: t.id)
    return _paged("tasks", [state.render_task(t) for t in page], following)


@api.post("/projects/{project_id}/tasks")
async def create_task(request: Request, project_id: str, user: Caller) -> Any:
    state = state_of(request)
    found = state.projects.get(_int(project_id, "project_id"))
    if found is None:
        raise ApiError(404, "Could not find record")
    body = await _json(request)
    summary = body.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        raise ApiError(400, "summary is missing")
    assignee = body.get("assignee_id", user.id)
    if not isinstance(assignee, int) or assignee not in state.users:
        raise ApiError(400, "assignee_id is invalid")
    return {"task": state.render_task(state.add_task(found, summary, assignee))}


@api.get("/tasks/{task_id}")
async def task(request: Request, task_id: str, user: Caller) -> Any:
    del user
    state = state_of(request)
    found = state.tasks.get(_int(task_id, "task_id"))
    if found is None:
        raise ApiError(404, "Could not find record")
    return {"task": state.render_task(found)}


def _ids(request: Request, name: str, every: Iterable[int] | None) -> set[int]:
    """An array filter (``name=1,2`` or repeated); absent: ``every`` (``None``: no filter)."""
    given = [v for raw in request.query_params.getlist(name) for v in raw.split(",") if v]
    if not given:
        return set(every) if every is not None else set()
    return {_int(v, name) for v in given}


def _visible(state: HubstaffState, user: User) -> set[int]:
    manager = user.role in {"organization_manager", "owner"}
    return set(state.users) if manager else {user.id}


@api.get("/organizations/{organization_id}/activities/daily")
async def daily(request: Request, organization_id: str, user: Caller) -> Any:
    state = _organization(request, organization_id)
    start = _date(request.query_params.get("date[start]"), "date[start]")
    stop = _date(request.query_params.get("date[stop]"), "date[stop]")
    who = _visible(state, user) & _ids(request, "user_ids", state.users)
    projects, tasks = _ids(request, "project_ids", None), _ids(request, "task_ids", None)
    chosen = (
        d
        for d in state.daily.values()
        if d.user in who
        and start <= d.date <= stop
        and (not projects or d.project in projects)
        and (not tasks or d.task in tasks)
    )
    page, following = _page(request, chosen, lambda d: d.id)
    return _paged("daily_activities", [d.render() for d in page], following)


@api.get("/organizations/{organization_id}/activities/daily/updates")
async def daily_updates(request: Request, organization_id: str, user: Caller) -> Any:
    state = _organization(request, organization_id)
    start = _moment(request.query_params.get("updated[start]"), "updated[start]")
    raw_stop = request.query_params.get("updated[stop]")
    stop = _moment(raw_stop, "updated[stop]") if raw_stop else dt.datetime.now(dt.UTC)
    who = _visible(state, user)
    chosen = (d for d in state.daily.values() if d.user in who and start <= d.updated <= stop)
    page, following = _page(request, chosen, lambda d: d.id)
    return _paged("daily_activities", [d.render() for d in page], following)


@api.post("/users/{user_id}/time_entries", status_code=201)
async def add_time(request: Request, user_id: str, user: Caller) -> Response:
    """Manual time: added to the user's daily activity of that project, task and date (the
    start's date in the organization's zone)."""
    state = state_of(request)
    target = _int(user_id, "user_id")
    if target not in state.users:
        raise ApiError(404, "Could not find record")
    if target != user.id and user.role not in {"organization_manager", "owner"}:
        raise ApiError(403, "You may add time only for yourself")
    body = await _json(request)
    project_id, tracked, task_id = body.get("project_id"), body.get("tracked"), body.get("task_id")
    if not isinstance(project_id, int) or project_id not in state.projects:
        raise ApiError(400, "project_id is invalid")
    if not isinstance(tracked, int) or tracked <= 0:
        raise ApiError(400, "tracked is invalid")
    if task_id is not None and (not isinstance(task_id, int) or task_id not in state.tasks):
        raise ApiError(400, "task_id is invalid")
    start = _moment(body.get("start_time"), "start_time")
    date = start.astimezone(zoneinfo.ZoneInfo(state.time_zone)).date()
    billable = body.get("billable", state.projects[project_id].billable)
    state.log(target, project_id, task_id, date, tracked, billable=bool(billable))
    return Response(status_code=201)


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "body must be an object")
    if "\x00" in raw.decode("utf-8", "replace") or "\\u0000" in raw.decode("utf-8", "replace"):
        raise ApiError(400, "body holds a NUL character")
    return data


@tokens.post("/access_tokens")
async def access_tokens(request: Request) -> JSONResponse:
    """``account.hubstaff.com/access_tokens``: ``grant_type=refresh_token`` with a personal access
    token or an app's refresh token (form or query); answers a new access token and a new
    refresh token, the old one no longer valid (``400 invalid_grant`` when reused)."""
    form = await request.form()
    given = {**request.query_params, **{k: str(v) for k, v in form.items()}}
    if given.get("grant_type") == "authorization_code":  # an app's consent: .oauth
        return exchange_code(request, given)
    if given.get("grant_type") != "refresh_token" or not given.get("refresh_token"):
        return JSONResponse({"error": "unsupported_grant_type"}, 400)
    issued = state_of(request).rotate(given["refresh_token"])
    if issued is None:
        return JSONResponse({"error": "invalid_grant"}, 400)
    access, refresh = issued
    answer = {
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "bearer",
        "expires_in": 86400,
    }
    return JSONResponse(answer)


@admin.post("/daily_activities/{daily_id}/delete_time")
async def delete_time(request: Request, daily_id: int) -> dict[str, Any]:
    """A manager deletes the day's time in Hubstaff: the record stays with ``tracked`` 0."""
    found = state_of(request).daily.get(daily_id)
    if found is None:
        raise ApiError(404, "Could not find record")
    found.tracked = found.manual = found.billable = 0
    found.updated = dt.datetime.now(dt.UTC)
    return found.render()
