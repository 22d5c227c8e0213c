"""What a sync-log reader can ask for (the guide: "Click Sync Logs, filter by status = Error")."""

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SyncLogQuery(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    integration_id: str | None = None
    status: Literal["synced", "skipped", "queued", "conflict", "error"] | None = None
    since: dt.datetime | None = Field(default=None, description="Outcomes at or after")
    until: dt.datetime | None = Field(default=None, description="Outcomes before")
    entry: str | None = Field(default=None, description="Source or target entry id")
    user: str | None = Field(default=None, description="User email")
    limit: int = Field(default=100, ge=1, le=1000)
