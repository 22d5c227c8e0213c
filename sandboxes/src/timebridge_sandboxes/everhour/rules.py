"""The Everhour sandbox's behaviour behind the routes: request bodies, rules, serialisation,
webhooks."""

import datetime as dt
import secrets
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

import httpx
from fastapi import BackgroundTasks
from pydantic import BaseModel, Field

from timebridge_sandboxes.everhour.state import (
    USER_AGENT,
    Delivery,
    EverhourState,
    _Hook,
    _Project,
    _Record,
    _stamp,
    _Task,
    _User,
)
from timebridge_sandboxes.faults import ApiError, Faults, RateLimit

_DAYS_INDEXED = 366
"""A date range up to this many days is read through the records' index by date."""


def _error_body(status: int, message: str) -> dict[str, Any]:
    return {"code": status, "message": message}


Text = Annotated[str, Field(pattern=r"^[^\x00]*$")]
"""Text a client may send: anything but NUL (which cannot be stored)."""


class _TaskIn(BaseModel):
    name: Text = Field(min_length=1)
    section: int
    description: Text | None = None
    labels: list[Text] = []
    status: Literal["open", "closed"] = "open"


class _TimeIn(BaseModel):
    time: int = Field(ge=0)
    date: dt.date
    user: int | None = None
    comment: Text | None = None


class _TimeRemoveIn(BaseModel):
    date: dt.date
    user: int | None = None


class _HookIn(BaseModel):
    targetUrl: str = Field(pattern=r"^https?://[^\x00-\x20\x7f]+$")
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
        records = self.state.records
        some: Iterable[_Record] = records.values()
        if start is not None and end is not None and (end - start).days < _DAYS_INDEXED:
            days = (start + dt.timedelta(days=n) for n in range((end - start).days + 1))
            some = [r for day in days for r in records.on_date(day)]
        return sorted(
            (
                r
                for r in some
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
            "timezone": user.timezone,
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

    def task_times(self, task_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        """Each task's time per user, summed in one pass over the records: a page of records
        (each embedding its task) costs one pass, not one per record (the soak of issue 12:
        16,000 records listed took over a minute)."""
        times: dict[str, dict[str, int]] = {task_id: {} for task_id in task_ids}
        for r in self.state.records.values():
            users = times.get(r.task)
            if users is not None:
                users[str(r.user)] = users.get(str(r.user), 0) + r.time
        return times

    def task_json(
        self, task: _Task, times: Mapping[str, dict[str, int]] | None = None
    ) -> dict[str, Any]:
        users = (times if times is not None else self.task_times([task.id]))[task.id]
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

    def record_json(
        self, record: _Record, times: Mapping[str, dict[str, int]] | None = None
    ) -> dict[str, Any]:
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
            "task": self.task_json(self.state.tasks[record.task], times),
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
        hooks = [
            hook
            for hook in self.state.hooks.values()
            if hook.is_active
            and event in hook.events
            and (hook.project is None or hook.project == project)
        ]
        if not hooks:  # no client built: ~25% of a write's CPU in process (issue 12 bench)
            return
        async with httpx.AsyncClient(transport=self.webhook_transport, timeout=10) as client:
            for hook in hooks:
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
        except (httpx.HTTPError, httpx.InvalidURL):
            raise ApiError(400, "Invalid callback") from None
        if not answer.is_success or answer.headers.get("X-Hook-Secret") != secret:
            raise ApiError(400, "Invalid callback")
