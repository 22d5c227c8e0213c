"""Events of the reporting product (version 1)."""

import datetime as dt
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from timebridge_common.events.base import Event, UtcDatetime

_Id = Annotated[str, Field(min_length=1, max_length=200)]


class ReportDelivered(Event):
    """A report reached (or was handed to) a recipient's mail server, once per idempotency key.

    The key is the definition, the period (or the cause: an event, an emailed request) and the
    recipient: a report for the same period reaches the same recipient once, through retries,
    redeliveries and restarts. For BI: who received which report, when, in which formats.
    """

    name: ClassVar[str] = "ReportDelivered"
    version: ClassVar[int] = 1

    delivery_key: str = Field(min_length=1, max_length=600)
    run_id: _Id
    definition_id: str | None = Field(default=None, max_length=200, description="null: ad hoc")
    kind: Literal["time", "utilization", "billing", "performance", "reconciliation"]
    period_start: dt.date
    period_end: dt.date
    cause: str = Field(max_length=200, description="schedule, trigger:<event>, manual, email")
    recipient: str = Field(max_length=320)
    channel: Literal["email"] = "email"
    formats: tuple[str, ...]
    message_id: str = Field(max_length=300)
    attempts: int = Field(ge=1)
    delivered_at: UtcDatetime

    def partition_key(self) -> str:
        return f"{self.workspace_id}:{self.run_id}"
