"""Connection health in the sync log: what a reader of the log sees of a connection's changes.

An entry's outcome says what happened to one entry; a connection's change says why none came
(a refused key, polls failing). Both are shown in one list, newest first, so an admin reads
"the tracker rejected the API key at 10:02" next to the entries' outcomes.
"""

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

STATE_STATUS = {"ok": "synced", "failing": "error", "needs_reauthorisation": "error"}
"""How a connection's state reads in the sync log's status filter."""


class ConnectionLogQuery(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    integration_id: str | None = None
    since: dt.datetime | None = Field(default=None, description="Changes at or after")
    until: dt.datetime | None = Field(default=None, description="Changes before")
    limit: int = Field(default=100, ge=1, le=1000)


def reason(row: dict[str, Any]) -> str:
    """One line for the log: what changed, and the provider's own words when it gave some."""
    state = row["state"]
    if state == "ok":
        return f"{row['provider']} connection works again"
    what = (
        f"{row['provider']} refused the credential: reconnect it"
        if state == "needs_reauthorisation"
        else f"polling {row['provider']} fails"
    )
    return f"{what} ({row['message']})" if row.get("message") else what


def as_log_row(row: dict[str, Any]) -> dict[str, Any]:
    """A connection change in the sync log's shape (``kind`` tells it from an entry outcome)."""
    return {
        "kind": "connection",
        "event_id": str(row["event_id"]),
        "integration_id": row["integration_id"],
        "connection_id": row["connection_id"],
        "source": row["provider"],
        "state": row["state"],
        "previous_state": row["previous_state"],
        "status": STATE_STATUS[row["state"]],
        "error_class": row["error_class"],
        "reason": reason(row),
        "provider_response": row["provider_response"],
        "failures": row["failures"],
        "synced_at": row["changed_at"],
    }


def merged(
    entries: list[dict[str, Any]], connections: list[dict[str, Any]], limit: int
) -> list[dict[str, Any]]:
    """Entry outcomes and connection changes in one list, newest first, at most ``limit``."""
    rows = [{"kind": "entry", **e} for e in entries] + connections
    rows.sort(key=lambda r: (r["synced_at"], r["event_id"]), reverse=True)
    return rows[:limit]
