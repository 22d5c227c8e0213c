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
OPTIONAL = frozenset({"user", "started_at", "ended_at"})
"""Fields one system may not keep (a tracker keeping a record per day has no start time, a user
may lack an email there): a value on one side only is not a change."""


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
        found = value.get("email") or value.get("name") or value.get("external_id")
        return str(found or value.get("id") or "—")
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return str(value)


def compare(source: dict[str, Any] | None, target: dict[str, Any] | None) -> list[FieldRow]:
    """Rows for the side-by-side view; a missing version shows as "—" and differs everywhere."""
    rows = []
    both = source is not None and target is not None
    for field, label in FIELD_LABELS.items():
        left = show(field, (source or {}).get(field))
        right = show(field, (target or {}).get(field))
        one_sided = both and field in OPTIONAL and "—" in (left, right)
        if field == "user" and both:
            emails = [((v or {}).get("user") or {}).get("email") for v in (source, target)]
            one_sided = one_sided or None in emails
        differs = field not in SYSTEM_IDS and left != right and not one_sided
        rows.append(FieldRow(field, label, left, right, differs))
    return rows
