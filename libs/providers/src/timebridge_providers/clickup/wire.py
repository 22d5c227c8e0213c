"""ClickUp API v2 resources as typed models (the fields Timebridge reads; others ignored).

From ClickUp's OpenAPI description (``clickup-v2-openapi.json``) and developer docs: a time entry's
``start``, ``end``, ``at`` (its last change) and ``duration`` are milliseconds since the epoch or
milliseconds, written as strings in a listing (numbers elsewhere); a running timer's duration is
negative. A workspace is a "team" in API v2 paths; ids are strings except users' (integers).
"""

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class User(_Model):
    id: int
    username: str | None = None
    email: str | None = None
    timezone: str | None = None
    """An IANA name; ``GET /user`` gives it for the token's own user (the spec misspells it
    ``timezeone``); a team member's may lack it."""


class Me(_Model):
    user: User


class Member(_Model):
    user: User


class Team(_Model):
    id: str
    name: str
    members: list[Member] = Field(default_factory=list)


class Teams(_Model):
    teams: list[Team]


class TaskRef(_Model):
    id: str
    name: str | None = None


class Location(_Model):
    list_id: int | str | None = None
    folder_id: int | str | None = None
    space_id: int | str | None = None


class TimeEntry(_Model):
    id: str
    task: TaskRef | None = None
    wid: str | None = None
    user: User
    billable: bool = False
    start: int
    end: int | None = None
    duration: int
    """Milliseconds; negative while the timer runs."""
    description: str = ""
    at: int | None = None
    task_location: Location | None = None

    @property
    def running(self) -> bool:
        return self.duration < 0


class Space(_Model):
    id: str
    name: str
    archived: bool = False


class ListRef(_Model):
    id: str
    name: str
    archived: bool = False


class Folder(_Model):
    id: str
    name: str
    lists: list[ListRef] = Field(default_factory=list)


class Status(_Model):
    status: str | None = None
    type: str | None = None


class Task(_Model):
    id: str
    name: str
    description: str | None = None
    status: Status | None = None
    date_updated: int | None = None
    url: str | None = None
    list: ListRef | None = None
    archived: bool = False


class Health(_Model):
    status: str
    fail_count: int = 0


class Webhook(_Model):
    id: str
    endpoint: str
    secret: str | None = None
    health: Health | None = None
