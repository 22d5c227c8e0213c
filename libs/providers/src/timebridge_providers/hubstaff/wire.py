"""Hubstaff API v2 resources as typed models (the fields Timebridge reads; others ignored).

From Hubstaff's Swagger description (``hubstaff-v2-swagger.json``): ids are integers; a daily
activity is one user's time on one project and task on one organization date, ``tracked`` and
``billable`` (a subset) in seconds; lists page by ``page_start_id`` and answer
``pagination.next_page_start_id`` while more remain.
"""

import datetime as dt

from pydantic import BaseModel, ConfigDict


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class User(_Model):
    id: int
    name: str | None = None
    email: str | None = None
    time_zone: str | None = None
    status: str | None = None


class Member(_Model):
    user_id: int
    membership_status: str | None = None
    user: User | None = None


class Project(_Model):
    id: int
    name: str
    status: str | None = None
    billable: bool | None = None


class Task(_Model):
    id: int
    project_id: int
    summary: str
    status: str | None = None
    details: str | None = None
    updated_at: dt.datetime | None = None


class DailyActivity(_Model):
    id: int
    date: dt.date
    user_id: int
    project_id: int
    task_id: int | None = None
    tracked: int
    billable: int = 0
    updated_at: dt.datetime
