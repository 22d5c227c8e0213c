"""Wrike API v4 resources as typed models (the fields Timebridge reads; others ignored).

From Wrike's documentation (developers.wrike.com, API v4): every answer is ``{"kind": ...,
"data": [...]}``, a single resource too; ids are opaque strings (``IEAAAAAQKQAAAAAB``). A timelog
holds ``hours`` (decimal hours), ``trackedDate`` (a date, no time of day), ``comment``,
``taskId``, ``userId``, ``billingType`` (``Billable``/``NonBillable``), ``updatedDate`` (UTC).
"""

import datetime as dt
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Envelope(_Model, Generic[T]):
    kind: str | None = None
    data: tuple[T, ...] = ()


class Timelog(_Model):
    id: str
    taskId: str
    userId: str
    hours: float
    trackedDate: dt.date
    comment: str | None = None
    billingType: str | None = None
    approvalStatus: str | None = None
    createdDate: dt.datetime | None = None
    updatedDate: dt.datetime | None = None


class Profile(_Model):
    email: str | None = None
    role: str | None = None


class Contact(_Model):
    id: str
    firstName: str | None = None
    lastName: str | None = None
    type: str = "Person"
    profiles: tuple[Profile, ...] = ()
    timezone: str | None = None
    deleted: bool = False

    @property
    def email(self) -> str | None:
        return next((p.email for p in self.profiles if p.email), None)

    @property
    def name(self) -> str | None:
        return " ".join(n for n in (self.firstName, self.lastName) if n) or None


class Folder(_Model):
    id: str
    title: str
    project: dict[str, object] | None = None
    """Set on a project (a folder with a status, owners, dates)."""


class Task(_Model):
    id: str
    title: str
    description: str | None = None
    status: str | None = None
    parentIds: tuple[str, ...] = ()
    permalink: str | None = None
    updatedDate: dt.datetime | None = None


class Webhook(_Model):
    """A hook: ``status`` ``Active`` or ``Suspended`` (Wrike suspends one whose deliveries fail)."""

    id: str
    hookUrl: str | None = None
    status: str | None = None
