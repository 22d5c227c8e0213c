"""Zoho Projects REST API resources as typed models (the fields Timebridge reads; others ignored).

From Zoho's REST API documentation (zoho.com/projects/help/rest-api): ids are numbers (also given
as ``id_string``); a time log carries ``log_date`` (``MM-DD-YYYY``), ``hours_display`` (``HH:MM``)
and ``total_minutes``, ``bill_status`` (``Billable``/``Non Billable``), ``approval_status``, its
``owner_id`` and the ``task`` (or bug) it is logged on; lists are wrapped (``{"timelogs":
{"date": [{"tasklogs": [...]}]}}``, ``{"projects": [...]}``, ``{"tasks": [...]}``); an empty list
is answered ``204 No Content``. Errors are ``{"error": {"code", "message"}}``.
"""

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator

ZOHO_API_URL = "https://projectsapi.zoho.com/restapi"
TOKEN_URL = "https://accounts.zoho.com/oauth/v2/token"  # noqa: S105 - a URL
AUTHORIZE_URL = "https://accounts.zoho.com/oauth/v2/auth"
RATE_LIMIT = (100, 120.0)
"""Zoho Projects: 100 requests per two minutes per user (then blocked for 30 minutes)."""
BLOCKED_S = 1800.0
PAGE_SIZE = 100


def _string_id(value: object) -> object:
    return str(value) if isinstance(value, int) else value


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Portals(_Model):
    login_id: str | None = None

    _ids = field_validator("login_id", mode="before")(_string_id)


class User(_Model):
    id: str
    name: str | None = None
    email: str | None = None
    active: bool = True

    _ids = field_validator("id", mode="before")(_string_id)


class Users(_Model):
    users: tuple[User, ...] = ()


class Project(_Model):
    id: str
    name: str
    status: str = "active"
    billing_type: str | None = None

    _ids = field_validator("id", mode="before")(_string_id)


class Projects(_Model):
    projects: tuple[Project, ...] = ()


class TaskStatus(_Model):
    name: str | None = None
    type: str = "open"


class Task(_Model):
    id: str
    name: str
    status: TaskStatus = TaskStatus()
    description: str | None = None

    _ids = field_validator("id", mode="before")(_string_id)


class Tasks(_Model):
    tasks: tuple[Task, ...] = ()


class LogTask(_Model):
    id: str
    name: str | None = None

    _ids = field_validator("id", mode="before")(_string_id)


class TimeLog(_Model):
    id: str
    notes: str | None = None
    log_date: str
    """``MM-DD-YYYY``."""
    hours_display: str | None = None
    total_minutes: int | None = None
    owner_id: str
    owner_name: str | None = None
    bill_status: str = "Billable"
    approval_status: str | None = None
    task: LogTask | None = None
    last_modified_time_long: int | None = None

    _ids = field_validator("id", "owner_id", mode="before")(_string_id)

    @property
    def date(self) -> dt.date:
        month, day, year = self.log_date.split("-")
        return dt.date(int(year), int(month), int(day))

    @property
    def locked(self) -> bool:
        return (self.approval_status or "").lower() == "approved"


class LogDay(_Model):
    tasklogs: tuple[TimeLog, ...] = ()


class TimeLogs(_Model):
    date: tuple[LogDay, ...] = ()
    tasklogs: tuple[TimeLog, ...] = ()
    grandtotal: str | None = None

    def all(self) -> list[TimeLog]:
        return [log for day in self.date for log in day.tasklogs] + list(self.tasklogs)


class TimeLogsAnswer(_Model):
    timelogs: TimeLogs = Field(default_factory=TimeLogs)
