"""The Toggl sandbox's data and how it renders in Toggl's documented shapes (API v9).

Ids are sequential integers. Times are kept in UTC and rendered ``2026-11-03T08:15:00+00:00``;
``duration`` is whole seconds, ``-<start unix>`` while a timer runs; ``at`` is the last change;
a deleted entry keeps ``server_deleted_at`` (``GET /me/time_entries?since=`` lists it).
"""

import datetime as dt
import hashlib
import hmac
import json
import zoneinfo
from dataclasses import dataclass, field
from typing import Any


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def stamp(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(dt.UTC).isoformat()


@dataclass
class User:
    id: int
    email: str
    fullname: str
    token: str
    timezone: str
    admin: bool = True
    inactive: bool = False

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


@dataclass
class Project:
    id: int
    name: str
    billable: bool = True
    active: bool = True
    at: dt.datetime = field(default_factory=now)


@dataclass
class Task:
    id: int
    name: str
    project_id: int
    active: bool = True
    at: dt.datetime = field(default_factory=now)


@dataclass
class Entry:
    id: int
    user_id: int
    start: dt.datetime
    duration: int
    description: str = ""
    project_id: int | None = None
    task_id: int | None = None
    billable: bool = False
    tags: list[str] = field(default_factory=list)
    at: dt.datetime = field(default_factory=now)
    server_deleted_at: dt.datetime | None = None
    locked: bool = False

    @property
    def stop(self) -> dt.datetime | None:
        return None if self.duration < 0 else self.start + dt.timedelta(seconds=self.duration)


@dataclass
class Subscription:
    id: int
    url_callback: str
    secret: str
    event_filters: list[dict[str, str]]
    description: str = ""
    enabled: bool = True
    validated: bool = False
    validation_code: str = ""
    creator: int | None = None
    """Who made it: a member's subscription sees only what the member sees (their own time)."""
    creator_is_admin: bool = True


@dataclass
class Sent:
    """A webhook delivery the sandbox made."""

    url: str
    headers: dict[str, str]
    body: bytes


@dataclass
class TogglState:
    workspace_id: int = 7_000_001
    workspace_name: str = "Demo workspace"
    premium: bool = True
    """Paid plan: billable and tasks are accepted (a free workspace refuses them with 402)."""
    users: dict[int, User] = field(default_factory=dict)
    projects: dict[int, Project] = field(default_factory=dict)
    tasks: dict[int, Task] = field(default_factory=dict)
    entries: dict[int, Entry] = field(default_factory=dict)
    subscriptions: dict[int, Subscription] = field(default_factory=dict)
    outbox: list[Sent] = field(default_factory=list)
    _next: int = 1000

    def next_id(self) -> int:
        self._next += 1
        return self._next

    def reset(self) -> None:
        self.entries.clear()
        self.outbox.clear()

    def add_user(
        self, fullname: str, email: str, token: str, timezone: str, *, admin: bool = True
    ) -> int:
        user = User(self.next_id(), email, fullname, token, timezone, admin)
        self.users[user.id] = user
        return user.id

    def add_project(self, name: str, *, billable: bool = True) -> int:
        project = Project(self.next_id(), name, billable)
        self.projects[project.id] = project
        return project.id

    def add_task(self, project_id: int, name: str) -> int:
        task = Task(self.next_id(), name, project_id)
        self.tasks[task.id] = task
        return task.id

    def user_by_token(self, token: str | None) -> User | None:
        return next((u for u in self.users.values() if token and u.token == token), None)

    def live(self) -> list[Entry]:
        return [e for e in self.entries.values() if e.server_deleted_at is None]

    def work_date(self, entry: Entry) -> dt.date:
        """The entry's date in its user's zone (how Toggl's reports read dates)."""
        return entry.start.astimezone(self.users[entry.user_id].zone).date()

    def entry_json(self, entry: Entry) -> dict[str, Any]:
        return {
            "id": entry.id,
            "workspace_id": self.workspace_id,
            "wid": self.workspace_id,
            "user_id": entry.user_id,
            "uid": entry.user_id,
            "project_id": entry.project_id,
            "pid": entry.project_id,
            "task_id": entry.task_id,
            "tid": entry.task_id,
            "billable": entry.billable,
            "start": stamp(entry.start),
            "stop": stamp(entry.stop),
            "duration": entry.duration,
            "description": entry.description,
            "tags": list(entry.tags),
            "tag_ids": [],
            "duronly": False,
            "at": stamp(entry.at),
            "server_deleted_at": stamp(entry.server_deleted_at),
        }

    def announce(self, entry: Entry, action: str) -> None:
        """Queue a signed delivery of ``entry`` to every enabled, validated subscription."""
        for sub in self.subscriptions.values():
            if not (sub.enabled and sub.validated and _wants(sub, action)):
                continue
            if not sub.creator_is_admin and sub.creator not in (None, entry.user_id):
                continue  # "the visibility access of the subscription's creator" filters events
            moment = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
            event = {
                "event_id": self.next_id(),
                "created_at": moment,
                "creator_id": entry.user_id,
                "metadata": {
                    "action": action,
                    "event_user_id": str(entry.user_id),
                    "model": "time_entry",
                    "model_owner_id": str(entry.user_id),
                    "path": f"/api/v9/workspaces/{self.workspace_id}/time_entries",
                    "request_type": {"created": "POST", "updated": "PUT"}.get(action, "DELETE"),
                    "time_entry_id": str(entry.id),
                    "workspace_id": str(self.workspace_id),
                },
                "payload": self.entry_json(entry),
                "subscription_id": sub.id,
                "timestamp": moment,
                "url_callback": sub.url_callback,
            }
            self.outbox.append(_signed(sub, event))

    def ping(self, sub: Subscription) -> Sent:
        """The validation event a new subscription receives."""
        moment = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
        event = {
            "event_id": 0,
            "created_at": moment,
            "creator_id": next(iter(self.users)),
            "metadata": {"request_type": "POST", "event_user_id": str(next(iter(self.users)))},
            "payload": "ping",
            "subscription_id": sub.id,
            "timestamp": moment,
            "url_callback": sub.url_callback,
            "validation_code": sub.validation_code,
            "validation_code_url": (
                f"https://api.track.toggl.com/webhooks/api/v1/validate/{self.workspace_id}/"
                f"{sub.id}/{sub.validation_code}"
            ),
        }
        return _signed(sub, event)


def _wants(sub: Subscription, action: str) -> bool:
    return any(
        f.get("entity") in ("time_entry", "*") and f.get("action") in (action, "*")
        for f in sub.event_filters
    )


def _signed(sub: Subscription, event: dict[str, Any]) -> Sent:
    body = json.dumps(event, separators=(",", ":")).encode()
    mac = hmac.new(sub.secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": "application/json", "X-Webhook-Signature-256": f"sha256={mac}"}
    return Sent(sub.url_callback, headers, body)
