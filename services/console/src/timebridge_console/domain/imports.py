"""History imports on the integration page: the period from the form, a run's state in words.

The progress itself is ingest's (days covered of the period, entries observed): the console only
shows it, and the bar moves because ingest records it after each window it covers.
"""

import datetime as dt
from collections.abc import Mapping
from typing import Any

from timebridge_console.domain.choices import FormError

ACTIVE = frozenset({"queued", "running", "waiting"})
STATES = {
    "queued": "Waiting to start",
    "running": "Importing",
    "waiting": "Paused: the tracker no longer accepts the key (re-connect it to resume)",
    "done": "Done",
    "failed": "Failed",
    "cancelled": "Stopped: the integration was disconnected",
}


def _date(value: str, label: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise FormError(f"{label} is not a date (YYYY-MM-DD)") from None


def period(fields: Mapping[str, str], *, today: dt.date) -> tuple[dt.date, dt.date | None]:
    """``import_from`` (required) and ``import_to`` (empty: up to today) of the form."""
    first = fields.get("import_from", "").strip()
    last = fields.get("import_to", "").strip()
    if not first:
        raise FormError("choose the first day to import")
    start = _date(first, "The first day")
    end = _date(last, "The last day") if last else None
    if start > (end or today):
        raise FormError("the first day is after the last day")
    return start, end


def optional_start(fields: Mapping[str, str]) -> dt.date | None:
    """The connect form's "Import history from" (empty: no import)."""
    first = fields.get("import_from", "").strip()
    return _date(first, "Import history from") if first else None


def any_active(runs: list[dict[str, Any]]) -> bool:
    """Whether the page should keep asking (a run is not finished)."""
    return any(r.get("state") in ACTIVE for r in runs)


def state_label(run: Mapping[str, Any]) -> str:
    label = STATES.get(str(run.get("state")), str(run.get("state")))
    error = run.get("last_error")
    if run.get("state") == "failed" and error:
        return f"{label}: {error}"
    return label
