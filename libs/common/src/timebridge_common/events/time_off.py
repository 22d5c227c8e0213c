"""Time off recorded in an HR system (version 1).

Ingest polls an HR connection and publishes each time-off request every time it changes, in full
and with its status: reporting keeps the latest state per request and subtracts approved time off
from a person's capacity, so a cancelled or denied request gives the days back. The event id is
derived from the request's content (:func:`recorded_id`): the same request seen twice is one
event.
"""

import datetime as dt
import hashlib
import json
import uuid
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from timebridge_common.events.base import Event, UtcDatetime

_Id = Annotated[str, Field(min_length=1, max_length=200)]
_System = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{1,39}$")]
_Amount = Annotated[Decimal, Field(ge=0, le=10_000, decimal_places=4)]
_NAMESPACE = uuid.UUID("3d0f6b8e-93a4-4c8e-b6f2-5a1e7d2c9f40")


class TimeOffRecorded(Event):
    """One time-off request as the HR system holds it now."""

    name: ClassVar[str] = "TimeOffRecorded"
    version: ClassVar[int] = 1

    integration_id: _Id = Field(description="The HR connection it was read from")
    source: _System = Field(description="The HR system, e.g. 'bamboohr'")
    request_id: _Id = Field(description="The request's id in the HR system")
    employee_id: _Id = Field(description="The employee's id in the HR system")
    employee_email: str | None = Field(
        default=None,
        max_length=320,
        description="The employee's work email: how the request is matched to a user",
    )
    employee_name: str | None = Field(default=None, max_length=500)
    start: dt.date
    end: dt.date
    status: Literal["requested", "approved", "denied", "canceled", "superseded"] = Field(
        description="Only 'approved' takes capacity; the others keep or give it back"
    )
    absence_type: str = Field(default="", max_length=200, description="Vacation, Sick, ...")
    unit: Literal["hours", "days"]
    amount: _Amount = Field(description="The request's total in 'unit'")
    days: dict[dt.date, _Amount] = Field(
        default_factory=dict, description="The amount per day in 'unit' (exact decimals)"
    )
    changed_on: dt.date | None = Field(
        default=None, description="When the status last changed, in the HR system's calendar"
    )
    observed_at: UtcDatetime = Field(description="When ingest read it; the newer state wins")

    def partition_key(self) -> str:
        return f"{self.workspace_id}:{self.integration_id}:{self.request_id}"

    def content_digest(self) -> str:
        """SHA-256 (hex) of what the request says, not of when it was read."""
        said = self.model_dump(mode="json", exclude={"observed_at"})
        return hashlib.sha256(json.dumps(said, sort_keys=True).encode()).hexdigest()

    def recorded_id(self) -> uuid.UUID:
        """The event id: the same request with the same content is the same event."""
        return uuid.uuid5(_NAMESPACE, f"{self.integration_id}:{self.content_digest()}")
