"""The mapping service's view of a source entry: the newest version it has seen."""

import datetime as dt
import uuid
from dataclasses import dataclass

from timebridge_common.events import TimeEntryFields, TimeEntryLogged


@dataclass(frozen=True, slots=True)
class EntryKey:
    workspace_id: str
    source: str
    external_id: str


@dataclass(frozen=True, slots=True)
class StoredEntry:
    key: EntryKey
    fields: TimeEntryFields
    updated_at: dt.datetime
    deleted: bool
    last_event_id: uuid.UUID


def key_of(event: TimeEntryLogged) -> EntryKey:
    return EntryKey(event.workspace_id, event.source, event.external_id)


def apply_change(
    existing: StoredEntry | None, event: TimeEntryLogged, event_id: uuid.UUID
) -> StoredEntry | None:
    """The entry after ``event``, or ``None`` when the event is not newer than what we hold.

    Kafka keeps per-entry order, but a poll may observe a change after a webhook already told us
    about a newer one, and a dead letter may be replayed late: the source's ``updated_at`` is
    the clock that decides. Trackers stamp to the second, so at an equal stamp other content is
    a second edit of that second (it arrived later in the entry's order) and replaces the first.
    """
    if existing is not None and (
        event.updated_at < existing.updated_at
        or event.same_version(existing.updated_at, existing.fields, existing.deleted)
    ):
        return None
    return StoredEntry(
        key=key_of(event),
        fields=event.entry,
        updated_at=event.updated_at,
        deleted=event.deleted,
        last_event_id=event_id,
    )
