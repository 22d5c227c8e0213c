"""Translating Everhour time records into ``TimeEntryLogged``.

Everhour records carry no ``updatedAt``: the newest history entry is the version; a record
without history falls back to when we saw it. Everhour has no per-record billable flag (a task is
``unbillable`` or not), and a user's time zone is a UTC offset, which maps onto the IANA
``Etc/GMT±N`` zones when it is whole (note their inverted sign) and onto UTC otherwise.
"""

import datetime as dt
from dataclasses import dataclass

from timebridge_providers.everhour.client import Task, TimeRecord, User

from timebridge_common.events import TimeEntryFields, TimeEntryLogged, UserRef

EVERHOUR = "everhour"


def record_version(record: TimeRecord, observed_at: dt.datetime) -> dt.datetime:
    stamps = [h.created_at for h in record.history if h.created_at is not None]
    return max(stamps) if stamps else observed_at


def iana_zone(offset_hours: float | None) -> str:
    if offset_hours is None or offset_hours == 0 or not float(offset_hours).is_integer():
        return "UTC"
    hours = int(offset_hours)
    return f"Etc/GMT{-hours:+d}"


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
    return TimeEntryLogged.model_validate(
        {
            "workspace_id": workspace_id,
            "integration_id": integration_id,
            "source": EVERHOUR,
            "external_id": str(record.id),
            "entry": TimeEntryFields(
                user=UserRef(
                    external_id=str(record.user),
                    email=user.email if user else None,
                    name=user.name if user else None,
                ),
                project_external_id=task.projects[0] if task.projects else None,
                task_external_id=task.id,
                date=record.date,
                timezone=iana_zone(user.timezone if user else None),
                duration_seconds=record.time,
                notes=record.comment or "",
                billable=not task.unbillable,
            ),
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
            "source": EVERHOUR,
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


_MAX_ID = 2**63 - 1
_MAX_TASK_ID = 200


@dataclass(frozen=True, slots=True)
class DeliveryHint:
    """What an Everhour delivery says changed: which record, to be re-read (never trusted)."""

    integration_id: str
    record_id: int
    date: dt.date
    user_id: int
    task_id: str | None


@dataclass(frozen=True, slots=True)
class PendingDelivery:
    """A hint waiting in the inbox; ``seq`` tells whether another delivery came meanwhile."""

    hint: DeliveryHint
    seq: int


def delivery_hint(integration_id: str, record: TimeRecord) -> DeliveryHint:
    """The hint of a delivered record, or ``ValueError`` when it names nothing storable.

    Unsigned input: ids must fit the columns and a task id must be short printable text, so a
    forged or garbled delivery is refused (4xx) rather than failing in the database.
    """
    if not (0 < record.id <= _MAX_ID and 0 < record.user <= _MAX_ID):
        raise ValueError("record and user ids must be positive 64-bit integers")
    task_id = record.task.id if record.task else None
    if task_id is not None and (len(task_id) > _MAX_TASK_ID or not task_id.isprintable()):
        raise ValueError("the task id is not a short printable string")
    return DeliveryHint(integration_id, record.id, record.date, record.user, task_id)
