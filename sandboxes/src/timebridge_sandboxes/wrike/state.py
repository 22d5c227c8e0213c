"""The Wrike sandbox's data and how it renders in Wrike's documented shapes (API v4).

Ids are opaque upper-case strings (``IEAAAAAQKQAAAAAB``-like); ``hours`` is kept as the decimal
sent; ``trackedDate`` is a date; ``createdDate``/``updatedDate`` are UTC
(``2026-11-03T08:15:00Z``). A deleted timelog is gone (no tombstone a client can list).
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from timebridge_sandboxes.consent import Consents


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Contact:
    id: str
    first: str
    last: str
    email: str
    token: str
    timezone: str


@dataclass
class Folder:
    id: str
    title: str
    status: str = "Green"


@dataclass
class Task:
    id: str
    title: str
    folder_id: str
    description: str = ""
    status: str = "Active"
    updated: dt.datetime = field(default_factory=now)


@dataclass
class Timelog:
    id: str
    task_id: str
    user_id: str
    hours: float
    tracked: dt.date
    comment: str
    billing: str = "Billable"
    approved: bool = False
    created: dt.datetime = field(default_factory=now)
    updated: dt.datetime = field(default_factory=now)


@dataclass
class WrikeState:
    contacts: dict[str, Contact] = field(default_factory=dict)
    folders: dict[str, Folder] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)
    timelogs: dict[str, Timelog] = field(default_factory=dict)
    _next: int = 0
    consents: Consents = field(
        default_factory=lambda: Consents("sandbox-wrike-client", "sandbox-wrike-secret")
    )
    """Wrike's OAuth (:mod:`.oauth`): the app, its codes and the tokens issued."""

    def next_id(self, prefix: str) -> str:
        self._next += 1
        return f"{prefix}{self._next:012X}"

    def reset(self) -> None:
        self.timelogs.clear()

    def add_contact(self, first: str, last: str, email: str, token: str, zone: str) -> Contact:
        contact = Contact(self.next_id("KUA"), first, last, email, token, zone)
        self.contacts[contact.id] = contact
        return contact

    def add_project(self, title: str) -> Folder:
        folder = Folder(self.next_id("IEAF"), title)
        self.folders[folder.id] = folder
        return folder

    def add_task(self, folder_id: str, title: str, description: str = "") -> Task:
        task = Task(self.next_id("IEAT"), title, folder_id, description)
        self.tasks[task.id] = task
        return task

    def by_token(self, token: str) -> Contact | None:
        issued = self.consents.access.get(token)
        if issued is not None:
            return self.contacts.get(str(issued))
        return next((c for c in self.contacts.values() if token and c.token == token), None)

    def contact_json(self, contact: Contact, me: Contact) -> dict[str, Any]:
        return {
            "id": contact.id, "firstName": contact.first, "lastName": contact.last,
            "type": "Person", "deleted": False, "me": contact.id == me.id,
            "timezone": contact.timezone, "locale": "en",
            "profiles": [{"accountId": "IEAAAAAA", "email": contact.email, "role": "User",
                          "external": False, "admin": False, "owner": False}],
        }  # fmt: skip

    def folder_json(self, folder: Folder) -> dict[str, Any]:
        return {
            "id": folder.id, "accountId": "IEAAAAAA", "title": folder.title, "scope": "WsFolder",
            "childIds": [], "project": {"authorId": next(iter(self.contacts), ""),
                                        "ownerIds": [], "status": folder.status},
        }  # fmt: skip

    def task_json(self, task: Task) -> dict[str, Any]:
        return {
            "id": task.id, "accountId": "IEAAAAAA", "title": task.title,
            "description": task.description, "status": task.status, "importance": "Normal",
            "parentIds": [task.folder_id], "scope": "WsTask", "updatedDate": stamp(task.updated),
            "permalink": f"https://www.wrike.com/open.htm?id={task.id}",
        }  # fmt: skip

    def timelog_json(self, log: Timelog) -> dict[str, Any]:
        return {
            "id": log.id, "taskId": log.task_id, "userId": log.user_id, "hours": log.hours,
            "createdDate": stamp(log.created), "updatedDate": stamp(log.updated),
            "trackedDate": log.tracked.isoformat(), "comment": log.comment,
            "billingType": log.billing,
            "approvalStatus": "Approved" if log.approved else "Pending",
        }  # fmt: skip
