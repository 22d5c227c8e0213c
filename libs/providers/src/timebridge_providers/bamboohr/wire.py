"""BambooHR's payloads as it sends them (spec: ``bamboohr-openapi.yaml``), extra fields ignored.

BambooHR writes many numbers as strings (``"id": "1342"``, ``"amount": "24"``): ids are read as
text and amounts as exact decimals, whichever of the two arrives.
"""

import datetime as dt
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _text(value: object) -> object:
    return str(value) if isinstance(value, int) else value


Id = Annotated[str, BeforeValidator(_text)]


class _Wire(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class RequestStatus(_Wire):
    status: str
    last_changed: dt.date | None = Field(default=None, alias="lastChanged")


class RequestType(_Wire):
    id: Id | None = None
    name: str = ""


class RequestAmount(_Wire):
    unit: str = "days"
    amount: Decimal = Decimal(0)


class TimeOffRequest(_Wire):
    """``GET /api/v1/time_off/requests``: one request, whatever its status."""

    id: Id
    employee_id: Id = Field(alias="employeeId")
    name: str | None = None
    start: dt.date
    end: dt.date
    created: dt.date | None = None
    status: RequestStatus
    type: RequestType = RequestType()
    amount: RequestAmount = RequestAmount()
    dates: dict[dt.date, Decimal] = Field(default_factory=dict)


class DirectoryEmployee(_Wire):
    """``GET /api/v1/employees/directory``: the fields the company's directory shows."""

    id: Id
    display_name: str | None = Field(default=None, alias="displayName")
    first_name: str | None = Field(default=None, alias="firstName")
    last_name: str | None = Field(default=None, alias="lastName")
    work_email: str | None = Field(default=None, alias="workEmail")


class Directory(_Wire):
    employees: list[DirectoryEmployee] = Field(default_factory=list)


class Employee(_Wire):
    """``GET /api/v1/employees/0``: the employee the API key belongs to."""

    id: Id
    first_name: str | None = Field(default=None, alias="firstName")
    last_name: str | None = Field(default=None, alias="lastName")
    work_email: str | None = Field(default=None, alias="workEmail")
