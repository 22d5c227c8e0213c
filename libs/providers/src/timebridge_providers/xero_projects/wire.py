"""Xero Projects API resources as typed models (the fields Timebridge reads; others ignored).

From Xero's OpenAPI description (``xero-projects.yaml``, XeroAPI/Xero-OpenAPI, v16): ids are
UUIDs; lists are ``{"pagination": {page, pageSize, pageCount, itemCount}, "items": [...]}``; a
time entry's ``duration`` is whole minutes (1 to 59940), ``dateUtc`` the moment it is logged on
(UTC, ISO 8601), ``status`` ``ACTIVE``/``LOCKED``/``INVOICED``; a task's ``chargeType`` is
``TIME``, ``FIXED`` or ``NON_CHARGEABLE`` (what decides "billable": Xero has no per-entry flag).
"""

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

XERO_PROJECTS_URL = "https://api.xero.com/projects.xro/2.0"
TENANT_HEADER = "Xero-Tenant-Id"
RATE_LIMIT = (60, 60.0)
"""Xero's minute limit per tenant and app (60 calls; 5,000 a day and 5 at a time as well)."""
DAY_LIMIT = 5000
PAGE_SIZE = 500
"""The largest ``pageSize`` Xero allows."""
MAX_MINUTES = 59940


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class Pagination(_Model):
    page: int = 1
    page_size: int = Field(50, alias="pageSize")
    page_count: int = Field(1, alias="pageCount")
    item_count: int = Field(0, alias="itemCount")


class ProjectUser(_Model):
    user_id: str = Field(alias="userId")
    name: str | None = None
    email: str | None = None


class Project(_Model):
    project_id: str = Field(alias="projectId")
    contact_id: str | None = Field(None, alias="contactId")
    name: str
    currency_code: str = Field("USD", alias="currencyCode")
    status: Literal["INPROGRESS", "CLOSED"] = "INPROGRESS"
    minutes_logged: int | None = Field(None, alias="minutesLogged")


class Amount(_Model):
    currency: str | None = None
    value: float | None = None


class Task(_Model):
    task_id: str = Field(alias="taskId")
    project_id: str | None = Field(None, alias="projectId")
    name: str
    charge_type: Literal["TIME", "FIXED", "NON_CHARGEABLE"] = Field("TIME", alias="chargeType")
    status: Literal["ACTIVE", "INVOICED", "LOCKED"] = "ACTIVE"
    rate: Amount | None = None

    @property
    def billable(self) -> bool:
        return self.charge_type != "NON_CHARGEABLE"


class TimeEntry(_Model):
    time_entry_id: str = Field(alias="timeEntryId")
    user_id: str = Field(alias="userId")
    project_id: str = Field(alias="projectId")
    task_id: str = Field(alias="taskId")
    date_utc: dt.datetime = Field(alias="dateUtc")
    date_entered_utc: dt.datetime | None = Field(None, alias="dateEnteredUtc")
    duration: int
    """Minutes."""
    description: str | None = None
    status: Literal["ACTIVE", "LOCKED", "INVOICED"] = "ACTIVE"

    @property
    def locked(self) -> bool:
        return self.status != "ACTIVE"


class ProjectUsers(_Model):
    pagination: Pagination = Pagination()
    items: tuple[ProjectUser, ...] = ()


class Projects(_Model):
    pagination: Pagination = Pagination()
    items: tuple[Project, ...] = ()


class Tasks(_Model):
    pagination: Pagination = Pagination()
    items: tuple[Task, ...] = ()


class TimeEntries(_Model):
    pagination: Pagination = Pagination()
    items: tuple[TimeEntry, ...] = ()
