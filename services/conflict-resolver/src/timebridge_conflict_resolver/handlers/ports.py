"""What the handlers need from the outside world: the sync store, the observation index, the
connection copies, and each system's records (an ``EntryStore`` opened through the registry).

Each port has an in-memory fake (``adapters/memory.py``; the ``EntryStore`` fake is the kit's)
so the handlers get fast unit tests.
"""

import datetime as dt
import uuid
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from timebridge_providers.kit.ports.entries import EntryStore
from timebridge_providers.kit.session import Access, Session

from timebridge_common.errors import InvalidMessageError, TransientError
from timebridge_common.events import ConnectionChanged, Envelope
from timebridge_conflict_resolver.domain.matching import Observation
from timebridge_conflict_resolver.domain.records import Slot, Write
from timebridge_conflict_resolver.domain.state import (
    Completion,
    ConflictItem,
    ConflictStatus,
    Lease,
    Leases,
    Link,
    TargetRecord,
)


class ConflictClosedError(Exception):
    """The conflict being resolved is no longer open (resolved or superseded meanwhile)."""


@dataclass(frozen=True, slots=True)
class Ask:
    """What one change of a source entry asks the store before it decides (``SyncStore.known``)."""

    integration_id: str
    source: str
    source_id: str
    target: str
    keys: tuple[str, ...]
    """The target records (in ``target``) the change lands in; the store adds the one its
    active link landed in."""
    owner: uuid.UUID | None
    """Set: other owners' live leases on the source record are asked too (``writing``)."""
    lease_s: float
    day: tuple[str, str, dt.date] | None
    """Workspace, person (lower case) and date whose observations are wanted when the entry is
    neither linked nor a copy (the same-work match); ``None``: not wanted."""


@dataclass(frozen=True, slots=True)
class Known:
    """What the store knew of one change's entry, read in one round trip (one snapshot)."""

    link: Link | None
    copy: TargetRecord | None
    """The record Timebridge manages in the source system under the entry's id (``counterpart``)."""
    copy_origins: list[Link]
    """The active links landing in ``copy`` (``contributions``); empty without a copy."""
    leases: list[Lease]
    """Other owners' live leases on the source record (``writing``); empty unless asked."""
    targets: dict[str, TargetRecord | None]
    """Per asked key (and the link's): the managed target record, ``None`` when there is none."""
    contributions: dict[str, list[Link]]
    """Per key of ``targets``: the active links landing in it."""
    same_day: list[Observation] | None
    """The day's observations if asked and the entry is neither linked nor a copy; ``None``:
    not answered here (ask the observation index)."""


class SyncStore(Protocol):
    async def processed(self, consumer: str, event_id: uuid.UUID) -> bool: ...

    async def known(self, ask: Ask) -> Known:
        """The link, copy, leases, target records and contributions one change needs, at once."""
        ...

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
    ) -> Leases:
        """Take the write lease on every record, returning the leases that were there and the
        keys leased for the first time ever (``Leases.first``; a key leased before, even by an
        attempt that failed or was abandoned, is never in it again).

        Raises :class:`~timebridge_common.errors.TransientError` while another owner holds a
        lease younger than ``lease_s``.
        """
        ...

    async def plan_write(
        self, owner: uuid.UUID, integration_id: str, slot: Slot, write: Write
    ) -> None:
        """Note the write about to be sent on the lease of ``slot``."""
        ...

    async def created(
        self, owner: uuid.UUID, integration_id: str, slot: Slot, target_id: str
    ) -> None:
        """Note the id a create of ``slot`` was answered with on its lease."""
        ...

    async def writing(
        self, integration_id: str, system: str, target_id: str, owner: uuid.UUID, lease_s: float
    ) -> list[Lease]:
        """The live leases (younger than ``lease_s``) of owners other than ``owner`` in
        ``system`` that cover the record ``target_id`` or a create whose id is not known yet."""
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


class ObservationStore(ObservationIndex, Protocol):
    async def record(
        self, consumer: str, envelope: Envelope, observation: Observation
    ) -> list[Observation] | None:
        """Store ``observation`` (newest wins) and return the same person's entries that day;
        ``None`` when the event was already processed."""
        ...

    async def record_many(
        self, consumer: str, items: Sequence[tuple[Envelope, Observation]]
    ) -> list[list[Observation] | None]:
        """``record`` for a batch, in one transaction: per item the same person's entries that
        day (as the batch left it), ``None`` when its event was processed before."""
        ...


class Connections(Protocol):
    """This service's copies of the connections (``timebridge_common.connections``)."""

    async def get(self, connection_id: str) -> ConnectionChanged | None: ...

    async def connected(
        self, workspace_id: str, provider: str | None = None
    ) -> list[ConnectionChanged]: ...

    async def missing(self, what: str) -> TransientError | InvalidMessageError:
        """The error to raise for a change naming a connection this copy lacks."""
        ...


class EntryStores(Protocol):
    """Opens one system's records on one connection's access.

    Production opens the registry's ``entries`` capability on a kit session (shared pool and
    request budget per credential); tests may open stores on their own clients or fakes.
    """

    def open(self, system: str, access: Access) -> AbstractAsyncContextManager[EntryStore]: ...


class Sessions(Protocol):
    """Where provider sessions come from: the kit's ``ProviderClients`` (one pool per base URL,
    one budget per credential); tests pass one whose transport reaches the sandboxes."""

    def session(self, provider: str, access: Access) -> Session: ...
