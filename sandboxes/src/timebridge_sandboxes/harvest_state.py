"""The Harvest sandbox's data and how it renders in Harvest's documented shapes (API v2).

Ids are sequential integers, so the same seed always yields the same ids. Hours are kept as the
decimal a client sent (Harvest's examples carry two decimals; nothing documents rounding).
"""

import datetime as dt
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

RAILS_ZONES = {
    "Eastern Time (US & Canada)": "America/New_York",
    "Central Time (US & Canada)": "America/Chicago",
    "Mountain Time (US & Canada)": "America/Denver",
    "Pacific Time (US & Canada)": "America/Los_Angeles",
    "London": "Europe/London",
    "Berlin": "Europe/Berlin",
    "Paris": "Europe/Paris",
    "UTC": "Etc/UTC",
    "Tokyo": "Asia/Tokyo",
    "Sydney": "Australia/Sydney",
}
"""The Rails zone names the sandbox's users may have (a part of ActiveSupport's table)."""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class User:
    id: int
    first_name: str
    last_name: str
    email: str
    token: str
    timezone: str
    access_roles: list[str]
    created_at: str
    updated_at: str
    is_active: bool = True
    is_contractor: bool = False

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The user's zone (a name outside the sandbox's part of Rails' table counts as UTC)."""
        try:
            return zoneinfo.ZoneInfo(RAILS_ZONES.get(self.timezone, self.timezone))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return zoneinfo.ZoneInfo("UTC")

    @property
    def is_admin(self) -> bool:
        return "administrator" in self.access_roles


@dataclass
class Client:
    id: int
    name: str
    currency: str = "USD"
    is_active: bool = True
    address: str | None = None
    created_at: str = "2026-01-01T00:00:00Z"
    updated_at: str = "2026-01-01T00:00:00Z"


@dataclass
class Project:
    id: int
    client_id: int
    name: str
    code: str | None
    is_billable: bool
    bill_by: str
    hourly_rate: float | None
    created_at: str
    updated_at: str
    is_active: bool = True


@dataclass
class Task:
    id: int
    name: str
    billable_by_default: bool
    default_hourly_rate: float | None
    created_at: str
    updated_at: str
    is_active: bool = True
    is_default: bool = False


@dataclass
class Assignment:
    id: int
    project_id: int
    task_id: int
    billable: bool
    hourly_rate: float | None
    created_at: str
    updated_at: str
    is_active: bool = True


@dataclass
class Entry:
    id: int
    user_id: int
    project_id: int
    task_id: int
    spent_date: dt.date
    hours: float
    notes: str | None
    started_time: str | None
    ended_time: str | None
    external_reference: dict[str, Any] | None
    created_at: str
    updated_at: str
    updated: dt.datetime
    is_running: bool = False
    timer_started_at: str | None = None
    is_locked: bool = False
    locked_reason: str | None = None
    is_billed: bool = False


@dataclass
class HarvestState:
    """One Harvest account: its company settings, people, projects, tasks and time."""

    account_id: str = "1000001"
    company_name: str = "Sandbox Agency"
    wants_timestamp_timers: bool = False
    page_cap: int | None = None
    """A test's smaller largest ``per_page`` than Harvest's 2000, so few items span pages."""
    now: Callable[[], dt.datetime] = _utcnow
    users: dict[int, User] = field(default_factory=dict)
    clients: dict[int, Client] = field(default_factory=dict)
    projects: dict[int, Project] = field(default_factory=dict)
    tasks: dict[int, Task] = field(default_factory=dict)
    assignments: dict[int, Assignment] = field(default_factory=dict)
    entries: dict[int, Entry] = field(default_factory=dict)
    _sequences: dict[str, int] = field(default_factory=dict)

    def next_id(self, kind: str, start: int) -> int:
        self._sequences[kind] = self._sequences.get(kind, start - 1) + 1
        return self._sequences[kind]

    def reset(self) -> None:
        for collection in (self.users, self.clients, self.projects, self.tasks, self.entries):
            collection.clear()
        self.assignments.clear()
        self._sequences.clear()

    def add_user(
        self,
        first_name: str,
        last_name: str,
        email: str,
        *,
        token: str,
        timezone: str = "Eastern Time (US & Canada)",
        admin: bool = True,
    ) -> int:
        now = stamp(self.now())
        roles = ["administrator"] if admin else ["member"]
        user = User(
            self.next_id("user", 1782959),
            first_name,
            last_name,
            email,
            token,
            timezone,
            roles,
            now,
            now,
        )
        self.users[user.id] = user
        return user.id

    def add_client(self, name: str, currency: str = "USD") -> int:
        client = Client(self.next_id("client", 5735774), name, currency)
        self.clients[client.id] = client
        return client.id

    def add_project(
        self,
        client_id: int,
        name: str,
        *,
        code: str | None = None,
        is_billable: bool = True,
        bill_by: str = "Project",
        hourly_rate: float | None = 100.0,
    ) -> int:
        now = stamp(self.now())
        project = Project(
            self.next_id("project", 14307913),
            client_id,
            name,
            code,
            is_billable,
            bill_by,
            hourly_rate,
            now,
            now,
        )
        self.projects[project.id] = project
        return project.id

    def add_task(
        self, name: str, *, billable_by_default: bool = True, rate: float | None = None
    ) -> int:
        now = stamp(self.now())
        task = Task(self.next_id("task", 8083365), name, billable_by_default, rate, now, now)
        self.tasks[task.id] = task
        return task.id

    def assign(
        self,
        project_id: int,
        task_id: int,
        *,
        billable: bool | None = None,
        rate: float | None = None,
    ) -> int:
        now = stamp(self.now())
        if billable is None:
            billable = self.tasks[task_id].billable_by_default
        assignment = Assignment(
            self.next_id("task_assignment", 155502709),
            project_id,
            task_id,
            billable,
            rate,
            now,
            now,
        )
        self.assignments[assignment.id] = assignment
        return assignment.id

    def assignment(self, project_id: int, task_id: int) -> Assignment | None:
        return next(
            (
                a
                for a in self.assignments.values()
                if a.project_id == project_id and a.task_id == task_id
            ),
            None,
        )

    def user_by_token(self, token: str | None) -> User | None:
        return next((u for u in self.users.values() if token and u.token == token), None)

    def lock(
        self, entry_id: int, reason: str = "Item Approved and Locked for this Time Period"
    ) -> None:
        """Lock an entry, as approving or closing a period does in Harvest."""
        entry = self.entries[entry_id]
        entry.is_locked = True
        entry.locked_reason = reason

    def touch(self, entry: Entry) -> None:
        moment = self.now()
        entry.updated = moment
        entry.updated_at = stamp(moment)

    def billable(self, entry: Entry) -> bool:
        project = self.projects[entry.project_id]
        assignment = self.assignment(entry.project_id, entry.task_id)
        return project.is_billable and (assignment.billable if assignment else False)


def _ref(id_: int, name: str) -> dict[str, Any]:
    return {"id": id_, "name": name}


def client_json(client: Client) -> dict[str, Any]:
    return {
        "id": client.id,
        "name": client.name,
        "is_active": client.is_active,
        "address": client.address,
        "statement_key": f"{client.id:x}",
        "currency": client.currency,
        "created_at": client.created_at,
        "updated_at": client.updated_at,
    }


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "telephone": "",
        "timezone": user.timezone,
        "has_access_to_all_future_projects": False,
        "is_contractor": user.is_contractor,
        "is_active": user.is_active,
        "weekly_capacity": 126000,
        "default_hourly_rate": 100.0,
        "cost_rate": 50.0,
        "roles": [],
        "access_roles": user.access_roles,
        "avatar_url": "https://d3s3969qhosaug.cloudfront.net/v2/avatar.png",
        "created_at": user.created_at,
        "updated_at": user.updated_at,
    }


def project_json(state: HarvestState, project: Project) -> dict[str, Any]:
    client = state.clients[project.client_id]
    return {
        "id": project.id,
        "client": {"id": client.id, "name": client.name, "currency": client.currency},
        "name": project.name,
        "code": project.code,
        "is_active": project.is_active,
        "is_billable": project.is_billable,
        "is_fixed_fee": False,
        "bill_by": project.bill_by,
        "hourly_rate": project.hourly_rate,
        "budget": None,
        "budget_by": "none",
        "budget_is_monthly": False,
        "notify_when_over_budget": False,
        "over_budget_notification_percentage": 80.0,
        "show_budget_to_all": False,
        "cost_budget": None,
        "cost_budget_include_expenses": False,
        "fee": None,
        "notes": "",
        "starts_on": None,
        "ends_on": None,
        "created_at": project.created_at,
        "updated_at": project.updated_at,
    }


def task_json(task: Task) -> dict[str, Any]:
    return {
        "id": task.id,
        "name": task.name,
        "billable_by_default": task.billable_by_default,
        "default_hourly_rate": task.default_hourly_rate,
        "is_default": task.is_default,
        "is_active": task.is_active,
        "created_at": task.created_at,
        "updated_at": task.updated_at,
    }


def assignment_json(state: HarvestState, assignment: Assignment) -> dict[str, Any]:
    project = state.projects[assignment.project_id]
    task = state.tasks[assignment.task_id]
    return {
        "id": assignment.id,
        "project": {"id": project.id, "name": project.name, "code": project.code},
        "task": _ref(task.id, task.name),
        "is_active": assignment.is_active,
        "billable": assignment.billable,
        "hourly_rate": assignment.hourly_rate,
        "budget": None,
        "created_at": assignment.created_at,
        "updated_at": assignment.updated_at,
    }


def project_assignment_json(state: HarvestState, project: Project) -> dict[str, Any]:
    client = state.clients[project.client_id]
    tasks = [a for a in state.assignments.values() if a.project_id == project.id]
    return {
        "id": 125068553 + project.id % 1000,
        "is_project_manager": False,
        "is_active": True,
        "use_default_rates": True,
        "budget": None,
        "created_at": project.created_at,
        "updated_at": project.updated_at,
        "hourly_rate": project.hourly_rate,
        "project": {"id": project.id, "name": project.name, "code": project.code},
        "client": {"id": client.id, "name": client.name, "currency": client.currency},
        "task_assignments": [assignment_json(state, a) for a in tasks],
    }


def entry_json(state: HarvestState, entry: Entry) -> dict[str, Any]:
    user = state.users[entry.user_id]
    project = state.projects[entry.project_id]
    client = state.clients[project.client_id]
    task = state.tasks[entry.task_id]
    assignment = state.assignment(entry.project_id, entry.task_id)
    billable = state.billable(entry)
    reference = None
    if entry.external_reference is not None:
        reference = {
            "id": None,
            "group_id": None,
            "account_id": None,
            "permalink": None,
            "service": None,
            "service_icon_url": None,
            **entry.external_reference,
        }
    return {
        "id": entry.id,
        "spent_date": entry.spent_date.isoformat(),
        "user": _ref(user.id, f"{user.first_name} {user.last_name}"),
        "client": _ref(client.id, client.name),
        "project": _ref(project.id, project.name),
        "task": _ref(task.id, task.name),
        "user_assignment": {
            "id": 125068553,
            "is_project_manager": True,
            "is_active": True,
            "budget": None,
            "created_at": project.created_at,
            "updated_at": project.updated_at,
            "hourly_rate": project.hourly_rate,
        },
        "task_assignment": None if assignment is None else assignment_json(state, assignment),
        "hours": entry.hours,
        "hours_without_timer": entry.hours,
        "rounded_hours": entry.hours,
        "notes": entry.notes,
        "created_at": entry.created_at,
        "updated_at": entry.updated_at,
        "is_locked": entry.is_locked,
        "locked_reason": entry.locked_reason,
        "is_closed": entry.is_locked,
        "is_billed": entry.is_billed,
        "timer_started_at": entry.timer_started_at,
        "started_time": entry.started_time,
        "ended_time": entry.ended_time,
        "is_running": entry.is_running,
        "invoice": None,
        "external_reference": reference,
        "billable": billable,
        "budgeted": False,
        "billable_rate": project.hourly_rate if billable else None,
        "cost_rate": 50.0,
    }
