"""Clockify API v1 resources as typed models (the fields Timebridge reads; others ignored).

From Clockify's OpenAPI description (``shared/provider-specs/clockify-v1-openapi.yaml``). Ids are
24-hex strings; a time entry's ``timeInterval`` holds ``start``/``end`` (ISO 8601, UTC) and
``duration`` as an ISO 8601 duration (``PT1H30M``), ``end`` and ``duration`` null while the timer
runs; ``isLocked`` marks an entry in a locked period or an approved timesheet. A user's
``settings.timeZone`` is an IANA name.
"""

import datetime as dt

from pydantic import AliasChoices, BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class UserSettings(_Model):
    time_zone: str | None = Field(default=None, alias="timeZone")


class User(_Model):
    id: str
    email: str | None = None
    name: str | None = None
    status: str | None = None
    active_workspace: str | None = Field(default=None, alias="activeWorkspace")
    default_workspace: str | None = Field(default=None, alias="defaultWorkspace")
    settings: UserSettings | None = None

    @property
    def zone(self) -> str | None:
        return self.settings.time_zone if self.settings else None


class Project(_Model):
    id: str
    name: str
    archived: bool = False
    billable: bool | None = None
    workspace_id: str | None = Field(default=None, alias="workspaceId")


class Task(_Model):
    id: str
    name: str
    project_id: str = Field(alias="projectId")
    status: str | None = None
    """``ACTIVE`` or ``DONE``."""
    billable: bool | None = None


class TimeInterval(_Model):
    start: dt.datetime
    end: dt.datetime | None = None
    duration: str | None = None


class TimeEntry(_Model):
    id: str
    user_id: str = Field(alias="userId")
    workspace_id: str | None = Field(default=None, alias="workspaceId")
    project_id: str | None = Field(default=None, alias="projectId")
    task_id: str | None = Field(default=None, alias="taskId")
    description: str | None = None
    billable: bool = False
    is_locked: bool = Field(default=False, alias="isLocked")
    time_interval: TimeInterval = Field(alias="timeInterval")

    @property
    def running(self) -> bool:
        return self.time_interval.end is None


class SummaryGroup(_Model):
    """One ``groupOne`` row of the summary report: ``duration`` in seconds, its ``children``
    the next grouping level."""

    id: str | None = Field(default=None, validation_alias=AliasChoices("_id", "id"))
    duration: float = 0
    children: tuple["SummaryGroup", ...] | None = None


class Summary(_Model):
    group_one: tuple[SummaryGroup, ...] | None = Field(default=None, alias="groupOne")


class Webhook(_Model):
    """A workspace webhook (``WebhookDtoV1``): its ``authToken`` is what each delivery carries
    in ``Clockify-Signature``."""

    id: str
    url: str
    webhook_event: str | None = Field(default=None, alias="webhookEvent")
    enabled: bool = True
    auth_token: str | None = Field(default=None, alias="authToken")
