"""The tracker's own summary report, asked for and reported (version 1).

Reconciliation compares what a tracker's report says was logged in a period with the tracker's
entries Timebridge observed: a difference points at an entry missed, doubled or not yet seen.
Ingest (the service that holds tracker connections and reads trackers) fetches the summary;
reporting keeps the latest one per integration and period.
"""

import datetime as dt
import uuid
from typing import Annotated, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from timebridge_common.events.base import Event, UtcDatetime

_Id = Annotated[str, Field(min_length=1, max_length=200)]
_System = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{1,39}$")]
_NAMESPACE = uuid.UUID("0b6e3a8e-4f0c-4d53-9a43-7c2f8f1d5e21")


class TrackerSummaryRequested(Event):
    """Someone (a reconciliation run, an admin) wants the trackers' summaries for a period.

    ``integration_id`` null: every connected tracker integration of the workspace.
    """

    name: ClassVar[str] = "TrackerSummaryRequested"
    version: ClassVar[int] = 1

    integration_id: _Id | None = None
    period_start: dt.date
    period_end: dt.date
    cause: str = Field(max_length=200, description="e.g. report-run:<run id>, manual")
    requested_at: UtcDatetime

    def partition_key(self) -> str:
        return f"{self.workspace_id}:{self.integration_id or '*'}"


class TrackerSummaryLine(BaseModel):
    """Time logged per user (and project, where the tracker's report splits by it)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    user_external_id: _Id
    project_external_id: _Id | None = Field(
        default=None, description="null: the tracker's report is per user only"
    )
    seconds: int = Field(ge=0)
    billable_seconds: int | None = Field(
        default=None, ge=0, description="null: the tracker does not report the billable part"
    )


class TrackerSummaryReported(Event):
    """A tracker's own summary of a period, as the tracker reports it (its ids, seconds).

    ``unavailable`` set: no summary could be had (the provider offers no report, or refused the
    credential), and says why; ``lines`` is then empty.
    """

    name: ClassVar[str] = "TrackerSummaryReported"
    version: ClassVar[int] = 1

    integration_id: _Id
    provider: _System
    period_start: dt.date
    period_end: dt.date
    lines: tuple[TrackerSummaryLine, ...] = ()
    unavailable: str | None = Field(default=None, max_length=2_000)
    cause: str = Field(max_length=200)
    fetched_at: UtcDatetime

    def partition_key(self) -> str:
        return f"{self.workspace_id}:{self.integration_id}"


def reported_id(request_id: uuid.UUID | str, integration_id: str) -> uuid.UUID:
    """The event id of the summary answering one request for one integration: a redelivered
    request yields the same id, so consumers keep it once."""
    return uuid.uuid5(_NAMESPACE, f"{request_id}:{integration_id}")
