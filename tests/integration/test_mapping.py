"""The mapping service on the real Kafka broker and PostgreSQL, against the Everhour and Core
sandboxes (over httpx's ASGI transport): users, projects and tasks, the unmapped-user policies,
direction, deletions, and creating a task exactly once when its answer is lost.

Connections arrive as ``ConnectionChanged`` events on Kafka, as ingest publishes them; entries as
``TimeEntryLogged``. Each test has its own workspace and integration (one shared Everhour
account), so tests neither see nor disturb each other's outputs.
"""

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
from timebridge_common.connections import ConnectionCopies, credential_context
from timebridge_common.crypto import SecretBox
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
from timebridge_common.kafka.dlt import decode_headers, dlt_topic
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
from timebridge_mapping.domain.entries import EntryKey
from timebridge_sandboxes.core import CoreState, create_core_sandbox
from timebridge_sandboxes.everhour import EverhourState, create_everhour_sandbox
from timebridge_sandboxes.faults import Faults, RateLimit
from timebridge_sandboxes.testing import TimeoutTransport

from .conftest import KAFKA, kafka_config, unique
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
    box: SecretBox
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


@pytest.fixture(scope="module")
async def world(
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

    key = SecretBox.generate_key()
    pool = await make_pool(await create_database("mapping-sync"))
    provider, _ = in_memory_tracing("mapping")
    clock = Clock()
    mapping = bootstrap(
        Settings(
            kafka=kafka,
            encryption_key=key,
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
    )
    await mapping.runtime.start()
    transport = httpx.ASGITransport(app=mapping.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mapping") as api:
        yield World(mapping, pool, SecretBox(key), everhour, faults, core, api, clock)
    await mapping.runtime.stop()
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
                # may answer this workspace's entries (its key does not decrypt ours).
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
    core, box = world.core, world.box
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
            credentials_encrypted=box.encrypt(
                service_token, context=credential_context(f"core_{ws}")
            ),
            revision=1,
            changed_at=T0,
        ),
        ConnectionChanged(
            workspace_id=ws,
            connection_id=integration_id,
            provider="everhour",
            status="connected",
            base_url=EVERHOUR_URL,
            credentials_encrypted=box.encrypt(
                EVERHOUR_KEY, context=credential_context(integration_id)
            ),
            settings=IntegrationSettings.model_validate(settings),
            revision=1,
            changed_at=T0,
        ),
    ]
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


async def test_a_core_entry_is_mapped_to_everhour_ids_by_email_and_title(world: World) -> None:
    ws = await workspace(world)
    ann = ws.core_user("Ann", f"Ann.Lee@{ws.id}.Test")
    everhour_ann = ws.everhour_user("Ann Lee", f"ann.lee@{ws.id}.test")
    ticket = ws.ticket("Login  page")
    task = world.everhour.add_task(ws.everhour_project, "login page")
    await world.publish(ws.entry("te_1", ann, ticket=ticket))

    [mapped] = await ws.outputs(1)
    assert isinstance(mapped, EntryMapped)
    assert (mapped.integration_id, mapped.source, mapped.target, mapped.operation) == (
        ws.integration_id,
        "core",
        "everhour",
        "upsert",
    )
    assert (mapped.user_mapped_by, mapped.task_mapped_by) == ("email", "title")
    assert mapped.entry.user == UserRef(
        external_id=everhour_ann, email=f"ann.lee@{ws.id}.test", name="Ann Lee"
    )
    assert (mapped.entry.project_external_id, mapped.entry.task_external_id) == (
        ws.everhour_project,
        task,
    )
    assert mapped.entry.duration_seconds == 5400
    assert mapped.source_entry.user == ann
    assert mapped.source_updated_at == T0

    links = (await ws.call("GET", "/task-links")).json()
    assert links == [
        {
            "core_ticket_id": ticket,
            "tracker_task_id": task,
            "tracker_project_id": ws.everhour_project,
            "linked_by": "title",
        }
    ]
    users = (await ws.call("GET", "/user-mappings")).json()
    assert {
        "core_user": {"id": ann.external_id, "email": f"Ann.Lee@{ws.id}.Test", "name": "Ann"},
        "tracker_user": {"id": everhour_ann, "email": f"ann.lee@{ws.id}.test", "name": "Ann Lee"},
        "matched_by": "email",
    } in users["mappings"]


async def test_manual_user_mapping_and_task_link_win(world: World) -> None:
    ws = await workspace(world)
    bob = ws.core_user("Bob", f"bob@{ws.id}.test")
    everhour_bob = ws.everhour_user("Bob", f"bob@{ws.id}.test")
    carl = ws.everhour_user("Carl", f"carl@{ws.id}.test")
    ticket = ws.ticket("Checkout")
    checkout = world.everhour.add_task(ws.everhour_project, "Checkout")
    chosen = world.everhour.add_task(ws.everhour_project, "Payments")

    mapped_user = await ws.call(
        "PUT", f"/user-mappings/{bob.external_id}", json={"tracker_user_id": carl}
    )
    assert mapped_user.status_code == 200, mapped_user.text
    pair = next(
        p for p in mapped_user.json()["mappings"] if p["core_user"]["id"] == bob.external_id
    )
    assert (pair["tracker_user"]["id"], pair["matched_by"]) == (carl, "manual")
    linked = await ws.call("PUT", f"/task-links/{ticket}", json={"tracker_task_id": chosen})
    assert linked.json()["linked_by"] == "manual"
    unknown = await ws.call("PUT", "/task-links/T-other", json={"tracker_task_id": "ev:404"})
    taken = await ws.call("PUT", "/task-links/T-other", json={"tracker_task_id": chosen})
    assert (unknown.status_code, taken.status_code) == (422, 409)

    await world.publish(ws.entry("te_1", bob, ticket=ticket))
    [mapped] = await ws.outputs(1)
    assert isinstance(mapped, EntryMapped)
    assert (mapped.entry.user.external_id, mapped.user_mapped_by) == (carl, "manual")
    assert (mapped.entry.task_external_id, mapped.task_mapped_by) == (chosen, "link")

    # Undone, email and title apply again (the title match is stored as a link); without the
    # project mapping, a ticket without a link maps nowhere.
    removed = [
        await ws.call("DELETE", f"/user-mappings/{bob.external_id}"),
        await ws.call("DELETE", f"/task-links/{ticket}"),
        await ws.call("DELETE", f"/task-links/{ticket}"),
    ]
    assert [r.status_code for r in removed] == [204, 204, 404]
    await world.publish(ws.entry("te_1", bob, ticket=ticket, minute=1))
    await wait_for(lambda: _outbox_has(world, ws, 2))
    assert (await ws.call("DELETE", f"/project-mappings/{ws.core_project}")).status_code == 204
    await world.publish(ws.entry("te_1", bob, ticket=ws.ticket("Refunds"), minute=2))
    _, again, unmapped = await ws.outputs(3)
    assert isinstance(again, EntryMapped)
    assert (again.entry.user.external_id, again.user_mapped_by) == (everhour_bob, "email")
    assert (again.entry.task_external_id, again.task_mapped_by) == (checkout, "title")
    assert isinstance(unmapped, EntrySynced)
    assert (
        unmapped.reason == f"Core project {ws.core_project} is not mapped to any everhour project"
    )


async def _outbox_has(world: World, ws: Workspace, count: int) -> bool:
    return await world.outbox_count(ws.id, "te_1") >= count


async def test_skip_policy_skips_an_unmapped_user(world: World) -> None:
    ws = await workspace(world, unmapped_user_policy="skip")
    zed = ws.core_user("Zed", f"zed@{ws.id}.test")
    await world.publish(ws.entry("te_1", zed, ticket=ws.ticket("Anything")))
    [synced] = await ws.outputs(1)
    assert isinstance(synced, EntrySynced)
    assert (synced.status, synced.operation, synced.target) == ("skipped", "none", "everhour")
    assert synced.integration_id == ws.integration_id
    assert (synced.source, synced.source_external_id, synced.source_updated_at) == (
        "core",
        "te_1",
        T0,
    )
    assert f"no everhour user is mapped to Core user {zed.external_id}" in (synced.reason or "")


async def test_default_user_policy_maps_to_the_default_user(world: World) -> None:
    default = str(world.everhour.add_user("Team bucket", api_key=unique("ek")))
    ws = await workspace(
        world, unmapped_user_policy="default_user", default_tracker_user_id=default
    )
    zed = ws.core_user("Zed", f"zed@{ws.id}.test")
    rule_task = world.everhour.add_task(ws.everhour_project, "General")
    rule = await ws.call(
        "PUT", f"/project-rules/{ws.core_project}", json={"default_task_id": rule_task}
    )
    assert rule.status_code == 200, rule.text
    await world.publish(ws.entry("te_1", zed))
    [mapped] = await ws.outputs(1)
    assert isinstance(mapped, EntryMapped)
    assert (mapped.entry.user.external_id, mapped.user_mapped_by) == (default, "default_user")
    assert (mapped.entry.task_external_id, mapped.task_mapped_by) == (rule_task, "rule")
    rules = (await ws.call("GET", "/project-rules")).json()
    assert rules == [{"core_project_id": ws.core_project, "default_task_id": rule_task}]
    removed = [await ws.call("DELETE", f"/project-rules/{ws.core_project}") for _ in range(2)]
    assert [r.status_code for r in removed] == [204, 404]


async def reconnect(ws: Workspace, box: SecretBox | None = None, **settings: Any) -> Workspace:
    """A new revision of the integration with other settings (credentials encrypted with
    ``box``, the platform key by default), applied by mapping's copy."""
    world = ws.world
    change = ConnectionChanged(
        workspace_id=ws.id,
        connection_id=ws.integration_id,
        provider="everhour",
        status="connected",
        base_url=EVERHOUR_URL,
        credentials_encrypted=(box or world.box).encrypt(
            EVERHOUR_KEY, context=credential_context(ws.integration_id)
        ),
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


async def test_queue_policy_holds_entries_until_the_user_is_mapped(world: World) -> None:
    ws = await workspace(world, unmapped_user_policy="queue")
    zed = ws.core_user("Zed", f"zed@{ws.id}.test")
    target = ws.everhour_user("Zed Everhour", f"z.everhour@{ws.id}.test")
    ticket = ws.ticket("Reports")
    task = world.everhour.add_task(ws.everhour_project, "Reports")
    await world.publish(ws.entry("te_1", zed, ticket=ticket))
    await world.publish(ws.entry("te_2", zed, ticket=ticket))
    await world.publish(ws.entry("te_2", zed, ticket=ticket, minute=1, deleted=True))
    queued = [o for o in by_entry(await ws.outputs(3)) if isinstance(o, EntrySynced)]
    assert [(o.source_external_id, o.status) for o in queued] == [
        ("te_1", "queued"),
        ("te_2", "queued"),
        ("te_2", "skipped"),
    ]
    assert "held until one is" in (queued[0].reason or "")
    assert "deleted" in (queued[2].reason or "")

    held = (await ws.call("GET", "/held-entries")).json()
    assert [(h["external_id"], h["entry"]["user"]["external_id"]) for h in held] == [
        ("te_1", zed.external_id)
    ]
    mapped_user = await ws.call(
        "PUT", f"/user-mappings/{zed.external_id}", json={"tracker_user_id": target}
    )
    assert mapped_user.status_code == 200, mapped_user.text
    [released] = [o for o in await ws.outputs(4) if isinstance(o, EntryMapped)]
    assert (released.source_external_id, released.entry.user.external_id) == ("te_1", target)
    assert (released.user_mapped_by, released.entry.task_external_id) == ("manual", task)
    assert (await ws.call("GET", "/held-entries")).json() == []


async def test_a_users_refresh_that_finds_the_email_releases_held_entries(world: World) -> None:
    ws = await workspace(world, unmapped_user_policy="queue")
    zed = ws.core_user("Zed", f"zed@{ws.id}.test")
    ticket = ws.ticket("Audit log")
    task = world.everhour.add_task(ws.everhour_project, "Audit log")
    await world.publish(ws.entry("te_1", zed, ticket=ticket))
    [queued] = await ws.outputs(1)
    assert isinstance(queued, EntrySynced)
    assert queued.status == "queued"

    # Zed joins Everhour with the same email; nobody maps him by hand.
    everhour_zed = ws.everhour_user("Zed Z.", f"ZED@{ws.id}.test")
    refreshed = await ws.call("POST", "/users/refresh")
    assert refreshed.status_code == 200, refreshed.text
    _, released = await ws.outputs(2)
    assert isinstance(released, EntryMapped)
    assert (released.source_external_id, released.source_updated_at) == ("te_1", T0)
    assert (released.entry.user.external_id, released.user_mapped_by) == (everhour_zed, "email")
    assert released.entry.task_external_id == task
    assert (await ws.call("GET", "/held-entries")).json() == []
    unmapped = (await ws.call("GET", "/user-mappings")).json()["unmapped_core_users"]
    assert zed.external_id not in [u["id"] for u in unmapped]


async def _due_at(world: World, ws: Workspace, entry_id: str) -> dt.datetime | None:
    """The sync slot an entry waits for in mapping's database (None: not waiting)."""
    due_at: dt.datetime | None = await world.pool.fetchval(
        "SELECT due_at FROM scheduled_entries WHERE integration_id = $1 AND workspace_id = $2"
        " AND source = 'core' AND external_id = $3",
        ws.integration_id,
        ws.id,
        entry_id,
    )
    return due_at


async def _scheduler_rounds(world: World, rounds: int) -> None:
    """Wait until the release loop has looked ``rounds`` more times."""
    scheduled = world.mapping.scheduled
    target = scheduled.rounds + rounds

    async def looked() -> bool:
        return scheduled.rounds >= target

    await wait_for(looked)


async def test_an_hourly_integration_syncs_the_latest_core_version_once_per_slot(
    world: World,
) -> None:
    ws = await workspace(world, frequency="hourly")
    ann, everhour_ann = ws.person("Ann")
    ticket = ws.ticket("Billing export")
    task = world.everhour.add_task(ws.everhour_project, "Billing export")
    arrived = world.clock()
    await world.publish(ws.entry("te_1", ann, ticket=ticket))
    edited = ws.entry("te_1", ann, ticket=ticket, minute=3)
    await world.publish(edited.model_copy(update={"entry": edited.entry.model_copy(
        update={"duration_seconds": 6300})}))  # fmt: skip
    key = EntryKey(ws.id, "core", "te_1")

    async def newest_stored() -> bool:
        stored = await world.mapping.store.get(key)
        return stored is not None and stored.updated_at == T0 + dt.timedelta(minutes=3)

    await wait_for(newest_stored)
    due_at = await _due_at(world, ws, "te_1")
    assert due_at is not None
    assert (due_at.minute, due_at.second, due_at.microsecond) == (0, 0, 0)
    assert arrived < due_at <= world.clock() + dt.timedelta(hours=1)
    await _scheduler_rounds(world, 2)
    assert await world.outbox_count(ws.id, "te_1") == 0  # nothing at once, nothing before

    world.clock.offset += due_at - world.clock() + dt.timedelta(seconds=1)
    [mapped] = await ws.outputs(1)
    assert isinstance(mapped, EntryMapped)
    assert mapped.source_updated_at == T0 + dt.timedelta(minutes=3)
    assert (mapped.entry.duration_seconds, mapped.operation) == (6300, "upsert")
    assert (mapped.entry.user.external_id, mapped.entry.task_external_id) == (everhour_ann, task)
    await wait_for(lambda: _released(world, ws, "te_1"))
    await _scheduler_rounds(world, 2)
    assert await world.outbox_count(ws.id, "te_1") == 1


async def _released(world: World, ws: Workspace, entry_id: str) -> bool:
    return await _due_at(world, ws, entry_id) is None


async def test_switching_to_realtime_releases_what_waits_for_a_slot(world: World) -> None:
    ws = await workspace(world, frequency="daily")
    ann, everhour_ann = ws.person("Ann")
    ticket = ws.ticket("Docs")
    world.everhour.add_task(ws.everhour_project, "Docs")
    await world.publish(ws.entry("te_1", ann, ticket=ticket))
    await wait_for(lambda: _due_at(world, ws, "te_1"))
    assert await world.outbox_count(ws.id, "te_1") == 0

    await reconnect(ws, frequency="realtime")
    [mapped] = await ws.outputs(1)
    assert isinstance(mapped, EntryMapped)
    assert (mapped.source_external_id, mapped.entry.user.external_id) == ("te_1", everhour_ann)
    assert await _due_at(world, ws, "te_1") is None
    # Real time from now on: the next change is mapped at once, and only once.
    await world.publish(ws.entry("te_1", ann, ticket=ticket, minute=1))
    _, again = await ws.outputs(2)
    assert isinstance(again, EntryMapped)
    assert again.source_updated_at == T0 + dt.timedelta(minutes=1)
    assert await _due_at(world, ws, "te_1") is None


async def test_a_task_is_created_once_though_its_answer_is_lost_and_the_event_redelivered(
    world: World,
) -> None:
    ws = await workspace(world)
    ann, _ = ws.person("Ann")
    ticket = ws.ticket(
        "Export invoices as PDF",
        description="Customers want PDFs.",
        status="open",
        url=f"https://core.example/{ws.id}/tickets/1",
    )
    event = ws.entry("te_1", ann, ticket=ticket)
    world.faults.lose_next_responses(1, delay_s=5)
    envelope = await world.publish(event)
    await world.publish(event, envelope.event_id)
    await world.publish(ws.entry("te_1", ann, ticket=ticket, minute=1))

    first, second = await ws.outputs(2)
    assert isinstance(first, EntryMapped)
    assert isinstance(second, EntryMapped)
    assert (first.task_mapped_by, second.task_mapped_by) == ("created", "link")
    tasks = [t for t in world.everhour.tasks.values() if t.name == "Export invoices as PDF"]
    assert len(tasks) == 1
    [task] = tasks
    assert first.entry.task_external_id == second.entry.task_external_id == task.id
    assert (task.project, task.section) == (ws.everhour_project, ws.section)
    assert task.description == (
        f"Core ticket {ticket}\nhttps://core.example/{ws.id}/tickets/1\nStatus: open\n\n"
        "Customers want PDFs."
    )
    assert world.faults.lost_responses == 0
    claims = await world.pool.fetchval(
        "SELECT count(*) FROM inbox WHERE event_id = $1", envelope.event_id
    )
    assert (claims, await world.outbox_count(ws.id, "te_1")) == (1, 2)
    links = (await ws.call("GET", "/task-links")).json()
    assert [(link["tracker_task_id"], link["linked_by"]) for link in links] == [
        (task.id, "created")
    ]


async def test_direction_decides_which_entries_are_mapped(world: World) -> None:
    one_way = await workspace(world, direction="core_to_tracker")
    ann, everhour_ann = one_way.person("Ann")
    from_everhour = one_way.entry(
        "4711",
        UserRef(external_id=everhour_ann, email=f"ann@{one_way.id}.test"),
        source="everhour",
        project=one_way.everhour_project,
    )
    await world.publish(from_everhour)
    key = EntryKey(one_way.id, "everhour", "4711")
    await wait_for(lambda: world.mapping.store.get(key))
    staged = await world.pool.fetchval(
        "SELECT count(*) FROM outbox WHERE key = $1", f"{one_way.id}:everhour:4711".encode()
    )
    assert staged == 0

    two_way = await reconnect(one_way, direction="two_way")
    ticket = two_way.ticket("Search")
    task = world.everhour.add_task(two_way.everhour_project, "Search index")
    await two_way.call("PUT", f"/task-links/{ticket}", json={"tracker_task_id": task})
    await world.publish(
        two_way.entry(
            "4712",
            UserRef(external_id=everhour_ann, email=f"ann@{one_way.id}.test"),
            source="everhour",
            project=two_way.everhour_project,
            ticket=task,
        )
    )
    [mapped] = await two_way.outputs(1)
    assert isinstance(mapped, EntryMapped)
    assert (mapped.source, mapped.source_external_id, mapped.target) == (
        "everhour",
        "4712",
        "core",
    )
    assert (mapped.entry.user.external_id, mapped.user_mapped_by) == (ann.external_id, "email")
    assert (mapped.entry.task_external_id, mapped.task_mapped_by) == (ticket, "link")
    assert mapped.entry.project_external_id == two_way.core_project


async def test_a_deletion_is_mapped_as_a_delete_and_an_older_version_never(
    world: World,
) -> None:
    ws = await workspace(world)
    ann, _ = ws.person("Ann")
    ticket = ws.ticket("Onboarding")
    world.everhour.add_task(ws.everhour_project, "Onboarding")
    await world.publish(ws.entry("te_1", ann, ticket=ticket, minute=5))
    await world.publish(ws.entry("te_1", ann, ticket=ticket, minute=9, deleted=True))
    await world.publish(ws.entry("te_1", ann, ticket=ticket, minute=7))
    await world.publish(ws.entry("te_2", ann, ticket=ticket))
    outputs = by_entry(await ws.outputs(3))
    assert [(o.source_external_id, getattr(o, "operation", None)) for o in outputs] == [
        ("te_1", "upsert"),
        ("te_1", "delete"),
        ("te_2", "upsert"),
    ]
    assert await world.outbox_count(ws.id, "te_1") == 2
    stored = await world.mapping.store.get(EntryKey(ws.id, "core", "te_1"))
    assert stored is not None
    assert stored.deleted


async def test_the_api_is_for_the_workspaces_core_admins(world: World) -> None:
    ws = await workspace(world)
    member_token = unique("ct-member")
    world.core.add_user(ws.id, "Max", role="member", token=member_token)
    path = f"{ws.base}/project-mappings"
    anonymous = await world.api.get(path)
    member = await world.api.get(path, headers={"authorization": f"Bearer {member_token}"})
    stranger = await world.api.get(path, headers={"authorization": "Bearer ct-unknown"})
    admin = await ws.call("GET", "/project-mappings")
    assert [r.status_code for r in (anonymous, member, stranger, admin)] == [401, 403, 401, 200]
    assert admin.json() == [
        {"core_project_id": ws.core_project, "tracker_project_id": ws.everhour_project}
    ]
    other = await workspace(world)
    foreign = await world.api.get(
        f"/v1/workspaces/{ws.id}/integrations/{other.integration_id}/project-mappings",
        headers={"authorization": f"Bearer {ws.admin_token}"},
    )
    assert foreign.status_code == 404
    paths = (await world.api.get("/openapi.json")).json()["paths"]
    prefix = "/v1/workspaces/{workspace_id}/integrations/{integration_id}"
    for route in (
        "/project-mappings/{core_project_id}",
        "/project-rules/{core_project_id}",
        "/user-mappings/{core_user_id}",
        "/users/refresh",
        "/task-links/{core_ticket_id}",
        "/held-entries",
    ):
        assert prefix + route in paths


async def test_credentials_it_cannot_decrypt_dead_letter_the_entry_at_once(world: World) -> None:
    ws = await reconnect(await workspace(world), SecretBox(SecretBox.generate_key()))
    ann, _ = ws.person("Ann")
    before = await end_offsets(KAFKA, dlt_topic(TimeEntryLogged.topic()))
    await world.publish(ws.entry("te_1", ann, ticket=ws.ticket("Anything")))

    def ours(records: list[Any]) -> list[dict[str, str]]:
        found = [decode_headers(r.headers) for r in records]
        return [h for h in found if h.get("ce_workspaceid") == ws.id]

    [headers] = ours(await read_topic(KAFKA, before, until=lambda rs: bool(ours(rs))))
    assert (headers["timebridge_dlt-error-class"], headers["kafka_deliveryAttempt"]) == (
        "invalid",
        "1",
    )
    assert "do not decrypt with this service's key" in headers["kafka_dlt-exception-message"]


async def test_the_providers_api_lists_what_is_installed_from_the_profiles(world: World) -> None:
    ws = await workspace(world)
    path = f"/v1/workspaces/{ws.id}/providers"
    member_token = unique("ct-member")
    world.core.add_user(ws.id, "Max", role="member", token=member_token)
    member = await world.api.get(path, headers={"authorization": f"Bearer {member_token}"})
    answer = await world.api.get(path, headers={"authorization": f"Bearer {ws.admin_token}"})
    assert (member.status_code, answer.status_code) == (403, 200)
    by_name = {p["name"]: p for p in answer.json()}
    assert by_name["core"]["kind"] == "home"
    assert by_name["core"]["directions"] == []
    tracker = by_name["everhour"]
    assert (tracker["title"], tracker["kind"], tracker["mapped"]) == ("Everhour", "tracker", True)
    assert "directory" in tracker["capabilities"]
    assert [d["direction"] for d in tracker["directions"] if d["allowed"]] == [
        "two_way",
        "core_to_tracker",
        "tracker_to_core",
    ]
    assert "started_at" not in tracker["kept_fields"]
    assert (tracker["changes"], tracker["units"]) == ("webhooks", "seconds")


async def test_the_trackers_rates_are_read_through_its_directory(world: World) -> None:
    """The sandbox holds no rates (the rates' shapes are tested in libs/providers): the route
    reads them from the tracker with the integration's key and answers its list."""
    ws = await workspace(world)
    answer = await ws.call("GET", "/rates")
    assert (answer.status_code, answer.json()) == (200, [])
    missing = await ws.world.api.get(
        f"/v1/workspaces/{ws.id}/integrations/int_missing/rates",
        headers={"authorization": f"Bearer {ws.admin_token}"},
    )
    assert missing.status_code == 404
