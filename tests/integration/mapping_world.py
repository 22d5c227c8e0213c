"""The mapping service's rig for ``test_mapping*``: one mapping service on real Kafka and
Postgres, the Everhour and Core sandboxes, and one workspace and integration per scenario
(:func:`workspace`).
"""

import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import TopicPartition
from timebridge_providers.core.client import CoreClient

from timebridge_common.config import RetryConfig
from timebridge_common.connections import ConnectionCopies
from timebridge_common.events import (
    ConnectionChanged,
    EntryMapped,
    EntrySynced,
    Envelope,
    IntegrationSettings,
    TimeEntryFields,
    TimeEntryLogged,
    UserRef,
)
from timebridge_common.events.codec import encode
from timebridge_common.kafka.dlt import decode_headers
from timebridge_common.outbound.http import RequestBudget, RetryPolicy
from timebridge_common.testing import (
    end_offsets,
    in_memory_tracing,
    position_group_at_end,
    read_topic,
    wait_for,
)
from timebridge_mapping.bootstrap import Mapping, bootstrap
from timebridge_mapping.config import Settings
from timebridge_sandboxes.core import CoreState, create_core_sandbox
from timebridge_sandboxes.everhour import EverhourState, create_everhour_sandbox
from timebridge_sandboxes.faults import Faults, RateLimit
from timebridge_sandboxes.testing import TimeoutTransport

from .conftest import KAFKA, kafka_config, unique
from .credential_owner import OWNER_SETTINGS, Owner, hold, start_tracker_owner
from .platform import Lease
from .sandbox_sessions import SandboxSessions

EVERHOUR_URL, CORE_URL = "http://everhour.sandbox", "http://core.sandbox"
EVERHOUR_KEY = "ek-mapping-admin"
DAY = dt.date(2026, 11, 20)
T0 = dt.datetime(2026, 11, 20, 17, 0, tzinfo=dt.UTC)
Output = EntryMapped | EntrySynced


class Clock:
    """Mapping's clock: real time, moved forward by the tests that need a sync slot to pass."""

    def __init__(self) -> None:
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset


@dataclass
class World:
    mapping: Mapping
    pool: asyncpg.Pool
    owner: Owner
    """The credential owner: holds each workspace's Core token and Everhour key."""
    everhour: EverhourState
    faults: Faults
    core: CoreState
    api: httpx.AsyncClient
    clock: Clock

    async def publish(self, event: Any, event_id: uuid.UUID | None = None) -> Envelope:
        envelope = Envelope.for_event(event, producer="test", event_id=event_id)
        encoded = encode(event, envelope)
        await self.mapping.runtime.broker.publish(
            encoded.value, encoded.topic, key=encoded.key, headers=encoded.headers
        )
        return envelope

    async def outbox_count(self, workspace: str, entry_id: str) -> int:
        """Events mapping staged for an entry (an entry mapping ignored has none)."""
        count: int = await self.pool.fetchval(
            "SELECT count(*) FROM outbox WHERE key = $1",
            f"{workspace}:core:{entry_id}".encode(),
        )
        return count


_WORLD: Lease[World] = Lease()


@pytest.fixture(scope="module")
async def world(
    request: pytest.FixtureRequest,
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> AsyncIterator[World]:
    """One mapping service for every ``test_mapping*`` module (leased: started once)."""
    yield await _WORLD.take(lambda: running_world(topics, create_database, make_pool))
    await _WORLD.release(request, world)


@contextlib.asynccontextmanager
async def running_world(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> AsyncIterator[World]:
    kafka = kafka_config().model_copy(update={"group_prefix": f"{kafka_config().group_prefix}-m"})
    await position_group_at_end(KAFKA, f"{kafka.group_prefix}-mapping", topics)
    everhour, faults, core = EverhourState(), Faults(), CoreState()
    everhour.add_user("Admin", api_key=EVERHOUR_KEY, email="admin@everhour.test")
    everhour_app = create_everhour_sandbox(everhour, faults, rate_limit=RateLimit(10_000, 10))
    core_app = create_core_sandbox(core, rate_limit=RateLimit(10_000, 1))
    retry = RetryPolicy(max_attempts=2, initial_backoff_s=0.01)
    everhour_http = httpx.AsyncClient(transport=TimeoutTransport(everhour_app, 1.0))
    core_http = httpx.AsyncClient(transport=httpx.ASGITransport(core_app))

    def core_client(base_url: str, token: str) -> CoreClient:
        budget = RequestBudget(10_000, 1)
        return CoreClient(base_url, token, http=core_http, budget=budget, retry=retry)

    stack = contextlib.AsyncExitStack()
    owner = await start_tracker_owner(
        stack, create_database, make_pool, "mapping-credentials", kafka=kafka
    )
    pool = await make_pool(await create_database("mapping-sync"))
    provider, _ = in_memory_tracing("mapping")
    clock = Clock()
    mapping = bootstrap(
        Settings(
            kafka=kafka,
            **OWNER_SETTINGS,
            retry=RetryConfig(max_attempts=3, initial_backoff_s=0.05),
            users_refresh_on_miss_s=0,
            release_interval_s=5,
            schedule_tick_s=0.2,
        ),
        pool=pool,
        tracer_provider=provider,
        clock=clock,
        clients=SandboxSessions({"everhour": everhour_http, "core": core_http}),
        core=core_client,
        credentials=owner.source,
    )
    await mapping.runtime.start()
    transport = httpx.ASGITransport(app=mapping.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mapping") as api:
        yield World(mapping, pool, owner, everhour, faults, core, api, clock)
    await mapping.runtime.stop()
    await stack.aclose()
    await everhour_http.aclose()
    await core_http.aclose()


@dataclass
class Workspace:
    """One Core workspace with an Everhour integration and one mapped project."""

    world: World
    id: str
    integration_id: str
    admin_token: str
    core_project: str
    everhour_project: str
    section: int
    start: dict[TopicPartition, int]

    @property
    def base(self) -> str:
        return f"/v1/workspaces/{self.id}/integrations/{self.integration_id}"

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {self.admin_token}"}
        return await self.world.api.request(method, self.base + path, headers=headers, **kwargs)

    def core_user(self, name: str, email: str | None = None) -> UserRef:
        user_id = self.world.core.add_user(self.id, name, email=email)
        return UserRef(external_id=user_id, email=email, name=name)

    def everhour_user(self, name: str, email: str | None = None) -> str:
        return str(self.world.everhour.add_user(name, api_key=unique("ek"), email=email))

    def person(self, name: str) -> tuple[UserRef, str]:
        """A user of both Core and Everhour, with the same email: (Core user, Everhour id)."""
        email = f"{name.lower()}@{self.id}.test"
        return self.core_user(name, email), self.everhour_user(name, email)

    def ticket(self, title: str, **fields: Any) -> str:
        return self.world.core.add_ticket(self.id, title, project_id=self.core_project, **fields)

    def entry(
        self,
        entry_id: str,
        user: UserRef,
        *,
        ticket: str | None = None,
        minute: int = 0,
        deleted: bool = False,
        source: str = "core",
        project: str | None = None,
    ) -> TimeEntryLogged:
        return TimeEntryLogged(
            workspace_id=self.id,
            integration_id=None if source == "core" else self.integration_id,
            source=source,
            external_id=entry_id,
            entry=TimeEntryFields(
                user=user,
                project_external_id=project or self.core_project,
                task_external_id=ticket,
                date=DAY,
                duration_seconds=5400,
                notes="Pairing",
                billable=True,
            ),
            updated_at=T0 + dt.timedelta(minutes=minute),
            deleted=deleted,
            observed_via="webhook",
        )

    async def outputs(self, count: int) -> list[Output]:
        """The first ``count`` events mapping published for this workspace since it was set up."""

        def ours(records: list[Any]) -> list[Output]:
            found: list[Output] = []
            for r in records:
                headers = decode_headers(r.headers)
                # Only mapping's: a resolver of a test running alongside on the shared broker
                # may answer this workspace's entries.
                if headers.get("ce_workspaceid") != self.id or headers.get("ce_source") != (
                    "/timebridge/mapping"
                ):
                    continue
                model = EntryMapped if r.topic == EntryMapped.topic() else EntrySynced
                found.append(model.model_validate_json(r.value))
            return found

        records = await read_topic(KAFKA, self.start, until=lambda rs: len(ours(rs)) >= count)
        return ours(records)[:count]


def by_entry(outputs: list[Output]) -> list[Output]:
    """Grouped by entry, each entry's in publishing order (entries are on different partitions,
    so only the order within one entry is defined)."""
    return sorted(outputs, key=lambda o: o.source_external_id)


async def workspace(world: World, **settings: Any) -> Workspace:
    ws = unique("ws")
    core = world.core
    admin_token, service_token = unique("ct-admin"), unique("ct-service")
    core.add_user(ws, "Core Admin", email=f"admin@{ws}.test", role="admin", token=admin_token)
    core.add_service_token(ws, service_token)
    integration_id = f"int_{uuid.uuid4().hex[:16]}"
    everhour_project = world.everhour.add_project(f"Website {ws}")
    section = world.everhour.add_section(everhour_project, "Backlog")
    world.everhour.add_section(everhour_project, "Done")
    start = {
        **await end_offsets(KAFKA, EntryMapped.topic()),
        **await end_offsets(KAFKA, EntrySynced.topic()),
    }
    changes = [
        ConnectionChanged(
            workspace_id=ws,
            connection_id=f"core_{ws}",
            provider="core",
            status="connected",
            base_url=CORE_URL,
            revision=1,
            changed_at=T0,
        ),
        ConnectionChanged(
            workspace_id=ws,
            connection_id=integration_id,
            provider="everhour",
            status="connected",
            base_url=EVERHOUR_URL,
            settings=IntegrationSettings.model_validate(settings),
            revision=1,
            changed_at=T0,
        ),
    ]
    # What ingest does on connect: the secrets to the owner, the connections (none) on Kafka.
    await hold(world.owner, ws, f"core_{ws}", "core", service_token, base_url=CORE_URL)
    await hold(world.owner, ws, integration_id, "everhour", EVERHOUR_KEY, base_url=EVERHOUR_URL)
    for change in changes:
        await world.publish(change)
    copies = ConnectionCopies(world.pool)
    await wait_for(lambda: copies.get(integration_id))
    await wait_for(lambda: copies.get(f"core_{ws}"))
    created = Workspace(
        world,
        ws,
        integration_id,
        admin_token,
        core.add_project(ws, "Website"),
        everhour_project,
        section,
        start,
    )
    mapped = await created.call(
        "PUT",
        f"/project-mappings/{created.core_project}",
        json={"tracker_project_id": everhour_project},
    )
    assert mapped.status_code == 200, mapped.text
    return created


async def outbox_has(world: World, ws: Workspace, count: int) -> bool:
    return await world.outbox_count(ws.id, "te_1") >= count


async def reconnect(ws: Workspace, **settings: Any) -> Workspace:
    """A new revision of the integration with other settings, applied by mapping's copy."""
    world = ws.world
    change = ConnectionChanged(
        workspace_id=ws.id,
        connection_id=ws.integration_id,
        provider="everhour",
        status="connected",
        base_url=EVERHOUR_URL,
        settings=IntegrationSettings.model_validate(settings),
        revision=2,
        changed_at=T0,
    )
    await world.publish(change)
    copies = ConnectionCopies(world.pool)

    async def applied() -> bool:
        found = await copies.get(ws.integration_id)
        return found is not None and found.revision == 2

    await wait_for(applied)
    return ws
