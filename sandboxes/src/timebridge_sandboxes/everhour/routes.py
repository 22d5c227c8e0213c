"""The Everhour sandbox's routes (Everhour's paths) and its admin API; the app factory."""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from timebridge_sandboxes.everhour.deps import Caller, Sandbox
from timebridge_sandboxes.everhour.rules import (
    _error_body,
    _HookIn,
    _page,
    _Sandbox,
    _Seed,
    _TaskIn,
    _TimeIn,
    _TimeRemoveIn,
)
from timebridge_sandboxes.everhour.state import (
    EVENTS,
    RATE_LIMIT,
    EverhourState,
    _Hook,
    _Record,
    _stamp,
)
from timebridge_sandboxes.everhour.timers import timers
from timebridge_sandboxes.faults import ApiError, Faults, RateLimit, error_response, install

From = Annotated[dt.date | None, Query(alias="from")]
TimeLimit = Annotated[int, Query(ge=1, le=50_000)]
Page = Annotated[int, Query(ge=1)]
Json = dict[str, Any]

api = APIRouter()
admin = APIRouter(prefix="/_sandbox", tags=["sandbox"])


@api.get("/users/me")
async def me(sandbox: Sandbox, caller: Caller) -> Json:
    return sandbox.user_json(caller)


@api.get("/team/users")
async def team_users(sandbox: Sandbox, _: Caller) -> list[Json]:
    return [sandbox.user_json(u) for u in sandbox.state.users.values()]


@api.get("/projects")
async def projects(
    sandbox: Sandbox,
    _: Caller,
    query: str | None = None,
    limit: Annotated[int | None, Query(ge=1)] = None,
    page: Page = 1,
) -> list[Json]:
    found = [
        p
        for p in sandbox.state.projects.values()
        if query is None or query.lower() in p.name.lower()
    ]
    return [sandbox.project_json(p) for p in _page(found, page, limit)]


@api.get("/projects/{project_id}")
async def project(sandbox: Sandbox, _: Caller, project_id: str) -> Json:
    return sandbox.project_json(sandbox.project(project_id))


@api.get("/projects/{project_id}/sections")
async def sections(sandbox: Sandbox, _: Caller, project_id: str) -> list[Json]:
    sandbox.project(project_id)
    return [
        {"id": s.id, "name": s.name, "position": s.position, "project": s.project, "status": "open"}
        for s in sandbox.state.sections.values()
        if s.project == project_id
    ]


@api.get("/projects/{project_id}/tasks")
async def project_tasks(
    sandbox: Sandbox,
    _: Caller,
    project_id: str,
    *,
    query: str | None = None,
    exclude_closed: Annotated[bool, Query(alias="exclude-closed")] = False,
    limit: Annotated[int, Query(ge=1, le=250)] = 250,
    page: Annotated[int, Query(ge=1, le=100)] = 1,
) -> list[Json]:
    sandbox.project(project_id)
    found = [
        t
        for t in sandbox.state.tasks.values()
        if t.project == project_id
        and (query is None or query.lower() in t.name.lower())
        and not (exclude_closed and t.status == "closed")
    ]
    shown = _page(found, page, limit)
    times = sandbox.task_times(t.id for t in shown)
    return [sandbox.task_json(t, times) for t in shown]


@api.post("/projects/{project_id}/tasks", status_code=201)
async def create_task(sandbox: Sandbox, _: Caller, project_id: str, body: _TaskIn) -> Json:
    sandbox.project(project_id)
    section = sandbox.state.sections.get(body.section)
    if section is None or section.project != project_id:
        raise ApiError(400, "Section not found in this project")
    task_id = sandbox.state.add_task(
        project_id,
        body.name,
        section_id=section.id,
        description=body.description,
        labels=body.labels,
        status=body.status,
    )
    return sandbox.task_json(sandbox.state.tasks[task_id])


@api.get("/tasks/{task_id}")
async def task(sandbox: Sandbox, _: Caller, task_id: str) -> Json:
    return sandbox.task_json(sandbox.task(task_id))


@dataclass
class TimeQuery:
    """What every time-record list takes: ``from``/``to`` (inclusive), ``limit`` (up to 50000)
    and the 1-based ``page``."""

    start: From = None
    to: dt.date | None = None
    limit: TimeLimit = 50_000
    page: Page = 1

    def answer(self, sandbox: _Sandbox, keep: Callable[[_Record], bool]) -> list[Json]:
        found = [r for r in sandbox.records(None, self.start, self.to) if keep(r)]
        shown = _page(found, self.page, self.limit)
        times = sandbox.task_times({r.task for r in shown})
        return [sandbox.record_json(r, times) for r in shown]


Times = Annotated[TimeQuery, Depends()]


@api.get("/team/time")
async def team_time(sandbox: Sandbox, _: Caller, query: Times) -> list[Json]:
    return query.answer(sandbox, lambda _: True)


@api.get("/tasks/{task_id}/time")
async def task_time(sandbox: Sandbox, _: Caller, task_id: str, query: Times) -> list[Json]:
    sandbox.task(task_id)
    return query.answer(sandbox, lambda r: r.task == task_id)


@api.get("/users/{user_id}/time")
async def user_time(sandbox: Sandbox, _: Caller, user_id: int, query: Times) -> list[Json]:
    """A user's time records (Everhour's "Get User Time Records")."""
    if user_id not in sandbox.state.users:
        raise ApiError(404, "User not found")
    return query.answer(sandbox, lambda r: r.user == user_id)


@api.get("/projects/{project_id}/time")
async def project_time(sandbox: Sandbox, _: Caller, project_id: str, query: Times) -> list[Json]:
    """The time records of a project's tasks (Everhour's "Get Project Time Records")."""
    sandbox.project(project_id)
    tasks = {t.id for t in sandbox.state.tasks.values() if t.project == project_id}
    return query.answer(sandbox, lambda r: r.task in tasks)


@api.post("/tasks/{task_id}/time", status_code=201)
async def add_time(
    sandbox: Sandbox, caller: Caller, task_id: str, body: _TimeIn, background: BackgroundTasks
) -> Json:
    state = sandbox.state
    sandbox.task(task_id)
    owner = sandbox.owner(body.user, caller)
    record = state.find_record(task_id, owner, body.date)
    if record is None:
        record_id = state.next_id("record", 1)
        record = _Record(record_id, task_id, owner, body.date, 0, None, _stamp(state.now()))
        state.records[record.id] = record
    sandbox.check_unlocked(record, caller)
    previous = record.time
    record.time += body.time
    record.comment = body.comment if body.comment is not None else record.comment
    sandbox.log_change(record, "ADD", previous, caller)
    sandbox.announce(background, record)
    return sandbox.record_json(record)


@api.put("/tasks/{task_id}/time")
async def update_time(
    sandbox: Sandbox, caller: Caller, task_id: str, body: _TimeIn, background: BackgroundTasks
) -> Json:
    record = sandbox.record(task_id, body.user, body.date, caller)
    sandbox.check_unlocked(record, caller)
    previous = record.time
    record.time = body.time
    record.comment = body.comment if body.comment is not None else record.comment
    sandbox.log_change(record, "EDIT", previous, caller)
    sandbox.announce(background, record)
    return sandbox.record_json(record)


@api.delete("/tasks/{task_id}/time")
async def delete_time(
    sandbox: Sandbox,
    caller: Caller,
    task_id: str,
    body: _TimeRemoveIn,
    background: BackgroundTasks,
) -> Json:
    record = sandbox.record(task_id, body.user, body.date, caller)
    sandbox.check_unlocked(record, caller)
    removed = sandbox.record_json(record)
    del sandbox.state.records[record.id]
    previous, record.time = record.time, 0
    sandbox.log_change(record, "REMOVE", previous, caller)
    sandbox.announce(background, record)
    return removed


@api.get("/hooks")
async def hooks(sandbox: Sandbox, _: Caller) -> list[Json]:
    return [sandbox.hook_json(h) for h in sandbox.state.hooks.values()]


@api.get("/hooks/{hook_id}")
async def hook(sandbox: Sandbox, _: Caller, hook_id: int) -> Json:
    if hook_id not in sandbox.state.hooks:
        raise ApiError(404, "Webhook not found")
    return sandbox.hook_json(sandbox.state.hooks[hook_id])


@api.post("/hooks", status_code=201)
async def create_hook(
    sandbox: Sandbox,
    _: Caller,
    body: _HookIn,
    x_skip_handshake: Annotated[str | None, Header()] = None,
) -> Json:
    state = sandbox.state
    unknown = set(body.events) - EVENTS
    if unknown:
        raise ApiError(400, f"Unknown events: {', '.join(sorted(unknown))}")
    if body.project is not None:
        sandbox.project(body.project)
    if any(h.target_url == body.targetUrl and h.is_active for h in state.hooks.values()):
        raise ApiError(409, "Webhook for this URL already exists")
    if x_skip_handshake not in {"1", "true"}:
        await sandbox.handshake(body.targetUrl)
    hook_id = state.next_id("hook", 301)
    created = _Hook(hook_id, body.targetUrl, body.events, body.project, _stamp(state.now()))
    state.hooks[created.id] = created
    return sandbox.hook_json(created)


@api.put("/hooks/{hook_id}")
async def update_hook(
    sandbox: Sandbox,
    _: Caller,
    hook_id: int,
    body: _HookIn,
    x_skip_handshake: Annotated[str | None, Header()] = None,
) -> Json:
    """Update a webhook (same body as a create); a new target URL is handshaken again, and the
    hook is active again afterwards (how a hook Everhour disabled is switched back on)."""
    hook = sandbox.state.hooks.get(hook_id)
    if hook is None:
        raise ApiError(404, "Webhook not found")
    unknown = set(body.events) - EVENTS
    if unknown:
        raise ApiError(400, f"Unknown events: {', '.join(sorted(unknown))}")
    if body.project is not None:
        sandbox.project(body.project)
    if body.targetUrl != hook.target_url and x_skip_handshake not in {"1", "true"}:
        await sandbox.handshake(body.targetUrl)
    hook.target_url, hook.events, hook.project = body.targetUrl, body.events, body.project
    hook.is_active = True
    return sandbox.hook_json(hook)


@api.delete("/hooks/{hook_id}", status_code=204)
async def delete_hook(sandbox: Sandbox, _: Caller, hook_id: int) -> Response:
    if sandbox.state.hooks.pop(hook_id, None) is None:
        raise ApiError(404, "Webhook not found")
    return Response(status_code=204)


@admin.post("/seed")
async def seed(sandbox: Sandbox, body: _Seed) -> Json:
    state = sandbox.state
    users = [
        state.add_user(u.name, api_key=u.api_key, email=u.email, role=u.role) for u in body.users
    ]
    created: list[Json] = []
    for p in body.projects:
        project_id = state.add_project(p.name, billing=p.billing)
        section_ids = {name: state.add_section(project_id, name) for name in p.sections}
        tasks = [
            state.add_task(
                project_id,
                t.name,
                section_id=section_ids.get(t.section) if t.section else None,
                unbillable=t.unbillable,
            )
            for t in p.tasks
        ]
        created.append({"id": project_id, "sections": section_ids, "tasks": tasks})
    return {"users": users, "projects": created}


@admin.post("/time/{record_id}/lock")
async def lock(sandbox: Sandbox, record_id: int, invoiced: bool = False) -> Json:
    if record_id not in sandbox.state.records:
        raise ApiError(404, "Time record not found")
    sandbox.state.lock_time(record_id, invoiced=invoiced)
    return sandbox.record_json(sandbox.state.records[record_id])


@admin.get("/deliveries")
async def deliveries(sandbox: Sandbox) -> list[Json]:
    return [
        {"hook": d.hook_id, "event": d.event, "status": d.status, "error": d.error}
        for d in sandbox.state.deliveries
    ]


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(
        _error_body, ApiError(400, "; ".join(str(e["msg"]) for e in exc.errors()))
    )


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    """Starlette's own refusals (a body that is not JSON, an unknown route) in Everhour's shape."""
    assert isinstance(exc, HTTPException)
    return error_response(_error_body, ApiError(exc.status_code, str(exc.detail)))


def create_everhour_sandbox(
    state: EverhourState | None = None,
    faults: Faults | None = None,
    *,
    rate_limit: RateLimit | None = None,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The sandbox app; ``webhook_transport`` lets tests receive webhooks without a socket."""
    sandbox = _Sandbox(
        state if state is not None else EverhourState(),
        faults if faults is not None else Faults(),
        rate_limit if rate_limit is not None else RateLimit(*RATE_LIMIT),
        webhook_transport,
    )
    app = FastAPI(title="Everhour sandbox")
    app.state.sandbox = sandbox
    install(app, sandbox.faults, sandbox.limit, sandbox.state.reset, _error_body)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http_error)
    app.include_router(api)
    app.include_router(timers)
    app.include_router(admin)
    return app
