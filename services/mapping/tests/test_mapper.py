"""The mapper's task placement on in-memory fakes: the directory port, connections, a tx.

Fast checks of what the integration tests cover against the sandboxes: a ticket's task is
created once (a lost answer is looked up by title, never created twice), and a provider that
cannot create the task skips the entry with its reason.
"""

import asyncio
import dataclasses
import datetime as dt
import uuid
from typing import Any, cast

import httpx
import pytest
from timebridge_providers.installed import registry
from timebridge_providers.kit.fakes.credentials import FakeCredentialSource
from timebridge_providers.kit.fakes.directory import FakeDirectory
from timebridge_providers.kit.ports.directory import DirectoryTask
from timebridge_providers.kit.registry import Registry
from timebridge_providers.kit.session import Access, Session

from timebridge_common.errors import InvalidMessageError, TransientError
from timebridge_common.events import ConnectionChanged, EntryMapped, TimeEntryFields, UserRef
from timebridge_common.outbound.http import (
    AuthenticationError,
    OutcomeUnknownError,
    RequestBudget,
)
from timebridge_common.refusals import ConflictError
from timebridge_common.testing import sample_connection_changed
from timebridge_mapping.domain.entries import EntryKey, StoredEntry
from timebridge_mapping.domain.mappings import TaskLink
from timebridge_mapping.domain.outcomes import NotMapped
from timebridge_mapping.domain.users import DirectoryUser, UserDirectory
from timebridge_mapping.handlers.directory import Directory
from timebridge_mapping.handlers.mapper import EntryMapper
from timebridge_mapping.handlers.ports import MappingTx
from timebridge_mapping.handlers.providers import Providers
from timebridge_mapping.handlers.setup import Setup

NOW = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
HOME = registry().home().name
TRACKER = "everhour"  # a tracker's profile; its directory is the fake below


class FakeConnections:
    def __init__(self, *connections: ConnectionChanged) -> None:
        self._connections = list(connections)

    async def get(self, connection_id: str) -> ConnectionChanged | None:
        return next((c for c in self._connections if c.connection_id == connection_id), None)

    async def connected(
        self, workspace_id: str, provider: str | None = None
    ) -> list[ConnectionChanged]:
        return [
            c
            for c in self._connections
            if c.workspace_id == workspace_id and provider in (None, c.provider)
        ]

    async def missing(self, what: str) -> TransientError | InvalidMessageError:
        raise AssertionError(f"{what} is missing")


class FakeSessions:
    def __init__(self) -> None:
        self.opened: list[tuple[str, Access]] = []

    def session(self, provider: str, access: Access) -> Session:
        self.opened.append((provider, access))
        return Session(provider, access, httpx.AsyncClient(), RequestBudget(10, 1))


class FakeTx:
    """The part of ``MappingTx`` that placing a Core entry in the tracker uses."""

    def __init__(self, tracker_project: str) -> None:
        self.users = UserDirectory(
            core=(DirectoryUser("u_1", "ann@acme.test"),),
            tracker=(DirectoryUser("1001", "ann@acme.test"),),
        )
        self.project = tracker_project
        self.links: dict[str, TaskLink] = {}
        self.tickets: dict[str, DirectoryTask] = {}

    async def directory(self, integration_id: str) -> UserDirectory:
        return self.users

    async def lock_ticket(self, integration_id: str, ticket_id: str) -> None:
        return None

    async def link_for_ticket(self, integration_id: str, ticket_id: str) -> TaskLink | None:
        return self.links.get(ticket_id)

    async def task_links(self, integration_id: str) -> list[TaskLink]:
        return list(self.links.values())

    async def put_task_link(self, integration_id: str, link: TaskLink) -> None:
        self.links[link.core_ticket_id] = link

    async def cached_ticket(self, *_: Any) -> DirectoryTask | None:
        return None

    async def cache_ticket(self, workspace_id: str, ticket: DirectoryTask, at: Any) -> None:
        self.tickets[ticket.external_id] = ticket

    async def tracker_project(self, integration_id: str, core_project_id: str) -> str | None:
        return self.project if core_project_id == "p_1" else None

    async def rule(self, integration_id: str, core_project_id: str) -> str | None:
        return None


def world(tracker: FakeDirectory) -> tuple[EntryMapper, ConnectionChanged, FakeTx]:
    home = FakeDirectory(HOME, tasks_=[DirectoryTask("T-1", "Fix the login", ("p_1",))])
    providers = Registry(
        [
            dataclasses.replace(registry().get(HOME), directory=lambda s: home),
            dataclasses.replace(registry().get(TRACKER), directory=lambda s: tracker),
        ]
    )
    integration = sample_connection_changed(workspace_id="w1", provider=TRACKER)
    core = sample_connection_changed(workspace_id="w1", connection_id="core_w1", provider=HOME)
    connections = FakeConnections(integration, core)
    owner = FakeCredentialSource()  # what ingest handed the credential owner for each
    for copy in (integration, core):
        owner.put(copy.workspace_id, copy.connection_id, f"secret-of-{copy.connection_id}")
    found = Providers(connections, FakeSessions(), providers, owner=owner)
    directory = Directory(
        cast(Any, None), connections, found, lambda: NOW, asyncio.Event()
    )  # its refresh is not reached: the user matches by email
    return EntryMapper(directory, found, lambda: NOW), integration, FakeTx("ev:p")


def core_entry(ticket: str = "T-1") -> StoredEntry:
    fields = TimeEntryFields(
        user=UserRef(external_id="u_1", email="ann@acme.test"),
        date=NOW.date(),
        duration_seconds=3600,
        task_external_id=ticket,
        billable=True,
    )
    return StoredEntry(EntryKey("w1", HOME, "te_1"), fields, NOW, False, uuid.uuid4())


async def test_a_tickets_missing_task_is_created_titled_like_the_ticket_and_linked() -> None:
    tracker = FakeDirectory(TRACKER)
    mapper, integration, tx = world(tracker)
    mapped = await mapper.map(cast(MappingTx, tx), integration, core_entry())
    assert isinstance(mapped, EntryMapped)
    [created] = tracker.created
    assert (created.name, created.project_ids) == ("Fix the login", ("ev:p",))
    assert created.description.startswith("Core ticket T-1")
    assert mapped.entry.task_external_id == created.external_id
    assert mapped.task_mapped_by == "created"
    assert tx.links["T-1"].linked_by == "created"
    assert "T-1" in tx.tickets  # read from the home directory once, then cached


async def test_the_connections_extra_fields_go_with_its_sessions() -> None:
    mapper, integration, _ = world(FakeDirectory(TRACKER))
    owner = cast(FakeCredentialSource, mapper.providers.owner)
    ws, connection = integration.workspace_id, integration.connection_id
    owner.put(ws, connection, f"secret-of-{connection}", extra={"account_id": "42"})
    await mapper.providers.directory(integration)
    sessions = cast(FakeSessions, mapper.providers.sessions)
    provider, access = sessions.opened[-1]
    assert (provider, access.credential, dict(access.extra)) == (
        TRACKER,
        f"secret-of-{integration.connection_id}",
        {"account_id": "42"},
    )


async def test_with_a_credential_owner_the_access_is_the_owners() -> None:
    """The owner's key (or current OAuth token), URL and fields; the copy's sealed one unused."""
    mapper, integration, _ = world(FakeDirectory(TRACKER))
    owner = FakeCredentialSource()
    owner.put(
        "w1", integration.connection_id, "owners-key", base_url="http://t.test", extra={"a": "1"}
    )
    providers = dataclasses.replace(mapper.providers, owner=owner)
    await providers.directory(integration)
    _, access = cast(FakeSessions, providers.sessions).opened[-1]
    assert (access.base_url, access.credential, dict(access.extra)) == (
        "http://t.test", "owners-key", {"a": "1"},
    )  # fmt: skip
    assert owner.calls == [("w1", integration.connection_id)]
    owner.fail("w1", integration.connection_id, TransientError("owner restarting"))
    with pytest.raises(TransientError):
        await providers.directory(integration)


async def test_a_401_from_a_directory_is_reported_to_the_credential_owner() -> None:
    """So health says "needs re-authorisation" rather than the key failing silently each time."""

    class Revoked(FakeDirectory):
        async def users(self) -> list[Any]:
            raise AuthenticationError(TRACKER, "GET", "/team/users", 401, "revoked")

    mapper, integration, _ = world(Revoked(TRACKER))
    directory = await mapper.providers.directory(integration)
    with pytest.raises(AuthenticationError):
        await directory.users()
    owner = cast(FakeCredentialSource, mapper.providers.owner)
    assert owner.refusals == [
        ("w1", integration.connection_id, f"{TRACKER} answered 401 to GET /team/users"),
    ]


async def test_a_lost_answer_is_looked_up_by_title_and_never_created_twice() -> None:
    tracker = FakeDirectory(TRACKER, lose_next_create=1)
    mapper, integration, tx = world(tracker)
    mapped = await mapper.map(cast(MappingTx, tx), integration, core_entry())
    assert isinstance(mapped, EntryMapped)
    assert len(tracker.created) == 1
    assert mapped.entry.task_external_id == tracker.created[0].external_id


async def test_a_lost_answer_with_no_task_found_is_retried_later() -> None:
    tracker = FakeDirectory(TRACKER, lose_next_create=1)
    mapper, integration, tx = world(tracker)

    async def vanish(project_id: str, **_: Any) -> DirectoryTask:
        raise OutcomeUnknownError("lost before it was applied")

    tracker.create_task = vanish  # type: ignore[method-assign]
    with pytest.raises(OutcomeUnknownError):
        await mapper.map(cast(MappingTx, tx), integration, core_entry())
    assert tx.links == {}


async def test_a_task_the_tracker_cannot_create_skips_the_entry_with_its_reason() -> None:
    tracker = FakeDirectory(TRACKER, cannot_create={"ev:p"})
    mapper, integration, tx = world(tracker)
    outcome = await mapper.map(cast(MappingTx, tx), integration, core_entry())
    assert outcome == NotMapped(
        "skipped",
        f"the task of Core ticket T-1 cannot be created: {TRACKER} cannot create a task in ev:p",
    )
    assert tx.links == {}


async def test_rates_of_a_tracker_that_keeps_none_are_refused_with_the_reason() -> None:
    mapper, integration, _ = world(FakeDirectory(TRACKER))
    setup = Setup(
        cast(Any, None),
        mapper.directory.connections,
        mapper.providers,
        mapper.directory,
        asyncio.Event(),
    )
    with pytest.raises(ConflictError, match="keeps no hourly rates"):
        await setup.rates("w1", integration.connection_id)
