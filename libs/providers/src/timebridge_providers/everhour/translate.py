"""Everhour time records <-> the canonical ``TimeEntryFields`` / ``TimeEntryLogged`` (written once).

Everhour keeps one record per task, user and day, in seconds; it has no ``updatedAt`` (the newest
history entry is the version), no per-record billable flag (a task is ``unbillable`` or not), and a
record with zero time is gone. A user's time zone is a UTC offset in hours: a whole offset maps onto
the IANA ``Etc/GMT±N`` zones (their sign is inverted: UTC+2 is ``Etc/GMT-2``), a fractional one onto
a zone that keeps that offset all year (UTC+5:30 is ``Asia/Kolkata``), anything else onto UTC, so a
record's day is never read in a zone that does not exist.
"""

import datetime as dt
from typing import Any

from timebridge_common.events import TimeEntryFields, TimeEntryLogged, UserRef
from timebridge_providers.everhour.client import Task, TimeRecord, User

SOURCE = "everhour"
"""The ``source`` of the events this translation makes (the registry name)."""

_FRACTIONAL_ZONES = {
    -9.5: "Pacific/Marquesas",
    3.5: "Asia/Tehran",
    4.5: "Asia/Kabul",
    5.5: "Asia/Kolkata",
    5.75: "Asia/Kathmandu",
    6.5: "Asia/Yangon",
    8.75: "Australia/Eucla",
    9.5: "Australia/Darwin",
}
"""Fractional offsets with a zone that keeps them all year (no daylight saving)."""


def zone_of(offset_hours: float | None) -> str:
    """The IANA zone of an Everhour user's UTC offset (``Etc/GMT`` spans UTC-12 to UTC+14)."""
    if offset_hours is None or offset_hours == 0:
        return "UTC"
    offset = float(offset_hours)
    if not offset.is_integer():
        return _FRACTIONAL_ZONES.get(offset, "UTC")
    hours = int(offset)
    if not -12 <= hours <= 14:
        return "UTC"
    return f"Etc/GMT{-hours:+d}"


def last_changed(record: TimeRecord) -> dt.datetime | None:
    """When the record last changed, from its history (``None`` when it has none)."""
    return max((h.created_at for h in record.history if h.created_at is not None), default=None)


def record_version(record: TimeRecord, observed_at: dt.datetime) -> dt.datetime:
    """The record's version: its last change, or when we saw it if it has no history."""
    return last_changed(record) or observed_at


def record_fields(
    record: TimeRecord,
    *,
    task: Task | None = None,
    user: User | None = None,
    task_id: str | None = None,
) -> TimeEntryFields:
    """The canonical fields of an Everhour record.

    ``task`` defaults to the record's embedded task (``task_id`` names it when neither is known);
    ``user`` (when read) gives the email, name and time zone. Without a task the record counts as
    billable, Everhour's default for a task.
    """
    task = task or record.task
    return TimeEntryFields(
        user=UserRef(
            external_id=str(record.user),
            email=user.email if user else None,
            name=user.name if user else None,
        ),
        project_external_id=task.projects[0] if task and task.projects else None,
        task_external_id=task.id if task else task_id,
        date=record.date,
        timezone=zone_of(user.timezone if user else None),
        duration_seconds=record.time,
        notes=record.comment or "",
        billable=not task.unbillable if task else True,
    )


def record_to_event(
    *,
    workspace_id: str,
    integration_id: str,
    record: TimeRecord,
    task: Task,
    user: User | None,
    observed_at: dt.datetime,
    observed_via: str,
) -> TimeEntryLogged:
    """An observed record as ``TimeEntryLogged`` (a record with zero time is a deletion)."""
    return TimeEntryLogged.model_validate(
        {
            "workspace_id": workspace_id,
            "integration_id": integration_id,
            "source": SOURCE,
            "external_id": str(record.id),
            "entry": record_fields(record, task=task, user=user),
            "updated_at": record_version(record, observed_at),
            "deleted": record.time == 0,
            "observed_via": observed_via,
        }
    )


def deleted_record_event(
    *,
    workspace_id: str,
    integration_id: str,
    record_id: str,
    user_id: int,
    task_id: str | None,
    date: dt.date,
    observed_at: dt.datetime,
    observed_via: str,
) -> TimeEntryLogged:
    """The record is gone from Everhour: what we last knew of it, marked deleted."""
    return TimeEntryLogged.model_validate(
        {
            "workspace_id": workspace_id,
            "integration_id": integration_id,
            "source": SOURCE,
            "external_id": record_id,
            "entry": TimeEntryFields(
                user=UserRef(external_id=str(user_id)),
                task_external_id=task_id,
                date=date,
                duration_seconds=0,
                billable=False,
            ),
            "updated_at": observed_at,
            "deleted": True,
            "observed_via": observed_via,
        }
    )


def record_values(fields: TimeEntryFields) -> dict[str, Any]:
    """The keyword arguments of ``EverhourClient.add_time``/``update_time`` for ``fields``.

    Everhour writes only time and comment on a task, user and date; the rest of the fields is
    the record's key (or, for billable, the task's setting).
    """
    return {
        "seconds": fields.duration_seconds,
        "date": fields.date,
        "user_id": int(fields.user.external_id),
        "comment": fields.notes,
    }
