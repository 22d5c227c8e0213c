"""An in-memory Everhour: the API routes Timebridge uses, with Everhour's paths, fields and units.

Built from Everhour's documentation (developers.everhour.com, the Apiary reference), not from
Timebridge's client. Behaviour taken from the documentation: ``X-Api-Key`` auth (``401``
otherwise), about 20 requests per 10 s per key (``429`` + ``Retry-After`` seconds), bare JSON
arrays paged with ``page``/``limit`` (the last page is short), ``YYYY-MM-DD`` dates, times in
seconds, ``YYYY-MM-DD HH:MM:SS`` UTC datetimes, one time record per task, user and date, webhook
registration with the ``X-Hook-Secret`` handshake (``409`` for a URL already registered) and
unsigned deliveries ``{"event", "payload": {"id", "data"}, "createdAt"}`` sent asynchronously
after the change. Assumed where the documentation is silent: adding time to an existing record
increases it, updating a missing record is ``404``, a locked (or, for non-admins, invoiced)
record is refused with ``403`` "Time record is locked", refused handshakes and malformed
requests are ``400``, a deletion is announced as ``api:time:updated`` with ``time`` 0.

Faults (:class:`~timebridge_sandboxes.faults.Faults`) are switched from Python or from the admin
API under ``/_sandbox``:
``POST /_sandbox/reset``, ``POST /_sandbox/seed``, ``GET|POST|DELETE /_sandbox/faults``,
``POST /_sandbox/time/{id}/lock`` and ``GET /_sandbox/deliveries``.
"""

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import httpx
from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from timebridge_sandboxes.faults import ApiError, Faults, RateLimit, error_response, install

USER_AGENT = "Everhour (everhour.com)"
EVENTS = frozenset(
    {
        "api:project:created",
        "api:project:updated",
        "api:project:removed",
        "api:task:created",
        "api:task:updated",
        "api:task:removed",
        "api:timer:started",
        "api:timer:stopped",
        "api:time:updated",
        "api:section:created",
        "api:section:updated",
        "api:section:removed",
        "api:client:created",
        "api:client:updated",
        "api:estimate:updated",
    }
)
RATE_LIMIT = (20, 10.0)
"""Requests per seconds Everhour allows one API key."""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class _User:
    id: int
    name: str
    email: str | None
    role: str
    api_key: str


@dataclass
class _Project:
    id: str
    name: str
    billing: str


@dataclass
class _Section:
    id: int
    project: str
    name: str
    position: int


@dataclass
class _Task:
    id: str
    project: str
    section: int
    name: str
    description: str | None
    labels: list[str]
    status: str
    unbillable: bool
    created_at: str


@dataclass
class _Record:
    id: int
    task: str
    user: int
    date: dt.date
    time: int
    comment: str | None
    created_at: str
    history: list[dict[str, Any]] = field(default_factory=list)
    is_locked: bool = False
    is_invoiced: bool = False


@dataclass
class _Hook:
    id: int
    target_url: str
    events: list[str]
    project: str | None
    created_at: str
    last_used_at: str | None = None
    is_active: bool = True


@dataclass(frozen=True)
class Delivery:
    """One webhook call the sandbox made, for tests and the admin API."""

    hook_id: int
    event: str
    status: int | None
    error: str | None = None


@dataclass
class EverhourState:
    """The sandbox's data; ids are sequential, so the same seed always yields the same ids."""

    now: Callable[[], dt.datetime] = _utcnow
    users: dict[int, _User] = field(default_factory=dict)
    projects: dict[str, _Project] = field(default_factory=dict)
    sections: dict[int, _Section] = field(default_factory=dict)
    tasks: dict[str, _Task] = field(default_factory=dict)
    records: dict[int, _Record] = field(default_factory=dict)
    hooks: dict[int, _Hook] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    _sequences: dict[str, int] = field(default_factory=dict)

    def next_id(self, kind: str, start: int) -> int:
        self._sequences[kind] = self._sequences.get(kind, start - 1) + 1
        return self._sequences[kind]

    def reset(self) -> None:
        for collection in (self.users, self.projects, self.sections, self.tasks, self.records):
            collection.clear()
        self.hooks.clear()
        self.deliveries.clear()
        self._sequences.clear()

    def add_user(
        self, name: str, *, api_key: str, email: str | None = None, role: str = "admin"
    ) -> int:
        user = _User(self.next_id("user", 1001), name, email, role, api_key)
        self.users[user.id] = user
        return user.id

    def add_project(self, name: str, *, billing: str = "hourly") -> str:
        project = _Project(f"ev:{self.next_id('project', 9_000_000_001)}", name, billing)
        self.projects[project.id] = project
        return project.id

    def add_section(self, project_id: str, name: str) -> int:
        position = 1 + sum(1 for s in self.sections.values() if s.project == project_id)
        section = _Section(self.next_id("section", 501), project_id, name, position)
        self.sections[section.id] = section
        return section.id

    def add_task(
        self,
        project_id: str,
        name: str,
        *,
        section_id: int | None = None,
        description: str | None = None,
        labels: list[str] | None = None,
        status: str = "open",
        unbillable: bool = False,
    ) -> str:
        if section_id is None:
            section_id = next(
                (s.id for s in self.sections.values() if s.project == project_id), None
            ) or self.add_section(project_id, "To do")
        task = _Task(
            f"ev:{self.next_id('task', 7_000_000_001)}",
            project_id,
            section_id,
            name,
            description,
            labels or [],
            status,
            unbillable,
            _stamp(self.now()),
        )
        self.tasks[task.id] = task
        return task.id

    def lock_time(self, record_id: int, *, invoiced: bool = False) -> None:
        """Lock a record (or mark it invoiced), as approvals and invoicing do in Everhour."""
        record = self.records[record_id]
        record.is_invoiced = record.is_invoiced or invoiced
        record.is_locked = record.is_locked or not invoiced

    def user_by_key(self, api_key: str | None) -> _User | None:
        return next((u for u in self.users.values() if u.api_key == api_key), None)

    def find_record(self, task_id: str, user_id: int, date: dt.date) -> _Record | None:
        return next(
            (
                r
                for r in self.records.values()
                if r.task == task_id and r.user == user_id and r.date == date
            ),
            None,
        )


def _error_body(status: int, message: str) -> dict[str, Any]:
    return {"code": status, "message": message}


class _TaskIn(BaseModel):
    name: str = Field(min_length=1)
    section: int
    description: str | None = None
    labels: list[str] = []
    status: Literal["open", "closed"] = "open"


class _TimeIn(BaseModel):
    time: int = Field(ge=0)
    date: dt.date
    user: int | None = None
    comment: str | None = None


class _TimeRemoveIn(BaseModel):
    date: dt.date
    user: int | None = None


class _HookIn(BaseModel):
    targetUrl: str = Field(pattern=r"^https?://")
    events: list[str] = Field(min_length=1)
    project: str | None = None


class _SeedUser(BaseModel):
    name: str
    api_key: str
    email: str | None = None
    role: Literal["admin", "supervisor", "member"] = "admin"


class _SeedTask(BaseModel):
    name: str
    section: str | None = None
    unbillable: bool = False


class _SeedProject(BaseModel):
    name: str
    billing: Literal["non_billable", "hourly", "fixed_fee"] = "hourly"
    sections: list[str] = ["To do"]
    tasks: list[_SeedTask] = []


class _Seed(BaseModel):
    users: list[_SeedUser] = []
    projects: list[_SeedProject] = []


def _page(items: list[Any], page: int, limit: int | None) -> list[Any]:
    return items if limit is None else items[(page - 1) * limit : page * limit]


class _Sandbox:
    """The Everhour behaviour behind the routes: lookups, rules, serialisation, webhooks."""

    def __init__(
        self,
        state: EverhourState,
        faults: Faults,
        limit: RateLimit,
        webhook_transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        self.state = state
        self.faults = faults
        self.limit = limit
        self.webhook_transport = webhook_transport

    def project(self, project_id: str) -> _Project:
        if project_id not in self.state.projects:
            raise ApiError(404, "Project not found")
        return self.state.projects[project_id]

    def task(self, task_id: str) -> _Task:
        if task_id not in self.state.tasks:
            raise ApiError(404, "Task not found")
        return self.state.tasks[task_id]

    def record(self, task_id: str, user_id: int | None, date: dt.date, caller: _User) -> _Record:
        self.task(task_id)
        record = self.state.find_record(task_id, self.owner(user_id, caller), date)
        if record is None:
            raise ApiError(404, "Time record not found")
        return record

    def owner(self, user_id: int | None, caller: _User) -> int:
        owner = caller.id if user_id is None else user_id
        if owner not in self.state.users:
            raise ApiError(400, "Unknown user")
        return owner

    @staticmethod
    def check_unlocked(record: _Record, caller: _User) -> None:
        if record.is_locked or (record.is_invoiced and caller.role != "admin"):
            raise ApiError(403, "Time record is locked")

    def log_change(self, record: _Record, action: str, previous: int, caller: _User) -> None:
        record.history.append(
            {
                "id": self.state.next_id("history", 1),
                "action": action,
                "time": record.time - previous,
                "previousTime": previous,
                "createdBy": caller.id,
                "createdAt": _stamp(self.state.now()),
            }
        )

    def records(
        self, task_id: str | None, start: dt.date | None, end: dt.date | None
    ) -> list[_Record]:
        return sorted(
            (
                r
                for r in self.state.records.values()
                if (task_id is None or r.task == task_id)
                and (start is None or r.date >= start)
                and (end is None or r.date <= end)
            ),
            key=lambda r: (r.date, r.id),
        )

    def user_json(self, user: _User) -> dict[str, Any]:
        return {
            "id": user.id,
            "name": user.name,
            "email": user.email,
            "role": user.role,
            "status": "active",
            "headline": None,
            "timezone": 0,
        }

    def project_json(self, project: _Project) -> dict[str, Any]:
        return {
            "id": project.id,
            "name": project.name,
            "type": "board",
            "status": "open",
            "favorite": False,
            "workspaceId": "ev:sandbox",
            "workspaceName": "Sandbox",
            "client": None,
            "users": sorted(self.state.users),
            "billing": {"type": project.billing},
        }

    def task_json(self, task: _Task) -> dict[str, Any]:
        users: dict[str, int] = {}
        for r in self.state.records.values():
            if r.task == task.id:
                users[str(r.user)] = users.get(str(r.user), 0) + r.time
        return {
            "id": task.id,
            "type": "task",
            "name": task.name,
            "projects": [task.project],
            "section": task.section,
            "labels": task.labels,
            "description": task.description,
            "status": task.status,
            "completed": task.status == "closed",
            "unbillable": task.unbillable,
            "createdAt": task.created_at,
            "time": {"total": sum(users.values()), "users": users},
        }

    def record_json(self, record: _Record) -> dict[str, Any]:
        reasons = [
            name
            for name, on in (("locked", record.is_locked), ("invoiced", record.is_invoiced))
            if on
        ]
        body: dict[str, Any] = {
            "id": record.id,
            "date": record.date.isoformat(),
            "time": record.time,
            "user": record.user,
            "task": self.task_json(self.state.tasks[record.task]),
            "history": record.history,
            "isLocked": record.is_locked,
            "isInvoiced": record.is_invoiced,
            "lockReasons": reasons,
            "createdAt": record.created_at,
        }
        if record.comment is not None:
            body["comment"] = record.comment
        return body

    @staticmethod
    def hook_json(hook: _Hook) -> dict[str, Any]:
        return {
            "id": hook.id,
            "targetUrl": hook.target_url,
            "events": hook.events,
            "project": hook.project,
            "isActive": hook.is_active,
            "createdAt": hook.created_at,
            "lastUsedAt": hook.last_used_at,
        }

    def announce(self, background: BackgroundTasks, record: _Record) -> None:
        """Queue the ``api:time:updated`` deliveries; they go out after the answer."""
        data = self.record_json(record)
        task = self.state.tasks[record.task]
        background.add_task(self.deliver, "api:time:updated", task.id, data, task.project)

    async def deliver(
        self, event: str, resource_id: str, data: dict[str, Any], project: str
    ) -> None:
        async with httpx.AsyncClient(transport=self.webhook_transport, timeout=10) as client:
            for hook in list(self.state.hooks.values()):
                if not hook.is_active or event not in hook.events:
                    continue
                if hook.project is not None and hook.project != project:
                    continue
                hook.last_used_at = _stamp(self.state.now())
                body = {
                    "event": event,
                    "payload": {"id": resource_id, "data": data},
                    "createdAt": hook.last_used_at,
                }
                try:
                    answer = await client.post(
                        hook.target_url, json=body, headers={"User-Agent": USER_AGENT}
                    )
                except httpx.HTTPError as exc:
                    outcome = Delivery(hook.id, event, None, type(exc).__name__)
                else:
                    outcome = Delivery(hook.id, event, answer.status_code)
                self.state.deliveries.append(outcome)

    async def handshake(self, target_url: str) -> None:
        """Everhour's check that the target is live: it must answer 2xx echoing the secret."""
        secret = secrets.token_hex(64)
        try:
            async with httpx.AsyncClient(transport=self.webhook_transport, timeout=10) as client:
                answer = await client.post(
                    target_url,
                    content=b"",
                    headers={"User-Agent": USER_AGENT, "X-Hook-Secret": secret},
                )
        except httpx.HTTPError:
            raise ApiError(400, "Invalid callback") from None
        if not answer.is_success or answer.headers.get("X-Hook-Secret") != secret:
            raise ApiError(400, "Invalid callback")


def _sandbox(request: Request) -> _Sandbox:
    sandbox: _Sandbox = request.app.state.sandbox
    return sandbox


Sandbox = Annotated[_Sandbox, Depends(_sandbox)]


def _caller(sandbox: Sandbox, x_api_key: Annotated[str | None, Header()] = None) -> _User:
    user = sandbox.state.user_by_key(x_api_key)
    if user is None:
        raise ApiError(401, "Invalid API key")
    sandbox.limit.admit(user.api_key)
    return user


Caller = Annotated[_User, Depends(_caller)]
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
    return [sandbox.task_json(t) for t in _page(found, page, limit)]


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


@api.get("/team/time")
async def team_time(
    sandbox: Sandbox,
    _: Caller,
    start: From = None,
    to: dt.date | None = None,
    limit: TimeLimit = 50_000,
    page: Page = 1,
) -> list[Json]:
    return [sandbox.record_json(r) for r in _page(sandbox.records(None, start, to), page, limit)]


@api.get("/tasks/{task_id}/time")
async def task_time(
    sandbox: Sandbox,
    _: Caller,
    task_id: str,
    *,
    start: From = None,
    to: dt.date | None = None,
    limit: TimeLimit = 50_000,
    page: Page = 1,
) -> list[Json]:
    sandbox.task(task_id)
    found = sandbox.records(task_id, start, to)
    return [sandbox.record_json(r) for r in _page(found, page, limit)]


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
    app.include_router(api)
    app.include_router(admin)
    return app
