"""The mapping service's view of a source entry: the newest version it has seen."""

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Literal

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


Unchanged = Literal["duplicate", "stale"]


def apply_changes(
    held: Mapping[EntryKey, StoredEntry],
    claimed: Set[uuid.UUID],
    changes: Sequence[tuple[uuid.UUID, TimeEntryLogged]],
) -> list[StoredEntry | Unchanged]:
    """``apply_change`` over a batch, in order: per change the new version, or why there is none.

    ``held`` is what is stored for the batch's keys, ``claimed`` the event ids the inbox claimed
    for this batch: any other id was processed before, and an id seen twice in the batch counts
    once. Each key's versions build on the one before (per-key order within the batch).
    """
    current = dict(held)
    fresh = set(claimed)
    decided: list[StoredEntry | Unchanged] = []
    for event_id, event in changes:
        if event_id not in fresh:
            decided.append("duplicate")
            continue
        fresh.discard(event_id)
        key = key_of(event)
        entry = apply_change(current.get(key), event, event_id)
        if entry is None:
            decided.append("stale")
            continue
        current[key] = entry
        decided.append(entry)
    return decided
