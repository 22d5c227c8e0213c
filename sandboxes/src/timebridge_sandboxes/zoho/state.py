"""The Zoho Projects sandbox's data and how it renders in Zoho's documented shapes (REST API).

Ids are large numbers (rendered as numbers, with ``id_string``); a log keeps its date, minutes,
owner, task, billing and approval status; ``last_modified_time_long`` is milliseconds.
"""

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any

from timebridge_sandboxes.consent import Consents


def now_ms() -> int:
    return int(dt.datetime.now(dt.UTC).timestamp() * 1000)


def zoho_date(day: dt.date) -> str:
    return day.strftime("%m-%d-%Y")


@dataclass
class User:
    id: int
    name: str
    email: str
    token: str
    role: str = "admin"


@dataclass
class Project:
    id: int
    name: str
    status: str = "active"


@dataclass
class Task:
    id: int
    project_id: int
    name: str
    description: str = ""
    closed: bool = False


@dataclass
class Log:
    id: int
    project_id: int
    task_id: int
    owner_id: int
    day: dt.date
    minutes: int
    bill_status: str
    notes: str = ""
    approval_status: str = "Pending"
    created: int = field(default_factory=now_ms)
    modified: int = field(default_factory=now_ms)


@dataclass
class ZohoState:
    """One portal with its users, projects, tasks and task logs."""

    portal_id: int = 60000001
    portal_name: str = "acme"
    users: dict[int, User] = field(default_factory=dict)
    projects: dict[int, Project] = field(default_factory=dict)
    tasks: dict[int, Task] = field(default_factory=dict)
    logs: dict[int, Log] = field(default_factory=dict)
    _ids: "itertools.count[int]" = field(default_factory=lambda: itertools.count(170000000001))
    consents: Consents = field(
        default_factory=lambda: Consents("sandbox-zoho-client", "sandbox-zoho-secret")
    )
    """Zoho Accounts for this portal (:mod:`.oauth`): the app, its codes and issued tokens."""

    def next_id(self) -> int:
        return next(self._ids)

    def reset(self) -> None:
        self.logs.clear()

    def user_by_token(self, token: str | None) -> User | None:
        issued = self.consents.access.get(token or "")
        if issued is not None:
            return self.users.get(int(issued))
        return next((u for u in self.users.values() if token and u.token == token), None)

    def add_user(self, name: str, email: str, token: str, role: str = "admin") -> User:
        user = User(self.next_id(), name, email, token, role)
        self.users[user.id] = user
        return user

    def add_project(self, name: str) -> Project:
        project = Project(self.next_id(), name)
        self.projects[project.id] = project
        return project

    def add_task(self, project: Project, name: str, description: str = "") -> Task:
        task = Task(self.next_id(), project.id, name, description)
        self.tasks[task.id] = task
        return task

    def user_json(self, user: User) -> dict[str, Any]:
        return {
            "id": str(user.id),
            "zpuid": str(user.id),
            "name": user.name,
            "email": user.email,
            "active": True,
            "role": user.role,
        }

    def project_json(self, project: Project) -> dict[str, Any]:
        return {
            "id": project.id,
            "id_string": str(project.id),
            "name": project.name,
            "status": project.status,
            "billing_type": "Based on Project Hours",
        }

    def task_json(self, task: Task) -> dict[str, Any]:
        kind = "closed" if task.closed else "open"
        return {
            "id": task.id,
            "id_string": str(task.id),
            "name": task.name,
            "description": task.description,
            "status": {"name": "Closed" if task.closed else "Open", "type": kind},
        }

    def log_json(self, log: Log) -> dict[str, Any]:
        owner = self.users[log.owner_id]
        task = self.tasks[log.task_id]
        midnight = dt.datetime.combine(log.day, dt.time(), tzinfo=dt.UTC)
        return {
            "id": log.id,
            "id_string": str(log.id),
            "notes": log.notes,
            "log_date": zoho_date(log.day),
            "log_date_format": zoho_date(log.day),
            "log_date_long": int(midnight.timestamp() * 1000),
            "hours": log.minutes // 60,
            "minutes": log.minutes % 60,
            "hours_display": f"{log.minutes // 60:02d}:{log.minutes % 60:02d}",
            "total_minutes": log.minutes,
            "owner_id": str(owner.id),
            "owner_name": owner.name,
            "bill_status": log.bill_status,
            "approval_status": log.approval_status,
            "task": {"id": task.id, "id_string": str(task.id), "name": task.name},
            "created_time_long": log.created,
            "last_modified_time_long": log.modified,
        }

    def logs_json(self, logs: list[Log]) -> dict[str, Any]:
        """``{"timelogs": {"date": [...by day...], "grandtotal", "role"}}``."""
        days: dict[dt.date, list[Log]] = {}
        for log in sorted(logs, key=lambda entry: (entry.day, entry.id)):
            days.setdefault(log.day, []).append(log)

        def hhmm(minutes: int) -> str:
            return f"{minutes // 60:02d}:{minutes % 60:02d}"

        return {
            "timelogs": {
                "date": [
                    {
                        "date_long": int(
                            dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp() * 1000
                        ),
                        "display_format": zoho_date(day),
                        "total_hours": hhmm(sum(e.minutes for e in found)),
                        "tasklogs": [self.log_json(e) for e in found],
                    }
                    for day, found in days.items()
                ],
                "grandtotal": hhmm(sum(e.minutes for e in logs)),
                "role": "admin",
            }
        }
