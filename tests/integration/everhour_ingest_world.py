"""The world of the Everhour ingest suites: ingest on real Kafka and Postgres with the Everhour
and Core sandboxes over ASGI, and the credential owner (one per importing module).

The Everhour sandbox answers the client over httpx's ASGI transport and delivers its webhooks to
the ingest app the same way; the Core sandbox answers the admin checks (``GET /me`` with the
caller's token); everything else (database, broker, outbox relay) is real.
"""

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import asyncpg
import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from timebridge_providers.everhour.client import EverhourClient
from timebridge_providers.kit.session import Access, Session

from timebridge_common.crypto import SecretBox
from timebridge_common.outbound.http import RequestBudget, RetryPolicy
from timebridge_common.testing import in_memory_tracing
from timebridge_ingest.adapters.postgres import PostgresConnections
from timebridge_ingest.bootstrap import Ingest, bootstrap
from timebridge_ingest.config import Settings
from timebridge_ingest.domain.connections import Workspace
from timebridge_ingest.handlers.access import ConnectionAccesses
from timebridge_sandboxes.core import CoreState, create_core_sandbox
from timebridge_sandboxes.everhour import EverhourState, create_everhour_sandbox
from timebridge_sandboxes.faults import Faults, RateLimit
from timebridge_sandboxes.testing import FakeTime

from .conftest import kafka_config, unique
from .credential_owner import OWNER_SETTINGS, start_tracker_owner

ADMIN_KEY = "ek-admin-integration"
TEST_TIMEOUT_S = 5.0  # not lower: a loaded CI machine answers the good key slowly too
DAY = dt.date(2026, 11, 20)
NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)


@dataclass
class World:
    ingest: Ingest
    state: EverhourState
    faults: Faults
    sandbox: Any
    pool: asyncpg.Pool
    box: SecretBox
    admin: int
    task: str
    time: FakeTime
    core: CoreState
    spans: InMemorySpanExporter
    requests: list[tuple[str, str]] = field(default_factory=list)
    """(method, path) of every request the sandbox got through :meth:`everhour` clients."""
    access: ConnectionAccesses = field(default_factory=ConnectionAccesses)
    """The credential owner's access, as ingest's own workers get it (for workers built here)."""

    async def recorded(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.requests.append((scope["method"], scope["path"]))
        await self.sandbox(scope, receive, send)

    def everhour(self, key: str = ADMIN_KEY) -> EverhourClient:
        """A client on fake time: waits for Retry-After and backoff cost nothing."""
        session = self.everhour_session(Access("http://everhour.sandbox", key))
        return EverhourClient(
            session.access.base_url,
            key,
            http=session.http,
            budget=session.budget,
            retry=session.retry,
        )

    def everhour_session(self, access: Access) -> Session:
        transport = httpx.ASGITransport(app=self.recorded)
        return Session(
            "everhour",
            access,
            httpx.AsyncClient(transport=transport),
            RequestBudget(20, 10, clock=self.time.clock, sleep=self.time.sleep),
            RetryPolicy(max_attempts=2, sleep=self.time.sleep),
        )

    @property
    def connections(self) -> Any:
        assert self.ingest.connections is not None
        return self.ingest.connections


@pytest.fixture(scope="module")
async def world(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> AsyncIterator[World]:
    state = EverhourState()
    admin = state.add_user("Ann Admin", api_key=ADMIN_KEY, email="ann@acme.test")
    project = state.add_project("Website")
    task = state.add_task(project, "Login page")
    faults = Faults()
    holder: dict[str, World] = {}

    core = CoreState()
    core_app = create_core_sandbox(core, rate_limit=RateLimit(10_000, 1))

    class Sessions:
        """Everhour on the world's fake time; Core straight to its sandbox."""

        def session(self, provider: str, access: Access) -> Session:
            if provider == "everhour":
                return holder["world"].everhour_session(access)
            http = httpx.AsyncClient(transport=httpx.ASGITransport(app=core_app))
            return Session(provider, access, http, RequestBudget(10**6, 1))

    key = SecretBox.generate_key()
    pool = await make_pool(await create_database(unique("ingest-everhour")))  # one per module
    provider, spans = in_memory_tracing("ingest")
    stack = contextlib.AsyncExitStack()
    owner = await start_tracker_owner(
        stack, create_database, make_pool, unique("ingest-everhour-credentials")
    )
    ingest = bootstrap(
        Settings(
            kafka=kafka_config(),
            encryption_key=key,
            **OWNER_SETTINGS,
            admin_token="admin",
            public_base_url="http://ingest.test",
            everhour_api_url="http://everhour.sandbox",
            poll_tick_s=3600,
            connection_test_timeout_s=TEST_TIMEOUT_S,
        ),
        pool=pool,
        tracer_provider=provider,
        clock=lambda: NOW,
        clients=Sessions(),
        credentials=owner.source,
    )
    sandbox = create_everhour_sandbox(
        state,
        faults,
        rate_limit=RateLimit(10_000, 10),
        webhook_transport=httpx.ASGITransport(app=ingest.app),
    )
    world = World(
        ingest, state, faults, sandbox, pool, SecretBox(key), admin, task, FakeTime(), core, spans
    )
    world.access = ConnectionAccesses(owner.source)
    holder["world"] = world
    await ingest.runtime.start()
    yield world
    await ingest.runtime.stop()
    await stack.aclose()


async def new_workspace(world: World) -> str:
    workspace = unique("ws")
    async with PostgresConnections(world.pool, world.box).transaction() as tx:
        await tx.put_workspace(Workspace(workspace, "http://core.sandbox", "core-service-token"))
    return workspace


def records_of(topic: str, key_part: str) -> Callable[[list[Any]], list[Any]]:
    return lambda records: [r for r in records if key_part in (r.key or b"").decode()]


def bearer(token: str | None) -> dict[str, str]:
    return {} if token is None else {"authorization": f"Bearer {token}"}


def ingest_http(world: World) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=world.ingest.app)
    return httpx.AsyncClient(transport=transport, base_url="http://ingest.test")


def core_admin(world: World, workspace: str, role: Literal["admin", "member"] = "admin") -> str:
    """A Core user of ``workspace`` with ``role``; their bearer token."""
    token = unique(f"ct-{role}")
    world.core.add_user(workspace, role.title(), email=f"{token}@acme.test", role=role, token=token)
    return token
