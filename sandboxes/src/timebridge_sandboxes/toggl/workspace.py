"""Toggl API v9 account routes (``/me``, workspace users, projects, tasks), Reports API v3's
summary, the Webhooks API v1 subscriptions, and the sandbox's own admin routes."""

import datetime as dt
import secrets
from collections import defaultdict
from typing import Any

import httpx
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from timebridge_sandboxes.faults import ApiError
from timebridge_sandboxes.toggl.http import Caller, deliver, read_json, toggl_state, workspace
from timebridge_sandboxes.toggl.state import Project, Subscription, Task, TogglState, stamp

api = APIRouter(prefix="/api/v9")
reports = APIRouter(prefix="/reports/api/v3")
hooks = APIRouter(prefix="/webhooks/api/v1")
admin = APIRouter(prefix="/_sandbox", tags=["sandbox"])


@api.get("/me")
async def me(request: Request, user: Caller) -> dict[str, Any]:
    state = toggl_state(request)
    return {
        "id": user.id,
        "email": user.email,
        "fullname": user.fullname,
        "timezone": user.timezone,
        "default_workspace_id": state.workspace_id,
        "beginning_of_week": 1,
        "api_token": user.token,
        "at": stamp(dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),
    }


@api.get("/workspaces/{workspace_id}/users")
async def users(request: Request, caller: Caller, workspace_id: int) -> list[dict[str, Any]]:
    state = workspace(request, workspace_id)
    if not caller.admin:
        raise ApiError(403, "Only workspace admins can list the workspace's users")
    return [
        {"id": u.id, "email": u.email, "fullname": u.fullname, "inactive": u.inactive}
        for u in state.users.values()
    ]


def _project(state: TogglState, project: Project) -> dict[str, Any]:
    return {
        "id": project.id,
        "workspace_id": state.workspace_id,
        "name": project.name,
        "active": project.active,
        "billable": project.billable if state.premium else None,
        "is_private": False,
        "at": stamp(project.at),
    }


def _task(state: TogglState, task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "name": task.name,
        "project_id": task.project_id,
        "workspace_id": state.workspace_id,
        "active": task.active,
        "at": stamp(task.at),
    }


@api.get("/workspaces/{workspace_id}/projects")
async def projects(
    request: Request,
    _: Caller,
    workspace_id: int,
    page: int = Query(1, ge=1),
    per_page: int = Query(151, ge=1, le=200),
) -> list[dict[str, Any]]:
    state = workspace(request, workspace_id)
    found = list(state.projects.values())[(page - 1) * per_page : page * per_page]
    return [_project(state, p) for p in found]


@api.get("/workspaces/{workspace_id}/projects/{project_id}")
async def project(request: Request, _: Caller, workspace_id: int, project_id: int) -> Any:
    state = workspace(request, workspace_id)
    if project_id not in state.projects:
        raise ApiError(404, "Project not found")
    return _project(state, state.projects[project_id])


@api.get("/workspaces/{workspace_id}/projects/{project_id}/tasks")
async def project_tasks(
    request: Request, _: Caller, workspace_id: int, project_id: int
) -> list[dict[str, Any]]:
    state = workspace(request, workspace_id)
    if project_id not in state.projects:
        raise ApiError(404, "Project not found")
    return [_task(state, t) for t in state.tasks.values() if t.project_id == project_id]


@api.get("/workspaces/{workspace_id}/projects/{project_id}/tasks/{task_id}")
async def task(
    request: Request, _: Caller, workspace_id: int, project_id: int, task_id: int
) -> Any:
    state = workspace(request, workspace_id)
    found = state.tasks.get(task_id)
    if found is None or found.project_id != project_id:
        raise ApiError(404, "Task not found")
    return _task(state, found)


@api.post("/workspaces/{workspace_id}/projects/{project_id}/tasks")
async def create_task(
    request: Request, caller: Caller, workspace_id: int, project_id: int
) -> dict[str, Any]:
    state = workspace(request, workspace_id)
    body = await read_json(request)
    if project_id not in state.projects:
        raise ApiError(404, "Project not found")
    if not state.premium:
        raise ApiError(402, "Tasks are available on paid plans")
    if not caller.admin:
        raise ApiError(403, "Only workspace admins can create tasks")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, "Name can't be blank")
    if any(t.name == name and t.project_id == project_id for t in state.tasks.values()):
        raise ApiError(400, "Name has already been taken")
    made = state.add_task(project_id, name)
    state.tasks[made].active = bool(body.get("active", True))
    return _task(state, state.tasks[made])


@api.get("/workspaces/{workspace_id}/tasks")
async def tasks(
    request: Request,
    _: Caller,
    workspace_id: int,
    page: int = Query(1, ge=1),
    per_page: int = Query(50, ge=1, le=200),
    active: str = "true",
) -> dict[str, Any]:
    state = workspace(request, workspace_id)
    found = [t for t in state.tasks.values() if active == "both" or t.active == (active == "true")]
    shown = found[(page - 1) * per_page : page * per_page]
    return {
        "data": [_task(state, t) for t in shown],
        "page": page,
        "per_page": per_page,
        "sort_field": "name",
        "sort_order": "ASC",
        "total_count": len(found),
    }


@reports.post("/workspace/{workspace_id}/summary/time_entries")
async def summary(request: Request, _: Caller, workspace_id: int) -> dict[str, Any]:
    """Seconds per ``grouping`` (users or projects) and ``sub_grouping``, dates in each entry's
    user's zone, ``start_date`` to ``end_date`` inclusive."""
    state = workspace(request, workspace_id)
    body = await read_json(request)
    try:
        start = dt.date.fromisoformat(str(body.get("start_date")))
        end = dt.date.fromisoformat(str(body.get("end_date") or body.get("start_date")))
    except ValueError:
        raise ApiError(400, "start_date and end_date must be YYYY-MM-DD") from None
    keys = {"users": "user_id", "projects": "project_id", "tasks": "task_id"}
    grouping = keys.get(str(body.get("grouping", "projects")))
    sub_grouping = keys.get(str(body.get("sub_grouping", "users")))
    if grouping is None or sub_grouping is None or grouping == sub_grouping:
        raise ApiError(400, "grouping and sub_grouping must be users, projects or tasks")
    totals: dict[Any, dict[Any, int]] = defaultdict(lambda: defaultdict(int))
    for entry in state.live():
        if entry.duration >= 0 and start <= state.work_date(entry) <= end:
            group, sub = getattr(entry, grouping), getattr(entry, sub_grouping)
            totals[group][sub] += entry.duration
    return {
        "groups": [
            {"id": g, "sub_groups": [{"id": s, "seconds": n} for s, n in subs.items()]}
            for g, subs in totals.items()
        ]
    }


@reports.post("/workspace/{workspace_id}/search/time_entries")
async def search(request: Request, caller: Caller, workspace_id: int) -> Response:
    """The detailed report's search: stopped, undeleted entries whose date (in their user's
    zone) lies in ``start_date``..``end_date``, filtered by ``user_ids`` and ``time_entry_ids``;
    a member sees only their own. One row per entry; ``page_size`` rows a page, the next page
    from ``first_row_number`` (``X-Next-Row-Number``)."""
    state = workspace(request, workspace_id)
    body = await read_json(request)
    try:
        start = dt.date.fromisoformat(str(body.get("start_date")))
        end = dt.date.fromisoformat(str(body.get("end_date") or body.get("start_date")))
    except ValueError:
        raise ApiError(400, "start_date and end_date must be YYYY-MM-DD") from None
    if (end - start).days > 366:
        raise ApiError(400, "The date range cannot exceed one year")
    users, ids = body.get("user_ids"), body.get("time_entry_ids")
    size, first = int(body.get("page_size") or 50), int(body.get("first_row_number") or 1)
    found = sorted(
        (
            e
            for e in state.live()
            if e.duration >= 0
            and start <= state.work_date(e) <= end
            and (caller.admin or e.user_id == caller.id)
            and (not users or e.user_id in users)
            and (not ids or e.id in ids)
        ),
        key=lambda e: (e.start, e.id),
    )
    shown = found[first - 1 : first - 1 + size]
    rows = [
        {
            "user_id": e.user_id,
            "username": state.users[e.user_id].fullname,
            "project_id": e.project_id,
            "task_id": e.task_id,
            "billable": e.billable,
            "description": e.description,
            "tag_ids": [],
            "row_number": first + n,
            "time_entries": [
                {
                    "id": e.id,
                    "seconds": e.duration,
                    "start": stamp(e.start),
                    "stop": stamp(e.stop),
                    "at": stamp(e.at),
                }
            ],
        }
        for n, e in enumerate(shown)
    ]
    more = first - 1 + size < len(found)
    headers = (
        {"X-Next-Row-Number": str(first + size), "X-Next-ID": str(shown[-1].id)}
        if more and shown
        else {}
    )
    return JSONResponse(rows, headers=headers)


def _subscription(sub: Subscription, workspace_id: int) -> dict[str, Any]:
    return {
        "subscription_id": sub.id,
        "workspace_id": workspace_id,
        "url_callback": sub.url_callback,
        "event_filters": sub.event_filters,
        "enabled": sub.enabled,
        "description": sub.description,
        "secret": sub.secret,
        "validated_at": stamp(dt.datetime.now(dt.UTC)) if sub.validated else None,
    }


@hooks.post("/subscriptions/{workspace_id}")
async def subscribe(request: Request, caller: Caller, workspace_id: int) -> dict[str, Any]:
    """A subscription; its validation ping goes out at once (answered with the code, it is
    validated; otherwise ``GET /validate/...`` validates it). Any member may subscribe; events
    are filtered by what the creator may see (a member: their own time entries)."""
    state = workspace(request, workspace_id)
    body = await read_json(request)
    url, filters = body.get("url_callback"), body.get("event_filters")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ApiError(400, "url_callback must be a URL")
    if not isinstance(filters, list) or not filters:
        raise ApiError(400, "event_filters must name at least one entity and action")
    sub = Subscription(
        state.next_id(),
        url,
        str(body.get("secret") or secrets.token_urlsafe(16)),
        [dict(f) for f in filters if isinstance(f, dict)],
        str(body.get("description", "")),
        bool(body.get("enabled", True)),
        validation_code=secrets.token_hex(8),
        creator=caller.id,
        creator_is_admin=caller.admin,
    )
    state.subscriptions[sub.id] = sub
    await _ping(request, state, sub)
    return _subscription(sub, workspace_id)


async def _ping(request: Request, state: TogglState, sub: Subscription) -> None:
    """Send ``sub`` its ping (with the validation code): answered 200 with the code, it is
    validated; an answer without it leaves it as it was; no answer at all unvalidates it."""
    ping = state.ping(sub)
    transport = request.app.state.webhook_transport
    if transport is None and not request.app.state.deliver_over_network:
        return
    async with httpx.AsyncClient(transport=transport, timeout=5.0) as client:
        try:
            answer = await client.post(sub.url_callback, content=ping.body, headers=ping.headers)
            code = answer.json().get("validation_code") if answer.content else None
        except (httpx.HTTPError, ValueError, AttributeError):
            sub.validated = False
            return
    if answer.status_code == 200 and code == sub.validation_code:
        sub.validated = True


def _own(request: Request, workspace_id: int, subscription_id: int) -> Subscription:
    sub = workspace(request, workspace_id).subscriptions.get(subscription_id)
    if sub is None:
        raise ApiError(404, "Subscription not found")
    return sub


@hooks.patch("/subscriptions/{workspace_id}/{subscription_id}")
async def set_enabled(
    request: Request, _: Caller, workspace_id: int, subscription_id: int
) -> dict[str, Any]:
    """Enable or disable a subscription (``{"enabled": bool}``); its validation is kept."""
    sub = _own(request, workspace_id, subscription_id)
    enabled = (await read_json(request)).get("enabled")
    if not isinstance(enabled, bool):
        raise ApiError(400, "enabled must be true or false")
    sub.enabled = enabled
    return _subscription(sub, workspace_id)


@hooks.post("/ping/{workspace_id}/{subscription_id}")
async def ping(request: Request, _: Caller, workspace_id: int, subscription_id: int) -> Any:
    """Send the subscription a ping to its callback URL (the way an unvalidated subscription
    is validated again: the ping carries the validation code)."""
    state = workspace(request, workspace_id)
    sub = _own(request, workspace_id, subscription_id)
    await _ping(request, state, sub)
    return {"status": "ok"}


@hooks.get("/subscriptions/{workspace_id}")
async def subscriptions(request: Request, _: Caller, workspace_id: int) -> list[dict[str, Any]]:
    state = workspace(request, workspace_id)
    return [_subscription(s, workspace_id) for s in state.subscriptions.values()]


@hooks.delete("/subscriptions/{workspace_id}/{subscription_id}")
async def unsubscribe(
    request: Request, _: Caller, workspace_id: int, subscription_id: int
) -> dict[str, Any]:
    state = workspace(request, workspace_id)
    sub = state.subscriptions.pop(subscription_id, None)
    if sub is None:
        raise ApiError(404, "Subscription not found")
    return _subscription(sub, workspace_id)


@hooks.get("/validate/{workspace_id}/{subscription_id}/{code}")
async def validate(request: Request, workspace_id: int, subscription_id: int, code: str) -> Any:
    state = workspace(request, workspace_id)
    sub = state.subscriptions.get(subscription_id)
    if sub is None or not secrets.compare_digest(code, sub.validation_code):
        raise ApiError(404, "Subscription not found")
    sub.validated = True
    return {"status": "ok"}


@admin.post("/subscriptions/{subscription_id}/disable", status_code=204)
async def disable(request: Request, subscription_id: int) -> Response:
    """What Toggl does to a subscription whose deliveries kept failing: disabled and no longer
    validated, so nothing is sent to it until it is enabled and validated again."""
    sub = toggl_state(request).subscriptions.get(subscription_id)
    if sub is None:
        raise ApiError(404, "Subscription not found")
    sub.enabled, sub.validated = False, False
    return Response(status_code=204)


@admin.post("/time_entries/{entry_id}/lock", status_code=204)
async def lock(request: Request, entry_id: int) -> Response:
    """Lock an entry as a workspace lock date past it does."""
    entry = toggl_state(request).entries.get(entry_id)
    if entry is None:
        raise ApiError(404, "Time entry not found")
    entry.locked = True
    return Response(status_code=204)


@admin.get("/outbox")
async def outbox(request: Request) -> list[dict[str, Any]]:
    """The webhook deliveries made so far (headers and body as sent)."""
    await deliver(request)
    return [
        {"url": s.url, "headers": s.headers, "body": s.body.decode()}
        for s in toggl_state(request).outbox
    ]
