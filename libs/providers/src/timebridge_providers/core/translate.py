"""Core time entries <-> the canonical ``TimeEntryFields`` / ``TimeEntryLogged`` (written once).

Core's entries carry their own IANA time zone and a UTC start; the end is derived from the start
and the duration, so every reader of a Core entry (webhook, poll, the resolver's read-back) sees the
same fields.
"""

import datetime as dt
from typing import Any

from timebridge_common.events import TimeEntryFields, TimeEntryLogged, UserRef
from timebridge_providers.core.client import TimeEntry

SOURCE = "core"
"""The ``source`` of the events this translation makes (the home system's registry name)."""


def entry_fields(entry: TimeEntry) -> TimeEntryFields:
    """The canonical fields of a Core entry (webhook or REST: the same shape by contract)."""
    ended_at = (
        entry.started_at + dt.timedelta(seconds=entry.duration_seconds)
        if entry.started_at
        else None
    )
    return TimeEntryFields(
        user=UserRef(external_id=entry.user.id, email=entry.user.email, name=entry.user.name),
        project_external_id=entry.project_id,
        task_external_id=entry.ticket_id,
        date=entry.date,
        started_at=entry.started_at,
        ended_at=ended_at,
        timezone=entry.timezone,
        duration_seconds=entry.duration_seconds,
        notes=entry.notes,
        billable=entry.billable,
    )


def entry_to_event(
    workspace_id: str, entry: TimeEntry, *, deleted: bool, observed_via: str
) -> TimeEntryLogged:
    """A Core entry as ``TimeEntryLogged`` (deleted when told so or when it has ``deleted_at``)."""
    return TimeEntryLogged.model_validate(
        {
            "workspace_id": workspace_id,
            "source": SOURCE,
            "external_id": entry.id,
            "entry": entry_fields(entry),
            "updated_at": entry.updated_at,
            "deleted": deleted or entry.deleted_at is not None,
            "observed_via": observed_via,
        }
    )


def writable(fields: TimeEntryFields) -> dict[str, Any]:
    """The ``TimeEntryWrite`` fields for ``fields`` (``ended_at`` is derived, never written)."""
    return {
        "user_id": fields.user.external_id,
        "project_id": fields.project_external_id,
        "ticket_id": fields.task_external_id,
        "date": fields.date,
        "started_at": fields.started_at,
        "duration_seconds": fields.duration_seconds,
        "notes": fields.notes,
        "billable": fields.billable,
        "timezone": fields.timezone,
    }
