"""The Xero Projects sandbox's data and how it renders in Xero's documented shapes.

Ids are UUIDs; moments are kept in UTC and rendered ``2026-11-03T08:15:00Z`` (``dateEnteredUtc``
with fractions, as Xero writes it); ``duration`` is whole minutes. Access tokens are shaped as
Xero's are (a JWT whose payload names ``xero_userid``), unsigned here.
"""

import base64
import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from timebridge_sandboxes.consent import Consents


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def access_token(user_id: str, secret: str) -> str:
    """A token shaped like Xero's (``header.payload.signature``, base64url JSON); ``secret``
    makes it unguessable."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    header = part({"alg": "RS256", "typ": "JWT"})
    payload = part({"xero_userid": user_id, "scope": ["projects", "offline_access"]})
    return f"{header}.{payload}.{secret}"


@dataclass
class User:
    user_id: str
    name: str
    email: str


@dataclass
class Project:
    project_id: str
    name: str
    contact_id: str
    currency: str = "GBP"
    status: str = "INPROGRESS"


@dataclass
class Task:
    task_id: str
    project_id: str
    name: str
    charge_type: str = "TIME"
    rate: float = 0.0
    status: str = "ACTIVE"


@dataclass
class Entry:
    time_entry_id: str
    user_id: str
    project_id: str
    task_id: str
    date_utc: dt.datetime
    duration: int
    description: str | None = None
    status: str = "ACTIVE"
    entered: dt.datetime = field(default_factory=now)


@dataclass
class XeroProjectsState:
    """One organisation (tenant) with its project users, projects, tasks and time."""

    tenant_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    timezone: str = "Europe/London"
    tenant_name: str = "Demo Company (Global)"
    tokens: dict[str, str] = field(default_factory=dict)
    """Access token -> the user it acts as."""
    consents: Consents = field(
        default_factory=lambda: Consents(
            "sandbox-xero-projects-client",
            "sandbox-xero-projects-secret",
        )
    )
    """Xero's identity server for this organisation (:mod:`.oauth`): the app and its codes."""
    scopes: dict[str, str] = field(default_factory=dict)
    """The scopes each user consented to (a refresh keeps them)."""
    users: dict[str, User] = field(default_factory=dict)
    projects: dict[str, Project] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)
    entries: dict[str, Entry] = field(default_factory=dict)
    replies: dict[tuple[str, str, str], tuple[int, Any]] = field(default_factory=dict)
    """Answers kept by ``(method, path, Idempotency-Key)``: a repeated write gets the same."""
    max_page_size: int = 500

    def reset(self) -> None:
        self.entries.clear()
        self.replies.clear()
        self.max_page_size = 500

    def add_user(self, name: str, email: str, token_secret: str) -> tuple[User, str]:
        user = User(str(uuid.uuid4()), name, email)
        self.users[user.user_id] = user
        token = access_token(user.user_id, token_secret)
        self.tokens[token] = user.user_id
        return user, token

    def add_project(self, name: str) -> Project:
        project = Project(str(uuid.uuid4()), name, str(uuid.uuid4()))
        self.projects[project.project_id] = project
        return project

    def add_task(self, project: Project, name: str, charge_type: str = "TIME") -> Task:
        task = Task(str(uuid.uuid4()), project.project_id, name, charge_type, 50.0)
        self.tasks[task.task_id] = task
        return task

    def project_json(self, project: Project) -> dict[str, Any]:
        logged = sum(
            e.duration for e in self.entries.values() if e.project_id == project.project_id
        )
        return {
            "projectId": project.project_id,
            "contactId": project.contact_id,
            "name": project.name,
            "currencyCode": project.currency,
            "minutesLogged": logged,
            "status": project.status,
        }

    def task_json(self, task: Task) -> dict[str, Any]:
        minutes = sum(e.duration for e in self.entries.values() if e.task_id == task.task_id)
        invoiced = sum(
            e.duration
            for e in self.entries.values()
            if e.task_id == task.task_id and e.status == "INVOICED"
        )
        currency = self.projects[task.project_id].currency
        return {
            "taskId": task.task_id,
            "projectId": task.project_id,
            "name": task.name,
            "rate": {"currency": currency, "value": task.rate},
            "chargeType": task.charge_type,
            "status": task.status,
            "totalMinutes": minutes,
            "minutesInvoiced": invoiced,
            "minutesToBeInvoiced": minutes - invoiced if task.charge_type == "TIME" else 0,
            "nonChargeableMinutes": minutes if task.charge_type == "NON_CHARGEABLE" else 0,
            "fixedMinutes": minutes if task.charge_type == "FIXED" else 0,
        }

    def entry_json(self, entry: Entry) -> dict[str, Any]:
        rendered: dict[str, Any] = {
            "timeEntryId": entry.time_entry_id,
            "userId": entry.user_id,
            "projectId": entry.project_id,
            "taskId": entry.task_id,
            "dateUtc": stamp(entry.date_utc),
            "dateEnteredUtc": entry.entered.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "duration": entry.duration,
            "status": entry.status,
        }
        if entry.description is not None:
            rendered["description"] = entry.description
        return rendered


def page(items: list[dict[str, Any]], number: int, size: int) -> dict[str, Any]:
    """Xero's paged list: ``pagination`` (page, pageSize, pageCount, itemCount) and ``items``."""
    count = max(1, -(-len(items) // size))
    chosen = items[(number - 1) * size : number * size]
    return {
        "pagination": {
            "page": number,
            "pageSize": size,
            "pageCount": count,
            "itemCount": len(items),
        },
        "items": chosen,
    }
