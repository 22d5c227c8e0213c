"""What an admin sets up per integration, and the entries held for a user mapping."""

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from timebridge_mapping.domain.entries import StoredEntry

LinkedBy = Literal["manual", "title", "created"]


@dataclass(frozen=True, slots=True)
class ProjectMapping:
    """A Core project and the tracker project its time goes to (one to one)."""

    core_project_id: str
    tracker_project_id: str


@dataclass(frozen=True, slots=True)
class TaskLink:
    """A Core ticket and its tracker task (one to one), and how the link came about."""

    core_ticket_id: str
    tracker_task_id: str
    tracker_project_id: str | None
    linked_by: LinkedBy


@dataclass(frozen=True, slots=True)
class ProjectRule:
    """For a Core project: the tracker task of tickets that have no task of their own."""

    core_project_id: str
    default_task_id: str


@dataclass(frozen=True, slots=True)
class HeldEntry:
    """An entry queued until its user is mapped (unmapped-user policy ``queue``)."""

    integration_id: str
    entry: StoredEntry
    reason: str
    held_at: dt.datetime
