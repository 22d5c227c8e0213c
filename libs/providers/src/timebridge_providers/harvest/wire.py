"""Harvest API v2 resources as typed models (the fields Timebridge reads; others are ignored).

From Harvest's documentation (help.getharvest.com/api-v2) and the OpenAPI text generated from it
(``shared/provider-specs/harvest-v2-openapi.yaml``). Lists are objects holding the page's items
under the resource's plural name plus ``per_page``, ``total_pages``, ``total_entries``,
``next_page``, ``previous_page``, ``page`` and ``links`` (``first``/``last``/``previous``/``next``,
absolute URLs, ``next`` null on the last page). Ids are integers; ``hours`` are decimal hours;
``spent_date`` is ``YYYY-MM-DD``; ``started_time``/``ended_time`` are wall-clock times such as
``8:00am`` (set only on accounts tracking time by start and end, ``wants_timestamp_timers``);
``created_at``/``updated_at`` are ISO 8601 UTC. A user's ``timezone`` is a Rails time zone name
(``Eastern Time (US & Canada)``), see :mod:`timebridge_providers.harvest.zones`.
"""

import datetime as dt

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Links(_Model):
    first: str | None = None
    last: str | None = None
    previous: str | None = None
    next: str | None = None


class Company(_Model):
    name: str | None = None
    base_uri: str | None = None
    is_active: bool = True
    wants_timestamp_timers: bool = False
    """The account tracks time by start and end time (else by duration)."""
    time_format: str | None = None
    week_start_day: str | None = None


class User(_Model):
    id: int
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    timezone: str | None = None
    is_active: bool = True
    roles: tuple[str, ...] = ()
    access_roles: tuple[str, ...] = ()

    @property
    def name(self) -> str | None:
        joined = " ".join(p for p in (self.first_name, self.last_name) if p)
        return joined or None


class Ref(_Model):
    """The ``{"id", "name"}`` a resource embeds for a related one."""

    id: int
    name: str | None = None


class ClientRef(Ref):
    currency: str | None = None


class Project(_Model):
    id: int
    name: str
    code: str | None = None
    client: ClientRef | None = None
    is_active: bool = True
    is_billable: bool = True
    is_fixed_fee: bool = False
    bill_by: str | None = None
    """``Project``, ``Tasks``, ``People`` or ``none``: where the hourly rate comes from."""
    updated_at: dt.datetime | None = None


class Task(_Model):
    id: int
    name: str
    billable_by_default: bool = True
    is_active: bool = True
    updated_at: dt.datetime | None = None


class TaskAssignment(_Model):
    """A task offered in a project: an entry names a project and one of its assigned tasks."""

    id: int
    project: Ref | None = None
    task: Ref
    is_active: bool = True
    billable: bool | None = None
    hourly_rate: float | None = None
    updated_at: dt.datetime | None = None


class ExternalReference(_Model):
    """The outside item an entry was tracked for; its ``id`` is a filter of the entry list."""

    id: str | None = None
    group_id: str | None = None
    account_id: str | None = None
    permalink: str | None = None


class TimeEntry(_Model):
    id: int
    spent_date: dt.date
    user: Ref
    project: Ref
    task: Ref
    client: Ref | None = None
    hours: float = 0.0
    """Decimal hours, including a running timer's time so far."""
    notes: str | None = None
    is_locked: bool = False
    locked_reason: str | None = None
    is_billed: bool = False
    is_running: bool = False
    billable: bool = True
    started_time: str | None = None
    ended_time: str | None = None
    external_reference: ExternalReference | None = None
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None


class TimeReportRow(_Model):
    """One row of ``/reports/time/{clients,projects,tasks,team}``."""

    client_id: int | None = None
    project_id: int | None = None
    task_id: int | None = None
    user_id: int | None = None
    user_name: str | None = None
    total_hours: float = 0.0
    billable_hours: float = 0.0
