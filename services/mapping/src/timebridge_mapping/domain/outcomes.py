"""What mapping an entry for one integration yields: ``EntryMapped``, or ``EntrySynced`` (why not).

``EntrySynced`` is the only source of an entry's sync status, so an entry that mapping stops
(skipped, or queued for a user mapping) gets one here; an entry that is mapped gets its status
later from the conflict-resolver.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from timebridge_common.events import ConnectionChanged, EntryMapped, EntrySynced, UserRef
from timebridge_mapping.domain.direction import target_of
from timebridge_mapping.domain.entries import StoredEntry

UserMappedBy = Literal["email", "manual", "default_user"]
TaskMappedBy = Literal["link", "title", "rule", "created", "none"]


@dataclass(frozen=True, slots=True)
class NotMapped:
    """The entry does not go to the target: ``skipped`` for good, or ``queued`` until it can."""

    status: Literal["skipped", "queued"]
    reason: str


@dataclass(frozen=True, slots=True)
class Placement:
    """Where the entry goes on the target: its project and task (a Core ticket or tracker task)."""

    project_id: str | None
    task_id: str | None
    by: TaskMappedBy


def entry_mapped(
    entry: StoredEntry,
    integration: ConnectionChanged,
    *,
    user: UserRef,
    user_by: UserMappedBy,
    placement: Placement,
) -> EntryMapped:
    source = entry.key.source
    return EntryMapped(
        workspace_id=entry.key.workspace_id,
        integration_id=integration.connection_id,
        source=source,
        source_external_id=entry.key.external_id,
        target=target_of(integration, source),
        operation="delete" if entry.deleted else "upsert",
        entry=entry.fields.model_copy(
            update={
                "user": user,
                "project_external_id": placement.project_id,
                "task_external_id": placement.task_id,
            }
        ),
        source_entry=entry.fields,
        source_updated_at=entry.updated_at,
        user_mapped_by=user_by,
        task_mapped_by=placement.by,
    )


def not_mapped(
    entry: StoredEntry, integration: ConnectionChanged, outcome: NotMapped, *, now: dt.datetime
) -> EntrySynced:
    return EntrySynced(
        workspace_id=entry.key.workspace_id,
        integration_id=integration.connection_id,
        source=entry.key.source,
        source_external_id=entry.key.external_id,
        target=target_of(integration, entry.key.source),
        status=outcome.status,
        operation="none",
        reason=outcome.reason,
        source_updated_at=entry.updated_at,
        synced_at=now,
    )
