"""The Everhour sandbox's data: users, projects, sections, tasks, time records, hooks."""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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
    timezone: float = 0
    """The user's UTC offset in hours, as Everhour gives it (not a zone name)."""


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


class _Records(dict[int, _Record]):
    """The time records by id, indexed by task, user and date and by date as they are stored.

    Every look-up of a request used to scan all records (a day record's, a day's list): the
    sandbox served each request slower the more it held, so a bench of thousands of entries
    measured the sandbox. The indexes follow every way a record enters or leaves the dict; a
    record's task, user and date never change once stored.
    """

    def __init__(self) -> None:
        super().__init__()
        self.by_slot: dict[tuple[str, int, dt.date], int] = {}
        self.by_date: dict[dt.date, dict[int, None]] = {}

    def __setitem__(self, record_id: int, record: _Record) -> None:
        if record_id in self:
            self._unindex(self[record_id])
        super().__setitem__(record_id, record)
        self.by_slot.setdefault((record.task, record.user, record.date), record_id)
        self.by_date.setdefault(record.date, {})[record_id] = None

    def __delitem__(self, record_id: int) -> None:
        self._unindex(self[record_id])
        super().__delitem__(record_id)

    def pop(self, record_id: int, *default: Any) -> Any:
        if record_id in self:
            self._unindex(self[record_id])
        return super().pop(record_id, *default)

    def clear(self) -> None:
        super().clear()
        self.by_slot.clear()
        self.by_date.clear()

    def popitem(self) -> tuple[int, _Record]:
        raise NotImplementedError("records leave by id")

    def update(self, *args: Any, **kwargs: Any) -> None:
        for record_id, record in dict(*args, **kwargs).items():
            self[record_id] = record

    def setdefault(self, record_id: int, record: _Record) -> _Record:
        if record_id not in self:
            self[record_id] = record
        return self[record_id]

    def _unindex(self, record: _Record) -> None:
        slot = (record.task, record.user, record.date)
        if self.by_slot.get(slot) == record.id:
            del self.by_slot[slot]
            again = next(
                (
                    r.id
                    for r in self.on_date(record.date)
                    if r.id != record.id and r.task == record.task and r.user == record.user
                ),
                None,
            )
            if again is not None:
                self.by_slot[slot] = again
        self.by_date.get(record.date, {}).pop(record.id, None)

    def on_date(self, date: dt.date) -> list[_Record]:
        return [self[i] for i in self.by_date.get(date, ())]


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
class Timer:
    """A user's running timer: the task, when it started, the day its time counts for."""

    task: str
    started_at: dt.datetime
    user_date: dt.date
    comment: str | None


@dataclass
class EverhourState:
    """The sandbox's data; ids are sequential, so the same seed always yields the same ids."""

    now: Callable[[], dt.datetime] = _utcnow
    users: dict[int, _User] = field(default_factory=dict)
    projects: dict[str, _Project] = field(default_factory=dict)
    sections: dict[int, _Section] = field(default_factory=dict)
    tasks: dict[str, _Task] = field(default_factory=dict)
    records: _Records = field(default_factory=_Records)
    hooks: dict[int, _Hook] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    timers: dict[int, Timer] = field(default_factory=dict)
    """User id -> their running timer (one at a time)."""
    _sequences: dict[str, int] = field(default_factory=dict)

    def next_id(self, kind: str, start: int) -> int:
        self._sequences[kind] = self._sequences.get(kind, start - 1) + 1
        return self._sequences[kind]

    def reset(self) -> None:
        for collection in (self.users, self.projects, self.sections, self.tasks, self.records):
            collection.clear()
        self.hooks.clear()
        self.deliveries.clear()
        self.timers.clear()
        self._sequences.clear()

    def add_user(
        self,
        name: str,
        *,
        api_key: str,
        email: str | None = None,
        role: str = "admin",
        timezone: float = 0,
    ) -> int:
        user = _User(self.next_id("user", 1001), name, email, role, api_key, timezone)
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
        found = self.records.by_slot.get((task_id, user_id, date))
        return None if found is None else self.records[found]
