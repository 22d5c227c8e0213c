"""What the mapping handlers need from the outside world (Postgres, the connection copies, the
providers' sessions); tests route the sessions to the sandboxes."""

import datetime as dt
import uuid
from collections.abc import Callable, Sequence, Set
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from timebridge_providers.kit.ports.directory import DirectoryTask
from timebridge_providers.kit.session import Access, Session

from timebridge_common.auth import IdentityClient
from timebridge_common.errors import InvalidMessageError, TransientError
from timebridge_common.events import ConnectionChanged, Envelope, Event
from timebridge_mapping.domain.entries import EntryKey, StoredEntry
from timebridge_mapping.domain.mappings import HeldEntry, ProjectMapping, ProjectRule, TaskLink
from timebridge_mapping.domain.users import DirectoryUser, UserDirectory


class EntriesTx(Protocol):
    async def get(self, key: EntryKey) -> StoredEntry | None:
        """The entry, locked until the transaction ends (one change of an entry at a time)."""
        ...

    async def save(self, entry: StoredEntry) -> None: ...

    async def publish(self, events: Sequence[tuple[Event, Envelope]]) -> None:
        """Stage events in the outbox: they are published once this transaction commits."""
        ...


class UsersTx(Protocol):
    async def directory(self, integration_id: str) -> UserDirectory: ...

    async def refreshed_at(self, integration_id: str) -> dt.datetime | None: ...

    async def directories(self) -> list[str]:
        """The integrations whose users are cached."""
        ...

    async def replace_directory(
        self,
        integration_id: str,
        core: Sequence[DirectoryUser],
        tracker: Sequence[DirectoryUser],
        at: dt.datetime,
    ) -> None: ...

    async def put_user_mapping(
        self, integration_id: str, core_user_id: str, tracker_user_id: str
    ) -> None:
        """Raises ``ConflictError`` if the tracker user is manually mapped to someone else."""
        ...

    async def delete_user_mapping(self, integration_id: str, core_user_id: str) -> bool: ...


class ProjectsTx(Protocol):
    async def project_mappings(self, integration_id: str) -> list[ProjectMapping]: ...

    async def tracker_project(self, integration_id: str, core_project_id: str) -> str | None: ...

    async def core_project(self, integration_id: str, tracker_project_id: str) -> str | None: ...

    async def put_project_mapping(self, integration_id: str, mapping: ProjectMapping) -> None:
        """Raises ``ConflictError`` if the tracker project is mapped to another Core project."""
        ...

    async def delete_project_mapping(self, integration_id: str, core_project_id: str) -> bool: ...

    async def rules(self, integration_id: str) -> list[ProjectRule]: ...

    async def rule(self, integration_id: str, core_project_id: str) -> str | None: ...

    async def put_rule(self, integration_id: str, rule: ProjectRule) -> None: ...

    async def delete_rule(self, integration_id: str, core_project_id: str) -> bool: ...


class TasksTx(Protocol):
    async def lock_ticket(self, integration_id: str, ticket_id: str) -> None:
        """Serialise, until the transaction ends, everyone who may create this ticket's task."""
        ...

    async def link_for_ticket(self, integration_id: str, ticket_id: str) -> TaskLink | None: ...

    async def link_for_task(self, integration_id: str, task_id: str) -> TaskLink | None: ...

    async def task_links(self, integration_id: str) -> list[TaskLink]: ...

    async def put_task_link(self, integration_id: str, link: TaskLink) -> None:
        """Raises ``ConflictError`` if the task is linked to another ticket."""
        ...

    async def delete_task_link(self, integration_id: str, ticket_id: str) -> bool: ...

    async def cached_ticket(
        self, workspace_id: str, ticket_id: str, fresh_since: dt.datetime
    ) -> DirectoryTask | None: ...

    async def cache_ticket(
        self, workspace_id: str, ticket: DirectoryTask, at: dt.datetime
    ) -> None: ...


class HeldTx(Protocol):
    async def hold(self, held: HeldEntry) -> None: ...

    async def is_held(self, integration_id: str, key: EntryKey) -> bool: ...

    async def unhold(self, integration_id: str, key: EntryKey) -> bool: ...

    async def held_entries(self, integration_id: str) -> list[HeldEntry]: ...

    async def integrations_holding(self) -> list[str]: ...


class ScheduledTx(Protocol):
    """Core entries waiting for their integration's next sync slot (``domain/schedule.py``)."""

    async def schedule(
        self, integration_id: str, key: EntryKey, due_at: dt.datetime, now: dt.datetime
    ) -> None:
        """Wait for ``due_at``; an entry already waiting keeps its earlier slot."""
        ...

    async def unschedule(self, integration_id: str, key: EntryKey) -> bool: ...

    async def is_scheduled(self, integration_id: str, key: EntryKey) -> bool: ...

    async def scheduled_integrations(self) -> list[tuple[str, dt.datetime]]:
        """Integrations with waiting entries, and the earliest slot each waits for."""
        ...

    async def scheduled_keys(
        self, integration_id: str, due_by: dt.datetime | None, after: EntryKey | None, limit: int
    ) -> list[EntryKey]:
        """The integration's waiting entries due by ``due_by`` (all of them for ``None``): at
        most ``limit``, in key order, from the first after ``after``."""
        ...

    async def take_scheduled(
        self, integration_id: str, key: EntryKey, due_by: dt.datetime | None
    ) -> bool:
        """Remove the entry's wait if it is (still) due: whether this transaction took it."""
        ...


class MappingTx(EntriesTx, UsersTx, ProjectsTx, TasksTx, HeldTx, ScheduledTx, Protocol):
    """Everything mapping stores, in one transaction (with the inbox claim, when there is one)."""


class BatchTx(MappingTx, Protocol):
    """One transaction for a batch of consumed events, with their inbox claims."""

    @property
    def claimed(self) -> frozenset[uuid.UUID]:
        """The batch's event ids claimed now (the others were processed before)."""
        ...

    async def get_many(self, keys: Sequence[EntryKey]) -> dict[EntryKey, StoredEntry]:
        """The stored entries of ``keys``, locked until the transaction ends (in key order)."""
        ...

    async def unclaim(self, event_ids: Sequence[uuid.UUID], keep: Set[uuid.UUID]) -> None:
        """Give back this batch's claims of ``event_ids`` (not handled now), except ``keep``."""
        ...

    async def save_many(self, entries: Sequence[StoredEntry]) -> None: ...

    async def held_keys(self, integration_id: str, keys: Sequence[EntryKey]) -> set[EntryKey]:
        """Which of ``keys`` the integration holds (``HeldTx.hold``)."""
        ...

    async def take_scheduled_many(
        self, integration_id: str, keys: Sequence[EntryKey], due_by: dt.datetime | None
    ) -> set[EntryKey]:
        """``take_scheduled`` for each of ``keys`` in one statement: the keys taken."""
        ...

    async def schedule_many(
        self, waits: Sequence[tuple[str, EntryKey, dt.datetime]], now: dt.datetime
    ) -> None:
        """``schedule`` for each (integration, entry, due at)."""
        ...


class MappingStore(Protocol):
    def batch(
        self, consumer: str, envelopes: Sequence[Envelope]
    ) -> AbstractAsyncContextManager[BatchTx]:
        """A transaction claiming ``envelopes`` for ``consumer`` (see ``BatchTx.claimed``)."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[MappingTx]: ...

    async def get(self, key: EntryKey) -> StoredEntry | None: ...


class Connections(Protocol):
    """The local copies of ingest's connections (``timebridge_common.connections``)."""

    async def get(self, connection_id: str) -> ConnectionChanged | None: ...

    async def connected(
        self, workspace_id: str, provider: str | None = None
    ) -> list[ConnectionChanged]: ...

    async def missing(self, what: str) -> TransientError | InvalidMessageError:
        """Transient while the connection may be on its way, invalid once it never will be."""
        ...


class Sessions(Protocol):
    """Where provider sessions come from: the kit's ``ProviderClients`` (one pool per base URL,
    one budget per credential); tests pass one whose transport reaches the sandboxes."""

    def session(self, provider: str, access: Access) -> Session: ...


OpenIdentity = Callable[[str, str], AbstractAsyncContextManager[IdentityClient]]
"""(the home system's base URL, a user's token) -> who the token is (``GET /me``): admin checks."""
