"""The Clockify sandbox's data and how it renders in Clockify's documented shapes (API v1).

Ids are 24-hex strings (sequential, so a seed always gives the same ids); times are UTC
``2026-11-03T08:15:00Z``; a duration is ISO 8601 (``PT1H30M``); a running timer has no ``end``
and no ``duration``. A value Clockify leaves null is left out (the description types them as
non-null strings).
"""

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from typing import Any


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return "PT" + text + (f"{secs}S" if secs or not text else "")


@dataclass
class User:
    id: str
    email: str
    name: str
    api_key: str
    time_zone: str
    admin: bool = True
    status: str = "ACTIVE"


@dataclass
class Project:
    id: str
    name: str
    billable: bool = True
    archived: bool = False


@dataclass
class Task:
    id: str
    name: str
    project_id: str
    status: str = "ACTIVE"


@dataclass
class Entry:
    id: str
    user_id: str
    start: dt.datetime
    end: dt.datetime | None
    description: str = ""
    project_id: str | None = None
    task_id: str | None = None
    billable: bool = False
    tag_ids: list[str] = field(default_factory=list)
    locked: bool = False


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


@dataclass
class ClockifyState:
    workspace_id: str = "64a687e29ae1f428e7eb0001"
    users: dict[str, User] = field(default_factory=dict)
    projects: dict[str, Project] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)
    entries: dict[str, Entry] = field(default_factory=dict)
    page_cap: int | None = None
    """Answer lists at most this many items a page (tests of paging)."""
    _next: int = 0x64A687E29AE1F428E7EB1000

    def next_id(self) -> str:
        self._next += 1
        return f"{self._next:024x}"

    def reset(self) -> None:
        self.entries.clear()
        self.page_cap = None

    def add_user(
        self, name: str, email: str, api_key: str, time_zone: str, *, admin: bool = True
    ) -> str:
        user = User(self.next_id(), email, name, api_key, time_zone, admin)
        self.users[user.id] = user
        return user.id

    def add_project(self, name: str, *, billable: bool = True) -> str:
        project = Project(self.next_id(), name, billable)
        self.projects[project.id] = project
        return project.id

    def add_task(self, project_id: str, name: str) -> str:
        task = Task(self.next_id(), name, project_id)
        self.tasks[task.id] = task
        return task.id

    def user_by_key(self, key: str | None) -> User | None:
        return next((u for u in self.users.values() if key and u.api_key == key), None)

    def work_date(self, entry: Entry, zone: str | None = None) -> dt.date:
        name = zone or self.users[entry.user_id].time_zone
        return entry.start.astimezone(zoneinfo.ZoneInfo(name)).date()

    def user_json(self, user: User) -> dict[str, Any]:
        return {
            "id": user.id,
            "email": user.email,
            "name": user.name,
            "activeWorkspace": self.workspace_id,
            "defaultWorkspace": self.workspace_id,
            "status": user.status,
            "settings": {
                "timeZone": user.time_zone,
                "dateFormat": "MM/DD/YYYY",
                "timeFormat": "HOUR24",
                "weekStart": "MONDAY",
            },
            "memberships": [],
            "customFields": [],
        }

    def project_json(self, project: Project) -> dict[str, Any]:
        return {
            "id": project.id,
            "name": project.name,
            "workspaceId": self.workspace_id,
            "billable": project.billable,
            "archived": project.archived,
            "public": True,
            "template": False,
            "color": "#03A9F4",
            "duration": "PT0S",
            "memberships": [],
        }

    def task_json(self, task: Task) -> dict[str, Any]:
        return {
            "id": task.id,
            "name": task.name,
            "projectId": task.project_id,
            "status": task.status,
            "billable": True,
            "assigneeIds": [],
            "userGroupIds": [],
            "duration": "PT0S",
            "estimate": "PT0S",
        }

    def entry_json(self, entry: Entry) -> dict[str, Any]:
        interval = {"start": stamp(entry.start)}
        if entry.end is not None:
            interval["end"] = stamp(entry.end)
            interval["duration"] = duration(int((entry.end - entry.start).total_seconds()))
        return _clean(
            {
                "id": entry.id,
                "description": entry.description,
                "tagIds": list(entry.tag_ids),
                "userId": entry.user_id,
                "billable": entry.billable,
                "taskId": entry.task_id,
                "projectId": entry.project_id,
                "workspaceId": self.workspace_id,
                "timeInterval": interval,
                "customFieldValues": [],
                "type": "REGULAR",
                "isLocked": entry.locked,
            }
        )
