"""The QuickBooks Time sandbox's data and how it renders in the API's documented shapes.

Ids are sequential integers; ``last_modified`` is UTC with an offset (``2026-11-03T08:15:00+00:00``)
and moves on every change (never backwards, so ``modified_since`` sees each change); a regular
timesheet's ``start``/``end`` keep the offset they were given and its ``date`` is the start's
local date; a deleted timesheet moves to the tombstones ``/timesheets_deleted`` lists.
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from timebridge_sandboxes.consent import Consents


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


@dataclass
class User:
    id: int
    first_name: str
    last_name: str
    email: str
    token: str
    approved_to: dt.date | None = None
    submitted_to: dt.date | None = None
    active: bool = True
    last_modified: dt.datetime = field(default_factory=now)

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id, "first_name": self.first_name, "last_name": self.last_name,
            "display_name": "", "group_id": 0, "active": self.active, "employee_number": 0,
            "salaried": False, "exempt": False, "username": self.email, "email": self.email,
            "email_verified": True, "payroll_id": "", "hire_date": "0000-00-00",
            "term_date": "0000-00-00", "last_modified": stamp(self.last_modified),
            "last_active": "", "created": stamp(self.last_modified), "client_url": "sandbox",
            "company_name": "Sandbox Co", "profile_image_url": "", "mobile_number": "",
            "pto_balances": {}, "submitted_to": _day(self.submitted_to),
            "approved_to": _day(self.approved_to), "manager_of_group_ids": [],
            "require_password_change": False, "pay_rate": 0, "pay_interval": "hour",
            "permissions": {}, "customfields": "",
        }  # fmt: skip


def _day(value: dt.date | None) -> str:
    return value.isoformat() if value else "0000-00-00"


@dataclass
class Jobcode:
    id: int
    name: str
    parent_id: int = 0
    billable: bool = False
    active: bool = True
    last_modified: dt.datetime = field(default_factory=now)

    def json(self, has_children: bool) -> dict[str, Any]:
        return {
            "id": self.id, "parent_id": self.parent_id, "assigned_to_all": True,
            "billable": self.billable, "active": self.active, "type": "regular",
            "has_children": has_children, "billable_rate": 0.0, "short_code": "",
            "name": self.name, "last_modified": stamp(self.last_modified),
            "created": stamp(self.last_modified), "filtered_customfielditems": "",
            "required_customfields": [], "locations": [], "geofence_config_id": None,
            "project_id": 0,
        }  # fmt: skip


@dataclass
class Timesheet:
    id: int
    user_id: int
    jobcode_id: int
    type: str
    date: dt.date
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    seconds: int = 0
    notes: str = ""
    locked: int = 0
    created_by: int = 0
    last_modified: dt.datetime = field(default_factory=now)

    @property
    def on_the_clock(self) -> bool:
        return self.type == "regular" and self.end is None

    def duration(self) -> int:
        if self.start is not None:
            end = self.end or now()
            return int((end - self.start).total_seconds())
        return self.seconds

    def json(self) -> dict[str, Any]:
        offset = self.start.utcoffset() if self.start else None
        return {
            "id": self.id, "user_id": self.user_id, "jobcode_id": self.jobcode_id,
            "start": self.start.isoformat() if self.start else "",
            "end": self.end.isoformat() if self.end else "",
            "duration": self.duration(), "date": self.date.isoformat(),
            "tz": offset.total_seconds() / 3600 if offset is not None else 0,
            "tz_str": "", "type": self.type, "location": "",
            "on_the_clock": self.on_the_clock, "locked": self.locked, "notes": self.notes,
            "customfields": {}, "last_modified": stamp(self.last_modified),
            "attached_files": [], "created_by_user_id": self.created_by or self.user_id,
        }  # fmt: skip


@dataclass
class QuickBooksTimeState:
    users: dict[int, User] = field(default_factory=dict)
    jobcodes: dict[int, Jobcode] = field(default_factory=dict)
    timesheets: dict[int, Timesheet] = field(default_factory=dict)
    deleted: dict[int, Timesheet] = field(default_factory=dict)
    page_cap: int | None = None
    """A smaller page size than asked for (tests of ``more``)."""
    client_id: str = "sandbox-qbt-client"
    client_secret: str = "sandbox-qbt-secret"  # noqa: S105 - the sandbox app's, not a secret
    access_tokens: dict[str, int] = field(default_factory=dict)
    """Access tokens issued by ``/grant``, by user id (besides each user's own ``token``)."""
    refresh_tokens: dict[str, int] = field(default_factory=dict)
    """Refresh tokens still valid (a used one is removed: they rotate)."""
    codes: dict[str, int] = field(default_factory=dict)
    """Authorization codes from ``/_sandbox/codes`` not exchanged yet (no redirect URI)."""
    consents: Consents = field(init=False)
    """The consent page's codes (:mod:`timebridge_sandboxes.consent`), for the app above."""
    _next: int = 135288000
    _clock: dt.datetime = field(default_factory=now)

    def __post_init__(self) -> None:
        self.consents = Consents(self.client_id, self.client_secret)

    def next_id(self) -> int:
        self._next += 1
        return self._next

    def tick(self) -> dt.datetime:
        """A change's ``last_modified``: now, never before the previous change's."""
        self._clock = max(now(), self._clock)
        return self._clock

    def reset(self) -> None:
        self.timesheets.clear()
        self.deleted.clear()
        self.page_cap = None
        for user in self.users.values():
            user.approved_to = user.submitted_to = None

    def add_user(self, user_id: int, first: str, last: str, email: str, token: str) -> User:
        user = User(user_id, first, last, email, token)
        self.users[user_id] = user
        return user

    def add_jobcode(
        self, jobcode_id: int, name: str, parent_id: int = 0, *, billable: bool = False
    ) -> Jobcode:
        jobcode = Jobcode(jobcode_id, name, parent_id, billable)
        self.jobcodes[jobcode_id] = jobcode
        return jobcode

    def user_by_token(self, token: str) -> User | None:
        if token in self.access_tokens:
            return self.users.get(self.access_tokens[token])
        return next((u for u in self.users.values() if token and u.token == token), None)

    def supplemental(self, sheets: list[dict[str, Any]]) -> dict[str, Any]:
        """The users and jobcodes the timesheets name (``supplemental_data``)."""
        users = {s["user_id"] for s in sheets}
        jobcodes = {s["jobcode_id"] for s in sheets}
        return {
            "users": {str(u): self.users[u].json() for u in sorted(users) if u in self.users},
            "jobcodes": {
                str(j): self.jobcode_json(self.jobcodes[j])
                for j in sorted(jobcodes)
                if j in self.jobcodes
            },
        }

    def jobcode_json(self, jobcode: Jobcode) -> dict[str, Any]:
        children = any(j.parent_id == jobcode.id for j in self.jobcodes.values())
        return jobcode.json(children)

    def lock_reason(self, timesheet: Timesheet) -> str | None:
        """Why ``timesheet`` cannot change: locked, or its user's time approved/submitted."""
        if timesheet.locked:
            return "The timesheet is locked and cannot be modified"
        user = self.users.get(timesheet.user_id)
        if user and user.approved_to and timesheet.date <= user.approved_to:
            return "Time for this date has been approved and cannot be modified"
        if user and user.submitted_to and timesheet.date <= user.submitted_to:
            return "Time for this date has been submitted and cannot be modified"
        return None
