"""What the handlers need from the outside world: storage, connections, the target systems."""

import datetime as dt
import uuid
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Literal, Protocol

from timebridge_common.events import (
    EntryMapped,
    EntrySynced,
    Envelope,
    TimeEntryFields,
)
from timebridge_conflict_resolver.domain.matching import Observation
from timebridge_conflict_resolver.domain.records import Observed, Operation, Slot, Write

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


class ConflictClosedError(Exception):
    """The conflict being resolved is no longer open (resolved or superseded meanwhile)."""


class SyncStore(Protocol):
    async def processed(self, consumer: str, event_id: uuid.UUID) -> bool: ...

    async def link(self, integration_id: str, source: str, source_id: str) -> Link | None: ...

    async def target(self, integration_id: str, system: str, key: str) -> TargetRecord | None: ...

    async def counterpart(
        self, integration_id: str, system: str, target_id: str
    ) -> TargetRecord | None:
        """The record Timebridge manages in ``system`` under that id, if any."""
        ...

    async def contributions(self, integration_id: str, system: str, key: str) -> list[Link]:
        """The active links landing in one target record."""
        ...

    async def linked(self, integration_id: str, system: str, entry_id: str) -> bool:
        """Whether an entry of ``system`` is already part of a link (either end)."""
        ...

    async def take_leases(
        self, owner: uuid.UUID, integration_id: str, slots: list[Slot], lease_s: float
    ) -> dict[str, Lease]:
        """Take the write lease on every record, returning the leases that were there.

        Raises :class:`~timebridge_common.errors.TransientError` while another owner holds a
        lease younger than ``lease_s``.
        """
        ...

    async def plan_write(
        self, owner: uuid.UUID, integration_id: str, slot: Slot, write: Write
    ) -> None:
        """Note the write about to be sent on the lease of ``slot``."""
        ...

    async def release(self, owner: uuid.UUID) -> None: ...

    async def complete(self, completion: Completion) -> bool:
        """Commit a decision; ``False`` if its event was already processed."""
        ...

    async def conflict(self, conflict_id: uuid.UUID) -> ConflictItem | None: ...

    async def conflicts(
        self, workspace_id: str, integration_id: str, status: ConflictStatus
    ) -> list[ConflictItem]: ...


class ObservationIndex(Protocol):
    async def for_person_day(
        self, workspace_id: str, person: str, date: dt.date
    ) -> list[Observation]: ...


class TargetSystem(Protocol):
    """One system's records through one connection's client."""

    async def read(self, slot: Slot) -> Observed | None:
        """The record as the system has it now; ``None`` if there is none."""
        ...

    async def write(self, slot: Slot, write: Write) -> str | None:
        """Apply one create, update or delete; the caller reads the record back afterwards.

        Answers the id of the record a create made, where the read-back needs it (a Core entry
        created again after someone deleted it shares its ``external_ref`` with the deleted one).

        Raises ``TransientError`` when the record changed between the read and the write (the
        message is decided again) or the outcome stays unknown after looking it up.
        """
        ...


class Providers(Protocol):
    def target(
        self, system: str, base_url: str, credential: str
    ) -> AbstractAsyncContextManager[TargetSystem]: ...
