"""The Hubstaff sandbox's data: one organization with members, projects, to-dos and daily
activities (per user, project, task and organization date, in seconds), rendered as API v2 does."""

import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any

from timebridge_sandboxes.consent import Consents

ZERO_TIME = "2026-01-05T09:00:00Z"


def stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


@dataclass
class User:
    id: int
    name: str
    email: str
    time_zone: str
    token: str
    role: str = "organization_manager"

    def render(self) -> dict[str, Any]:
        first, _, last = self.name.partition(" ")
        return {
            "id": self.id,
            "name": self.name,
            "first_name": first,
            "last_name": last,
            "email": self.email,
            "time_zone": self.time_zone,
            "ip_address": "192.0.2.10",
            "status": "active",
            "created_at": ZERO_TIME,
            "updated_at": ZERO_TIME,
        }


@dataclass
class Project:
    id: int
    name: str
    billable: bool = True


@dataclass
class Task:
    id: int
    project: int
    summary: str
    assignee: int
    updated: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


@dataclass
class Daily:
    id: int
    date: dt.date
    user: int
    project: int
    task: int | None
    tracked: int = 0
    manual: int = 0
    billable: int = 0
    created: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    updated: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def render(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "date": self.date.isoformat(),
            "user_id": self.user,
            "project_id": self.project,
            "task_id": self.task,
            "keyboard": 0,
            "mouse": 0,
            "overall": 0,
            "tracked": self.tracked,
            "input_tracked": 0,
            "manual": self.manual,
            "idle": 0,
            "resumed": 0,
            "billable": self.billable,
            "work_break": 0,
            "created_at": stamp(self.created),
            "updated_at": stamp(self.updated),
        }


@dataclass
class HubstaffState:
    organization_id: int = 5000001
    time_zone: str = "Europe/Berlin"
    """The organization's zone: where Hubstaff cuts its days."""
    users: dict[int, User] = field(default_factory=dict)
    projects: dict[int, Project] = field(default_factory=dict)
    tasks: dict[int, Task] = field(default_factory=dict)
    daily: dict[int, Daily] = field(default_factory=dict)
    page_cap: int | None = None
    refresh_tokens: dict[str, int] = field(default_factory=dict)
    """Live refresh tokens (personal access tokens included) by user; each is used once."""
    access_tokens: dict[str, int] = field(default_factory=dict)
    """Access tokens issued by ``/access_tokens``, by user."""
    _ids: "itertools.count[int]" = field(default_factory=lambda: itertools.count(7100001))
    consents: Consents = field(
        default_factory=lambda: Consents("sandbox-hubstaff-client", "sandbox-hubstaff-secret")
    )
    """An app's consent at the account server (:mod:`.oauth`): the app and its codes."""

    def next_id(self) -> int:
        return next(self._ids)

    def add_user(self, name: str, email: str, token: str, zone: str, role: str) -> User:
        user = User(self.next_id(), name, email, zone, token, role)
        self.users[user.id] = user
        return user

    def add_project(self, name: str) -> Project:
        project = Project(self.next_id(), name)
        self.projects[project.id] = project
        return project

    def add_task(self, project: Project, summary: str, assignee: int) -> Task:
        task = Task(self.next_id(), project.id, summary, assignee)
        self.tasks[task.id] = task
        return task

    def user_by_token(self, token: str | None) -> User | None:
        issued = self.access_tokens.get(token or "")
        if issued is not None:
            return self.users.get(issued)
        return next((u for u in self.users.values() if token and u.token == token), None)

    def rotate(self, refresh_token: str) -> tuple[str, str] | None:
        """A new access token and a new refresh token for a live refresh token, which then stops
        working (Hubstaff rotates them); ``None`` for one unknown or already used."""
        user = self.refresh_tokens.pop(refresh_token, None)
        if user is None:
            return None
        access, fresh = f"hs-access-{self.next_id()}", f"hs-refresh-{self.next_id()}"
        self.access_tokens[access] = user
        self.refresh_tokens[fresh] = user
        return access, fresh

    def log(
        self,
        user: int,
        project: int,
        task: int | None,
        date: dt.date,
        seconds: int,
        *,
        billable: bool,
    ) -> Daily:
        """Add manual time to the user's daily activity of that project, task and date."""
        daily = next(
            (
                d
                for d in self.daily.values()
                if (d.user, d.project, d.task, d.date) == (user, project, task, date)
            ),
            None,
        )
        if daily is None:
            daily = Daily(self.next_id(), date, user, project, task)
            self.daily[daily.id] = daily
        daily.tracked += seconds
        daily.manual += seconds
        daily.billable += seconds if billable else 0
        daily.updated = dt.datetime.now(dt.UTC)
        return daily

    def reset(self) -> None:
        self.daily.clear()

    def member(self, user: User) -> dict[str, Any]:
        return {
            "user_id": user.id,
            "membership_role": user.role,
            "membership_status": "active",
            "created_at": ZERO_TIME,
            "updated_at": ZERO_TIME,
            "last_client_activity": ZERO_TIME,
            "trackable": "enabled",
            "effective_role": user.role,
            "metadata": {},
            "view_only": False,
        }

    def render_project(self, project: Project) -> dict[str, Any]:
        return {
            "id": project.id,
            "name": project.name,
            "created_at": ZERO_TIME,
            "updated_at": ZERO_TIME,
            "status": "active",
            "type": "project",
            "billable": project.billable,
            "metadata": {},
        }

    def render_task(self, task: Task) -> dict[str, Any]:
        return {
            "id": task.id,
            "status": "active",
            "project_id": task.project,
            "project_type": "project",
            "summary": task.summary,
            "assignee_ids": [task.assignee],
            "metadata": {},
            "created_at": stamp(task.updated),
            "updated_at": stamp(task.updated),
        }
