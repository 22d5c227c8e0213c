"""Toggl Track API v9 resources as typed models (the fields Timebridge reads; others ignored).

From Toggl's documentation (engineering.toggl.com/docs, API v9; API v8 was switched off in 2023,
and Reports API v3 replaced v2 for new integrations). Ids are integers; a time entry's ``start``
and ``stop`` are ISO 8601 (RFC 3339) in UTC, ``duration`` is seconds and negative while the timer
runs (``-<start as unix seconds>``); ``at`` is the last change; ``server_deleted_at`` is set on a
deleted entry listed by ``GET /me/time_entries?since=``. ``description`` holds the notes.
"""

import datetime as dt

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Me(_Model):
    """``GET /me``: the token's user, their default workspace and their time zone (IANA)."""

    id: int
    email: str | None = None
    fullname: str | None = None
    timezone: str | None = None
    default_workspace_id: int | None = None


class WorkspaceUser(_Model):
    """``GET /workspaces/{wid}/users``: a member of the workspace."""

    id: int
    email: str | None = None
    fullname: str | None = None
    name: str | None = None
    timezone: str | None = None
    inactive: bool = False


class Project(_Model):
    id: int
    workspace_id: int | None = None
    name: str
    active: bool = True
    billable: bool | None = None
    """A paid-plan feature: the project's default for its entries."""
    is_private: bool = False
    at: dt.datetime | None = None


class Task(_Model):
    id: int
    name: str
    project_id: int
    workspace_id: int | None = None
    active: bool = True
    at: dt.datetime | None = None


class TaskPage(_Model):
    """``GET /workspaces/{wid}/tasks``: one page of the workspace's tasks."""

    data: tuple[Task, ...] = ()
    page: int = 1
    per_page: int | None = None
    total_count: int = 0


class TimeEntry(_Model):
    id: int
    workspace_id: int
    user_id: int
    project_id: int | None = None
    task_id: int | None = None
    start: dt.datetime
    stop: dt.datetime | None = None
    duration: int
    """Seconds; negative while running."""
    description: str | None = None
    tags: tuple[str, ...] | None = None
    billable: bool = False
    at: dt.datetime | None = None
    server_deleted_at: dt.datetime | None = None

    @property
    def running(self) -> bool:
        return self.duration < 0


class SummarySubGroup(_Model):
    id: int | None = None
    seconds: int = 0


class SummaryGroup(_Model):
    id: int | None = None
    sub_groups: tuple[SummarySubGroup, ...] | None = None


class Summary(_Model):
    """Reports API v3 ``POST .../summary/time_entries`` grouped by users, sub-grouped by
    projects (a ``null`` id: time without a project)."""

    groups: tuple[SummaryGroup, ...] | None = None


class SearchedEntry(_Model):
    id: int
    seconds: int
    start: dt.datetime
    stop: dt.datetime | None = None
    at: dt.datetime | None = None


class SearchRow(_Model):
    """One row of Reports API v3 ``POST .../search/time_entries``: entries sharing a user,
    project, task, description and billable flag."""

    user_id: int
    project_id: int | None = None
    task_id: int | None = None
    description: str | None = None
    billable: bool = False
    time_entries: tuple[SearchedEntry, ...] = ()

    def entries(self, workspace_id: int) -> list[TimeEntry]:
        """The row's entries as API v9 would render them."""
        return [
            TimeEntry(
                id=e.id,
                workspace_id=workspace_id,
                user_id=self.user_id,
                project_id=self.project_id,
                task_id=self.task_id,
                start=e.start,
                stop=e.stop,
                duration=e.seconds,
                description=self.description,
                billable=self.billable,
                at=e.at,
            )
            for e in self.time_entries
        ]
