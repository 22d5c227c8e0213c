"""Both versions of a conflicting entry, field by field, marking the fields that differ."""

from dataclasses import dataclass
from typing import Any

FIELD_LABELS = {
    "user": "User",
    "date": "Date",
    "duration_seconds": "Time",
    "task_external_id": "Ticket / task",
    "project_external_id": "Project",
    "notes": "Notes",
    "billable": "Billable",
    "started_at": "Started",
    "ended_at": "Ended",
    "timezone": "Time zone",
}


SYSTEM_IDS = frozenset({"task_external_id", "project_external_id"})
"""Ids each system gives its own projects and tasks: shown, never marked as a difference."""


@dataclass(frozen=True)
class FieldRow:
    field: str
    label: str
    source: str
    target: str
    differs: bool


def duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h {rest // 60:02d}m"


def show(field: str, value: Any) -> str:
    """A field's value as the screens show it ("—" for none)."""
    if value is None or value == "":
        return "—"
    if field == "duration_seconds" and isinstance(value, int):
        return f"{duration(value)} ({value} s)"
    if field == "user" and isinstance(value, dict):
        return str(value.get("email") or value.get("name") or value.get("id") or "—")
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


def compare(source: dict[str, Any] | None, target: dict[str, Any] | None) -> list[FieldRow]:
    """Rows for the side-by-side view; a missing version shows as "—" and differs everywhere."""
    rows = []
    for field, label in FIELD_LABELS.items():
        left = show(field, (source or {}).get(field))
        right = show(field, (target or {}).get(field))
        differs = field not in SYSTEM_IDS and left != right
        rows.append(FieldRow(field, label, left, right, differs))
    return rows
