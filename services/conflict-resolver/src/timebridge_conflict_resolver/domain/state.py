"""What the resolver remembers between changes: links, managed records, leases, the review queue.

Plain data, kept by the store port (``handlers/ports.py``) and decided on by the domain.
"""

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Literal

from timebridge_common.events import EntryMapped, EntrySynced, Envelope, TimeEntryFields
from timebridge_conflict_resolver.domain.records import Operation

Origin = Literal["written", "linked"]
ConflictKind = Literal["changed", "locked", "copy_changed"]
ConflictStatus = Literal["open", "resolved", "superseded"]


@dataclass(frozen=True, slots=True)
class Link:
    """A source entry and the target record it landed in, with what was last written for it."""

    source: str
    source_id: str
    target: str
    target_key: str
    written: TimeEntryFields
    """The entry in the target's ids as last applied: its contribution to the record."""
    source_updated_at: dt.datetime
    active: bool
    """False once the source entry was deleted: it no longer contributes."""
    source_entry: TimeEntryFields | None = None
    """The source entry in its own system's ids, as last synced or carried back to: the
    baseline that tells an edit made there from Timebridge's own (``None``: not known, a link
    from before this was kept)."""


@dataclass(frozen=True, slots=True)
class TargetRecord:
    """A target record Timebridge manages: written by it, or linked as the same work."""

    system: str
    key: str
    target_id: str | None
    confirmed: TimeEntryFields | None
    """The record as last confirmed by a read; ``None``: confirmed absent."""
    confirmed_at: dt.datetime | None
    origin: Origin


@dataclass(frozen=True, slots=True)
class Lease:
    """A write lease on one target record, as it was before this attempt took it."""

    key: str
    owner: uuid.UUID
    operation: Operation | None
    planned: TimeEntryFields | None
    target_id: str | None = None
    """The record's id in its system, once known (a create's only after the system answered)."""


class Leases(dict[str, Lease]):
    """The leases that were there before an attempt took its own (by key), and ``first``: the
    keys no attempt had ever leased before (recorded with the lease, in the same statement, and
    never forgotten), so no write of them can have been planned or sent before this one."""

    first: frozenset[str]

    def __init__(self, found: dict[str, Lease], first: frozenset[str] = frozenset()) -> None:
        super().__init__(found)
        self.first = first


@dataclass(frozen=True, slots=True)
class ConflictItem:
    """An entry in the review queue: the change, both versions, and why it waits."""

    conflict_id: uuid.UUID
    workspace_id: str
    integration_id: str
    kind: ConflictKind
    reason: str
    event: EntryMapped
    cause: Envelope
    source_version: TimeEntryFields | None
    target_version: TimeEntryFields | None
    target_external_id: str | None
    status: ConflictStatus = "open"
    resolution: str | None = None
    created_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Completion:
    """Everything one decision about ``event`` changes, committed in one transaction.

    ``claim`` is the inbox claim of the event decided on (none for a resolution through the
    API); ``leases`` how many write leases ``owner`` must still hold, which the commit releases;
    ``resolving`` the conflict a person resolved and the system whose version they kept.
    """

    owner: uuid.UUID
    event: EntryMapped
    claim: tuple[str, Envelope] | None = None
    leases: int = 0
    link: Link | None = None
    targets: tuple[TargetRecord, ...] = ()
    conflict: ConflictItem | None = None
    resolving: tuple[uuid.UUID, str] | None = None
    outcome: tuple[EntrySynced, Envelope] | None = None
