"""The conflict-resolver writes a Core entry into Harvest with no Harvest code of its own.

The same service as for Everhour, on real Kafka and Postgres, against the Harvest sandbox: the
registry offers Harvest's entry store, its profile says one record per entry (so each Core entry
gets its own Harvest entry, found again by its external reference), and the connection's account
names the Harvest account. The resolver's changes are handed to its ``EntryMapped`` handler.
"""

import contextlib
import dataclasses
import datetime as dt
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from timebridge_common.config import DlqLimitConfig
from timebridge_common.events import (
    ConnectionChanged,
    EntryMapped,
    EntrySynced,
    Envelope,
    IntegrationSettings,
    TimeEntryFields,
    UserRef,
)
from timebridge_common.testing import in_memory_tracing, position_group_at_end
from timebridge_conflict_resolver.bootstrap import ConflictResolver, bootstrap
from timebridge_conflict_resolver.config import Settings
from timebridge_sandboxes.core import CoreState, create_core_sandbox
from timebridge_sandboxes.faults import RateLimit
from timebridge_sandboxes.harvest import create_harvest_sandbox
from timebridge_sandboxes.harvest_state import HarvestState

from .conftest import KAFKA, kafka_config, unique
from .credential_owner import OWNER_SETTINGS, Owner, hold, start_tracker_owner
from .sandbox_sessions import SandboxSessions

HARVEST_URL = "http://harvest.sandbox/v2"
CORE_URL = "http://core.sandbox"
TOKEN = "harvest-resolver-token"
DAY = dt.date(2026, 11, 21)
_clock = itertools.count(1)


def later() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(hours=1, seconds=next(_clock))


@dataclasses.dataclass
class World:
    harvest: HarvestState
    resolver: ConflictResolver
    owner: Owner
    user: int
    project: int
    task: int
    workspace: str = ""
    integration: str = ""

    async def connect(
        self, connection_id: str, provider: str, url: str, secret: str, **more: Any
    ) -> None:
        event = ConnectionChanged(
            workspace_id=self.workspace,
            connection_id=connection_id,
            provider=provider,
            status="connected",
            base_url=url,
            revision=1,
            changed_at=dt.datetime.now(dt.UTC),
            **more,
        )
        # What ingest does: the secret (and the connection's fields) to the owner.
        await hold(
            self.owner, self.workspace, connection_id, provider, secret,
            base_url=url, extra=more.get("extra"),
        )  # fmt: skip
        await self.resolver.connections.apply(
            "it", Envelope.for_event(event, producer="ingest"), event
        )

    def core_entry(self, entry_id: str, seconds: int, **more: Any) -> EntryMapped:
        """Ann's Core entry mapped to Harvest (her Harvest user, project and task)."""
        entry = TimeEntryFields(
            user=UserRef(external_id=str(self.user), email="ann@acme.test"),
            project_external_id=str(self.project),
            task_external_id=str(self.task),
            date=DAY,
            duration_seconds=seconds,
            notes="Fixing the login page",
            billable=True,
            **more,
        )
        return EntryMapped(
            workspace_id=self.workspace,
            integration_id=self.integration,
            source="core",
            source_external_id=entry_id,
            target="harvest",
            operation="upsert",
            entry=entry,
            source_entry=entry.model_copy(update={"user": UserRef(external_id="u_1")}),
            source_updated_at=later(),
            user_mapped_by="email",
            task_mapped_by="link",
        )

    async def sync(
        self, event: EntryMapped, envelope: Envelope | None = None
    ) -> EntrySynced | None:
        envelope = envelope or Envelope.for_event(event, producer="mapping")
        return await self.resolver.syncer.on_entry_mapped(envelope, event)

    def entries(self) -> list[Any]:
        return [e for e in self.harvest.entries.values() if e.external_reference is not None]


@pytest.fixture(scope="module")
async def world(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> AsyncIterator[World]:
    kafka = kafka_config().model_copy(update={"group_prefix": f"{kafka_config().group_prefix}-rh"})
    now_on = [t for t in topics if not t.startswith(ConnectionChanged.topic())]
    await position_group_at_end(KAFKA, f"{kafka.group_prefix}-conflict-resolver", now_on)
    harvest = HarvestState()
    user = harvest.add_user("Ann", "Example", "ann@acme.test", token=TOKEN)
    project = harvest.add_project(harvest.add_client("Acme"), "Website")
    task = harvest.add_task("Development")
    harvest.assign(project, task, billable=True)
    core = CoreState()
    apps = {
        "harvest": create_harvest_sandbox(harvest, rate_limit=RateLimit(10**6, 15)),
        "core": create_core_sandbox(core, rate_limit=RateLimit(10**6, 1)),
    }
    stack = contextlib.AsyncExitStack()
    owner = await start_tracker_owner(
        stack, create_database, make_pool, "resolver-harvest-credentials", kafka=kafka
    )
    resolver = bootstrap(
        Settings(
            kafka=kafka,
            dlq_limit=DlqLimitConfig(max_invalid_ratio=1, max_consecutive=10**9),
            **OWNER_SETTINGS,
        ),
        pool=await make_pool(await create_database("resolver-harvest")),
        tracer_provider=in_memory_tracing("conflict-resolver")[0],
        clients=SandboxSessions.of_apps(apps),
        credentials=owner.source,
    )
    await resolver.runtime.start()
    world = World(harvest, resolver, owner, user, project, task)
    world.workspace, world.integration = unique("ws"), unique("int")
    core.add_service_token(world.workspace, "core-service")
    await world.connect(f"core_{world.workspace}", "core", CORE_URL, "core-service")
    await world.connect(
        world.integration,
        "harvest",
        HARVEST_URL,
        TOKEN,
        account={"user_id": str(user)},
        extra={"account_id": harvest.account_id},  # its connection field, as ingest sends it
        settings=IntegrationSettings(),
    )
    yield world
    await resolver.runtime.stop()
    await stack.aclose()


async def test_a_core_entry_becomes_a_harvest_entry_updated_and_deleted_by_key(
    world: World,
) -> None:
    first = world.core_entry("te_1", 5400)
    envelope = Envelope.for_event(first, producer="mapping")

    created = await world.sync(first, envelope)
    again = await world.sync(first, envelope)
    [entry] = world.entries()
    updated = await world.sync(
        first.model_copy(
            update={
                "entry": first.entry.model_copy(update={"duration_seconds": 7200}),
                "source_updated_at": later(),
            }
        )
    )
    hours_after_update = entry.hours
    deleted = await world.sync(
        first.model_copy(update={"operation": "delete", "source_updated_at": later()})
    )

    assert created is not None
    assert (created.status, created.operation) == ("synced", "create")
    assert created.target_external_id == str(entry.id)
    assert again is None  # a redelivery: nothing written, nothing published
    assert entry.external_reference is not None
    assert entry.external_reference["id"] == "core:te_1"
    assert (entry.user_id, entry.project_id, entry.task_id) == (
        world.user,
        world.project,
        world.task,
    )
    assert updated is not None
    assert (updated.status, updated.operation) == ("synced", "update")
    assert hours_after_update == 2.0
    assert deleted is not None
    assert (deleted.status, deleted.operation) == ("synced", "delete")
    assert world.entries() == []


async def test_two_core_entries_of_one_task_and_day_stay_two_harvest_entries(
    world: World,
) -> None:
    a, b = world.core_entry("te_2", 1800), world.core_entry("te_3", 3600)

    for event in (a, b):
        outcome = await world.sync(event)
        assert outcome is not None
        assert (outcome.status, outcome.operation) == ("synced", "create")

    by_reference = {e.external_reference["id"]: e.hours for e in world.entries()}
    assert by_reference == {"core:te_2": 0.5, "core:te_3": 1.0}


async def test_a_locked_harvest_entry_waits_for_review(world: World) -> None:
    first = world.core_entry("te_4", 3600)
    await world.sync(first)
    [entry] = [e for e in world.entries() if e.external_reference["id"] == "core:te_4"]
    world.harvest.lock(entry.id)

    locked = await world.sync(
        first.model_copy(
            update={
                "entry": first.entry.model_copy(update={"duration_seconds": 60}),
                "source_updated_at": later(),
            }
        )
    )

    assert locked is not None
    assert locked.status == "conflict"
    assert "harvest refused the update: the record is locked or invoiced" in (locked.reason or "")
    assert entry.hours == 1.0
