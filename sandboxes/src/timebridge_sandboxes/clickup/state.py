"""The ClickUp sandbox's data: one workspace with members, Spaces, Lists, tasks, time entries and
webhooks, and what renders them as ClickUp's API v2 does (milliseconds as strings in time
entries, user ids as integers, other ids as strings)."""

import hashlib
import hmac
import itertools
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class User:
    id: int
    username: str
    email: str
    token: str
    timezone: str
    admin: bool = True

    def render(self) -> dict[str, Any]:
        initials = "".join(part[0] for part in self.username.split()[:2]).upper()
        return {
            "id": self.id,
            "username": self.username,
            "email": self.email,
            "color": "#7b68ee",
            "initials": initials,
            "profilePicture": "https://attachments-public.clickup.com/profilePictures/x.jpg",
            "timezone": self.timezone,
        }


@dataclass
class Space:
    id: int
    name: str


@dataclass
class List:
    id: int
    name: str
    space: int


@dataclass
class Task:
    id: str
    name: str
    list: int
    description: str = ""
    status: str = "to do"
    updated: int = field(default_factory=now_ms)


@dataclass
class Entry:
    id: str
    user: int
    task: str
    start: int
    duration: int
    """Milliseconds; negative (minus the start) while running."""
    description: str = ""
    billable: bool = False
    at: int = field(default_factory=now_ms)
    locked: bool = False


@dataclass
class Hook:
    id: str
    user: int
    endpoint: str
    events: list[str]
    secret: str
    status: str = "active"
    fail_count: int = 0


@dataclass
class Delivery:
    url: str
    headers: dict[str, str]
    body: bytes


STATUS = {"id": "p1_to_do", "status": "to do", "color": "#d3d3d3", "orderindex": 0, "type": "open"}


@dataclass
class ClickUpState:
    team_id: int = 9000001
    users: dict[int, User] = field(default_factory=dict)
    spaces: dict[int, Space] = field(default_factory=dict)
    lists: dict[int, List] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)
    entries: dict[str, Entry] = field(default_factory=dict)
    hooks: dict[str, Hook] = field(default_factory=dict)
    outbox: list[Delivery] = field(default_factory=list)
    task_page: int = 100
    _ids: "itertools.count[int]" = field(default_factory=lambda: itertools.count(81000001))

    def next_id(self) -> int:
        return next(self._ids)

    def add_user(
        self, name: str, email: str, token: str, timezone: str, *, admin: bool = True
    ) -> User:
        user = User(self.next_id(), name, email, token, timezone, admin)
        self.users[user.id] = user
        return user

    def add_space(self, name: str) -> Space:
        space = Space(self.next_id(), name)
        self.spaces[space.id] = space
        return space

    def add_list(self, space: Space, name: str) -> List:
        made = List(self.next_id(), name, space.id)
        self.lists[made.id] = made
        return made

    def add_task(self, in_list: List, name: str, description: str = "") -> Task:
        task = Task(f"86{self.next_id():x}", name, in_list.id, description)
        self.tasks[task.id] = task
        return task

    def user_by_token(self, token: str | None) -> User | None:
        return next((u for u in self.users.values() if token and u.token == token), None)

    def reset(self) -> None:
        self.entries.clear()
        self.hooks.clear()
        self.outbox.clear()

    def team(self) -> dict[str, Any]:
        return {
            "id": str(self.team_id),
            "name": "Acme Workspace",
            "color": "#536cfe",
            "avatar": "https://attachments-public.clickup.com/avatar.png",
            "members": [{"user": u.render()} for u in self.users.values()],
        }

    def render_entry(self, entry: Entry) -> dict[str, Any]:
        task = self.tasks[entry.task]
        in_list = self.lists[task.list]
        space = self.spaces[in_list.space]
        end = entry.start + entry.duration if entry.duration >= 0 else now_ms()
        return {
            "id": entry.id,
            "task": {
                "id": task.id,
                "custom_id": "",
                "name": task.name,
                "status": STATUS,
                "custom_type": None,
            },
            "wid": str(self.team_id),
            "user": {k: v for k, v in self.users[entry.user].render().items() if k != "timezone"},
            "billable": entry.billable,
            "start": str(entry.start),
            "end": str(end),
            "duration": str(entry.duration),
            "description": entry.description,
            "tags": [],
            "source": "clickup",
            "at": str(entry.at),
            "task_location": {
                "list_id": in_list.id,
                "folder_id": in_list.id,  # a folderless List's hidden folder
                "space_id": space.id,
                "list_name": in_list.name,
                "folder_name": "hidden",
                "space_name": space.name,
            },
            "task_tags": [],
            "task_url": f"https://app.clickup.com/t/{task.id}",
        }

    def render_task(self, task: Task) -> dict[str, Any]:
        in_list = self.lists[task.list]
        return {
            "id": task.id,
            "custom_id": None,
            "name": task.name,
            "text_content": task.description,
            "description": task.description,
            "status": STATUS | {"status": task.status},
            "orderindex": "1.00000000000000000000000000000000",
            "date_created": str(task.updated),
            "date_updated": str(task.updated),
            "date_closed": None,
            "date_done": None,
            "archived": False,
            "url": f"https://app.clickup.com/t/{task.id}",
            "list": {"id": str(in_list.id), "name": in_list.name, "access": True},
            "space": {"id": str(in_list.space)},
        }

    def render_list(self, found: List) -> dict[str, Any]:
        space = self.spaces[found.space]
        return {
            "id": str(found.id),
            "name": found.name,
            "orderindex": 0,
            "content": "",
            "status": {"status": "green", "color": "#008844", "hide_label": False},
            "priority": {"priority": "normal", "color": "#6fddff"},
            "assignee": None,
            "task_count": str(sum(1 for t in self.tasks.values() if t.list == found.id)),
            "due_date": "1798761600000",
            "start_date": None,
            "folder": {"id": "0", "name": "hidden", "hidden": True, "access": True},
            "space": {"id": str(space.id), "name": space.name, "access": True},
            "archived": False,
            "override_statuses": False,
            "permission_level": "create",
        }

    def render_hook(self, hook: Hook) -> dict[str, Any]:
        return {
            "id": hook.id,
            "userid": hook.user,
            "team_id": self.team_id,
            "endpoint": hook.endpoint,
            "client_id": "TIMEBRIDGESANDBOX",
            "events": hook.events,
            "task_id": None,
            "list_id": None,
            "folder_id": None,
            "space_id": None,
            "health": {"status": hook.status, "fail_count": hook.fail_count},
            "secret": hook.secret,
        }

    def new_hook(self, user: int, endpoint: str, events: list[str]) -> Hook:
        hook = Hook(f"{secrets.token_hex(4)}-{self.next_id()}", user, endpoint, events, "")
        hook.secret = secrets.token_hex(20).upper()
        self.hooks[hook.id] = hook
        return hook

    def notify(self, entry: Entry, *, before: Entry | None, deleted: bool, by: int) -> None:
        """Queue ``taskTimeTrackedUpdated`` to every active hook that wants it, signed with its
        secret (``X-Signature``: hex HMAC-SHA256 of the body)."""

        def period(e: Entry | None) -> dict[str, Any] | None:
            if e is None:
                return None
            return {
                "id": e.id,
                "start": str(e.start),
                "end": str(e.start + max(e.duration, 0)),
                "time": str(max(e.duration, 0)),
                "source": "clickup",
                "date_added": str(e.at),
            }

        action = "Deleted" if deleted else ("Updated" if before else "Created")
        for hook in self.hooks.values():
            wanted = "*" in hook.events or "taskTimeTrackedUpdated" in hook.events
            if hook.status != "active" or not wanted:
                continue
            body = {
                "event": "taskTimeTrackedUpdated",
                "history_items": [
                    {
                        "id": str(self.next_id()),
                        "type": 1,
                        "date": str(now_ms()),
                        "field": "time_spent",
                        "parent_id": entry.task,
                        "data": {},
                        "source": None,
                        "user": self.users[by].render(),
                        "before": period(before),
                        "after": None if deleted else period(entry),
                    }
                ],
                "task_id": entry.task,
                "data": {"description": f"Time Tracking {action}", "interval_id": entry.id},
                "webhook_id": hook.id,
            }
            raw = json.dumps(body).encode()
            signature = hmac.new(hook.secret.encode(), raw, hashlib.sha256).hexdigest()
            headers = {"Content-Type": "application/json", "X-Signature": signature}
            self.outbox.append(Delivery(hook.endpoint, headers, raw))
