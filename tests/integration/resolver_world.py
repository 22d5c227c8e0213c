"""The conflict-resolver's rig for ``test_conflict_resolver*``: one resolver on real Kafka and
Postgres, the Everhour and Core sandboxes on fake time, and one workspace per scenario
(:func:`setup`).
"""

import contextlib
import datetime as dt
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
from timebridge_providers.core.client import CoreClient
from timebridge_providers.everhour.client import EverhourClient

from timebridge_common.config import DlqLimitConfig, RetryConfig
from timebridge_common.crypto import SecretBox
from timebridge_common.events import (
    ConnectionChanged,
    EntryMapped,
    EntrySynced,
    Envelope,
    IntegrationSettings,
    TimeEntryFields,
    UserRef,
)
from timebridge_common.outbound.http import RequestBudget, RetryPolicy
from timebridge_common.testing import (
    in_memory_tracing,
    position_group_at_end,
    sample_entry_mapped,
)
from timebridge_conflict_resolver.bootstrap import ConflictResolver, bootstrap
from timebridge_conflict_resolver.config import Settings
from timebridge_sandboxes.core import CoreState, create_core_sandbox
from timebridge_sandboxes.everhour import EverhourState, create_everhour_sandbox
from timebridge_sandboxes.faults import WRITE_METHODS, Faults, RateLimit
from timebridge_sandboxes.testing import FakeTime, TimeoutTransport

from .conftest import KAFKA, kafka_config, unique
from .credential_owner import OWNER_SETTINGS, Owner, hold, start_tracker_owner
from .platform import Lease
from .resolver_entries import on_clients

EVERHOUR_URL = "http://everhour.sandbox"
CORE_URL = "http://core.sandbox"
EVERHOUR_KEY = "ek-resolver-admin"
DAY = dt.date(2026, 11, 21)
UNLIMITED = 1_000_000
_clock = itertools.count(1)


def later() -> dt.datetime:
    """A source version newer than anything before it (and than the sandboxes' records)."""
    return dt.datetime.now(dt.UTC) + dt.timedelta(hours=1, seconds=next(_clock))


class AnswerLostAfterWrite(httpx.AsyncBaseTransport):
    """Core applies the next ``world.core_unanswered_writes`` writes, then a proxy in front of it
    answers ``503``: the client cannot tell that the write happened (the sandbox's own 5xx fault
    refuses before applying)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, world: "World") -> None:
        self.inner = inner
        self.world = world

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method in WRITE_METHODS and self.world.core_unanswered_writes > 0:
            self.world.core_unanswered_writes -= 1
            await response.aread()
            return httpx.Response(503, json={"error": {"code": "unavailable"}}, request=request)
        return response


@dataclass
class World:
    everhour: EverhourState
    faults: Faults
    core: CoreState
    core_faults: Faults
    time: FakeTime
    box: SecretBox
    ann: int
    project: str
    everhour_app: Any
    core_app: Any
    resolver: ConflictResolver = field(init=False)
    owner: Owner = field(init=False)
    """The credential owner: each setup's Everhour key and Core token are held there."""
    core_timeout_s: float = 30.0
    core_unanswered_writes: int = 0
    after_everhour_write: Callable[[], None] | None = None
    """Someone else's change landing between a write and its read-back."""

    def everhour_client(self, base_url: str, key: str) -> EverhourClient:
        """On fake time; a served sandbox (a real socket) gets a short timeout instead."""
        budget = RequestBudget(20, 10, clock=self.time.clock, sleep=self.time.sleep)
        retry = RetryPolicy(max_attempts=3, sleep=self.time.sleep, rng=lambda: 0.5)
        if base_url != EVERHOUR_URL:
            return EverhourClient(base_url, key, budget=budget, retry=retry, timeout_s=1.0)

        async def after_write(response: httpx.Response) -> None:
            request = response.request
            writes = request.method in {"POST", "PUT"} and request.url.path.endswith("/time")
            if writes and response.is_success and self.after_everhour_write is not None:
                self.after_everhour_write()

        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.everhour_app),
            event_hooks={"response": [after_write]},
        )
        return EverhourClient(base_url, key, http=http, budget=budget, retry=retry)

    def core_client(self, base_url: str, token: str) -> CoreClient:
        """On fake time, with a real read timeout, so a held answer is lost as over a socket."""
        transport = TimeoutTransport(self.core_app, self.core_timeout_s)
        http = httpx.AsyncClient(transport=AnswerLostAfterWrite(transport, self))
        return CoreClient(
            base_url,
            token,
            http=http,
            budget=RequestBudget(10, 1, clock=self.time.clock, sleep=self.time.sleep),
            retry=RetryPolicy(max_attempts=3, sleep=self.time.sleep, rng=lambda: 0.5),
        )

    def api(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.resolver.app)
        return httpx.AsyncClient(transport=transport, base_url="http://resolver")


_WORLD: Lease[World] = Lease()


@pytest.fixture(scope="module")
async def world(
    request: pytest.FixtureRequest,
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> AsyncIterator[World]:
    """One resolver for every ``test_conflict_resolver*`` module (leased: started once)."""
    yield await _WORLD.take(lambda: running_world(topics, create_database, make_pool))
    await _WORLD.release(request, world)


@contextlib.asynccontextmanager
async def running_world(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> AsyncIterator[World]:
    kafka = kafka_config()
    # Like a new deployment, the resolver reads the connection copies from the start: it then
    # knows other runs' integrations too, whose changes on the shared topics fail as invalid
    # (credentials under another key) instead of waiting forever for a copy never published
    # after it started. They may be dead-lettered; the limit must not stop the service for it.
    now_on = [t for t in topics if not t.startswith(ConnectionChanged.topic())]
    await position_group_at_end(KAFKA, f"{kafka.group_prefix}-conflict-resolver", now_on)
    everhour, faults, core, core_faults = EverhourState(), Faults(), CoreState(), Faults()
    ann = everhour.add_user("Ann", api_key=EVERHOUR_KEY, email="ann@acme.test")
    key = SecretBox.generate_key()
    world = World(
        everhour,
        faults,
        core,
        core_faults,
        FakeTime(),
        SecretBox(key),
        ann,
        everhour.add_project("Website"),
        create_everhour_sandbox(everhour, faults, rate_limit=RateLimit(UNLIMITED, 10)),
        create_core_sandbox(core, core_faults, rate_limit=RateLimit(UNLIMITED, 1)),
    )
    tracing, _ = in_memory_tracing("conflict-resolver")
    stack = contextlib.AsyncExitStack()
    world.owner = await start_tracker_owner(
        stack, create_database, make_pool, "resolver-credentials", kafka=kafka
    )
    world.resolver = resolver = bootstrap(
        Settings(
            kafka=kafka,
            **OWNER_SETTINGS,
            retry=RetryConfig(max_attempts=3, initial_backoff_s=0.05, max_backoff_s=0.5),
            dlq_limit=DlqLimitConfig(max_invalid_ratio=1, max_consecutive=10**9),
        ),
        pool=await make_pool(await create_database("conflict-resolver")),
        tracer_provider=tracing,
        entries=on_clients(world.everhour_client, world.core_client),
        core=world.core_client,
        credentials=world.owner.source,
    )
    await resolver.runtime.start()
    yield world
    await resolver.runtime.stop()
    await stack.aclose()


@dataclass
class Setup:
    """One workspace with its Core and one Everhour integration, and a fresh Everhour task."""

    world: World
    workspace: str
    integration: str
    task: str
    admin_token: str
    member_token: str
    core_user: str
    core_project: str
    ticket: str
    revision: int = 1

    async def connect(
        self,
        connection_id: str,
        provider: str,
        url: str,
        secret: str,
        status: str = "connected",
        **extra: Any,
    ) -> None:
        event = ConnectionChanged(
            workspace_id=self.workspace,
            connection_id=connection_id,
            provider=provider,
            status=status,
            base_url=url,
            revision=self.revision,
            changed_at=dt.datetime.now(dt.UTC),
            **extra,
        )
        self.revision += 1
        # What ingest does: the secret to the owner (forgotten on disconnect), no secret on Kafka.
        if status == "connected":
            await hold(
                self.world.owner, self.workspace, connection_id, provider, secret, base_url=url
            )
        else:
            await self.world.owner.source.delete(self.workspace, connection_id)
        envelope = Envelope.for_event(event, producer="ingest")
        await self.world.resolver.connections.apply("it", envelope, event)

    async def policy(
        self, policy: str, *, url: str = EVERHOUR_URL, direction: str = "two_way"
    ) -> None:
        settings = IntegrationSettings(conflict_policy=policy, direction=direction)
        await self.connect(self.integration, "everhour", url, EVERHOUR_KEY, settings=settings)

    def core_entry(self, entry_id: str, seconds: int, notes: str = "", **more: Any) -> EntryMapped:
        """A Core entry mapped to Everhour: Ann on this setup's task."""
        fields = sample_entry_mapped().entry.model_copy(
            update={
                "user": UserRef(external_id=str(self.world.ann), email="ann@acme.test"),
                "project_external_id": self.world.project,
                "task_external_id": self.task,
                "duration_seconds": seconds,
                "notes": notes,
                **more,
            }
        )
        return sample_entry_mapped(
            workspace_id=self.workspace,
            integration_id=self.integration,
            source_external_id=entry_id,
            entry=fields,
            source_entry=fields.model_copy(
                update={"user": UserRef(external_id=self.core_user, email="ann@acme.test")}
            ),
            source_updated_at=later(),
        )

    def everhour_record(self, record_id: int, seconds: int, notes: str = "") -> EntryMapped:
        """An Everhour record mapped to Core: the ticket of this setup's task."""
        everhour = TimeEntryFields(
            user=UserRef(external_id=str(self.world.ann), email="ann@acme.test"),
            project_external_id=self.world.project,
            task_external_id=self.task,
            date=DAY,
            duration_seconds=seconds,
            notes=notes,
            billable=True,
        )
        core = everhour.model_copy(
            update={
                "user": UserRef(external_id=self.core_user, email="ann@acme.test"),
                "project_external_id": self.core_project,
                "task_external_id": self.ticket,
            }
        )
        return sample_entry_mapped(
            workspace_id=self.workspace,
            integration_id=self.integration,
            source="everhour",
            source_external_id=str(record_id),
            target="core",
            entry=core,
            source_entry=everhour,
            source_updated_at=later(),
        )

    async def sync(self, event: EntryMapped, envelope: Envelope | None = None) -> EntrySynced:
        outcome = await self.world.resolver.syncer.on_entry_mapped(
            envelope or Envelope.for_event(event, producer="mapping"), event
        )
        assert outcome is not None
        return outcome

    async def record(self, date: dt.date = DAY) -> Any:
        async with self.world.everhour_client(EVERHOUR_URL, EVERHOUR_KEY) as client:
            return await client.find_time(self.task, date, self.world.ann)

    async def edit_in_everhour(self, seconds: int, comment: str | None = None) -> None:
        """Someone changes the record in Everhour itself."""
        async with self.world.everhour_client(EVERHOUR_URL, EVERHOUR_KEY) as client:
            await client.update_time(
                self.task, seconds=seconds, date=DAY, user_id=self.world.ann, comment=comment
            )

    def log_in_core(self, seconds: int, notes: str = "", **fields: Any) -> str:
        """Ann logs time in Core on this setup's ticket (the entry exists in the Core sandbox)."""
        return self.world.core.add_entry(
            self.workspace,
            self.core_user,
            fields.pop("date", DAY),
            seconds,
            project_id=self.core_project,
            ticket_id=self.ticket,
            notes=notes,
            **fields,
        )

    async def edit_in_core(self, entry_id: str, **fields: Any) -> None:
        """Someone changes the entry in Core's UI (the sandbox's admin API)."""
        transport = httpx.ASGITransport(app=self.world.core_app)
        async with httpx.AsyncClient(transport=transport, base_url=CORE_URL) as core:
            answer = await core.patch(f"/_sandbox/time-entries/{entry_id}", json=fields)
            assert answer.status_code == 200, answer.text

    def core_sighting(self, entry_id: str) -> EntryMapped:
        """What mapping publishes for the Core entry as the Core sandbox has it now."""
        entry = self.world.core.entries[entry_id]
        user = self.world.core.users[entry.user_id]
        as_core = TimeEntryFields(
            user=UserRef(external_id=entry.user_id, email=user.email, name=user.name),
            project_external_id=entry.project_id,
            task_external_id=entry.ticket_id,
            date=entry.date,
            started_at=entry.started_at,
            timezone=entry.timezone,
            duration_seconds=entry.duration_seconds,
            notes=entry.notes,
            billable=entry.billable,
        )
        as_everhour = as_core.model_copy(
            update={
                "user": UserRef(external_id=str(self.world.ann), email="ann@acme.test"),
                "project_external_id": self.world.project,
                "task_external_id": self.task if entry.ticket_id == self.ticket else None,
            }
        )
        return sample_entry_mapped(
            workspace_id=self.workspace,
            integration_id=self.integration,
            source_external_id=entry_id,
            operation="delete" if entry.deleted_at else "upsert",
            entry=as_everhour,
            source_entry=as_core,
            source_updated_at=later(),
        )

    def review(self, token: str | None = None) -> dict[str, str]:
        return {"authorization": f"Bearer {token or self.admin_token}"}


async def setup(world: World, policy: str = "manual_review", url: str = EVERHOUR_URL) -> Setup:
    workspace = unique("ws")
    admin, member = f"ct-admin-{workspace}", f"ct-member-{workspace}"
    world.core.add_user(workspace, "Core Admin", email="admin@acme.test", role="admin", token=admin)
    core_user = world.core.add_user(workspace, "Ann", email="ann@acme.test", token=member)
    core_project = world.core.add_project(workspace, "Website")
    ticket = world.core.add_ticket(workspace, "Login page", project_id=core_project)
    service = f"ct-service-{workspace}"
    world.core.add_service_token(workspace, service)
    task = world.everhour.add_task(world.project, f"Task of {workspace}")
    s = Setup(world, workspace, unique("int"), task, admin, member, core_user, core_project, ticket)
    await s.connect(f"core_{workspace}", "core", CORE_URL, service)
    await s.policy(policy, url=url)
    return s


def history(record: Any) -> list[str]:
    return [h.action for h in record.history]


def core_entries(world: World, workspace: str) -> list[Any]:
    return [e for e in world.core.entries.values() if e.workspace_id == workspace]


async def conflicts_of(s: Setup) -> list[dict[str, Any]]:
    async with s.world.api() as api:
        listed = await api.get(
            f"/v1/workspaces/{s.workspace}/integrations/{s.integration}/conflicts",
            headers=s.review(),
        )
    result: list[dict[str, Any]] = listed.json()
    return result


async def resolve(s: Setup, conflict_id: str, keep: str) -> httpx.Response:
    async with s.world.api() as api:
        return await api.post(
            f"/v1/workspaces/{s.workspace}/conflicts/{conflict_id}/resolution",
            json={"keep": keep},
            headers=s.review(),
        )


FOREIGN = "is unknown: the connections topic was read to its end without it"
"""What another run's resolver on the shared topics says of our changes: this test applies its
connections straight to this resolver's copies, so any other resolver consuming the topic knows
none of them, dead-letters our change and publishes ``error`` for it under our key."""


def outcomes_for(records: list[Any], key: bytes, *, foreign: bool = False) -> list[EntrySynced]:
    """This resolver's outcomes for ``key`` (with ``foreign``, other runs' too: see
    :data:`FOREIGN`)."""
    found = [EntrySynced.model_validate_json(r.value) for r in records if r.key == key]
    return [o for o in found if foreign or FOREIGN not in (o.reason or "")]


def from_this_run(letter: Any) -> bool:
    """A dead letter of this run's resolver, not another run's (see :data:`FOREIGN`)."""
    return not any(FOREIGN.encode() in value for _, value in letter.headers)
