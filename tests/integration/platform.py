"""One way to assemble the platform for an integration test: services on fresh databases and
consumer groups of the real Kafka and PostgreSQL, Core and Everhour as in-process sandboxes.

A suite builds a :class:`PlatformBuilder`, seeds its sandboxes' states, adds the services it
needs (each ``add_*`` takes the settings it changes; the rest is the same for every suite) and
runs them with :meth:`PlatformBuilder.running`. Each service's consumer groups start at the end
of the topics, so a suite neither replays earlier runs' records nor waits for them; other suites
share the topics meanwhile, so the services tolerate records they cannot read (:data:`TOLERANT`).

Sandboxes deliver their webhooks to ingest in-process (``LazyApp``: ingest is built after them);
with a :class:`FakeTime`, every client budget, retry and webhook back-off sleeps on it, so a
suite that throttles never waits for real.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, Generic, TypeVar

import asyncpg
import httpx
import pytest
from timebridge_providers.core.client import CoreClient
from timebridge_providers.everhour.client import EverhourClient

from timebridge_common.config import DlqLimitConfig, KafkaConfig
from timebridge_common.crypto import SecretBox
from timebridge_common.events import ConnectionChanged
from timebridge_common.outbound.http import RequestBudget, RetryPolicy
from timebridge_common.runtime import Service
from timebridge_common.testing import LazyApp, in_memory_tracing, position_group_at_end
from timebridge_conflict_resolver.bootstrap import bootstrap as bootstrap_resolver
from timebridge_conflict_resolver.config import Settings as ResolverSettings
from timebridge_contracts.bootstrap import bootstrap as bootstrap_contracts
from timebridge_contracts.config import Settings as ContractsSettings
from timebridge_ingest.bootstrap import bootstrap as bootstrap_ingest
from timebridge_ingest.config import Settings as IngestSettings
from timebridge_invoice_export.bootstrap import bootstrap as bootstrap_invoice_export
from timebridge_invoice_export.config import Settings as InvoiceSettings
from timebridge_mapping.bootstrap import bootstrap as bootstrap_mapping
from timebridge_mapping.config import Settings as MappingSettings
from timebridge_reporting.bootstrap import bootstrap as bootstrap_reporting
from timebridge_reporting.config import Settings as ReportingSettings
from timebridge_sandboxes.core import CoreState, Webhooks, create_core_sandbox
from timebridge_sandboxes.everhour import EverhourState, create_everhour_sandbox
from timebridge_sandboxes.faults import RateLimit
from timebridge_sandboxes.testing import FakeTime

from .conftest import KAFKA, kafka_config
from .credential_owner import OWNER_SETTINGS, Owner, start_tracker_owner
from .resolver_entries import on_clients
from .sandbox_sessions import SandboxSessions

T = TypeVar("T")
CORE_URL = "http://core.sandbox"
EVERHOUR_URL = "http://everhour.sandbox"
TOLERANT = DlqLimitConfig(max_invalid_ratio=1, max_consecutive=10**9)
"""Other runs share the topics: their events name connections whose credentials this run's key
cannot open, and are dead-lettered here; they must not trip the dead-letter limit."""


class PlatformBuilder:
    """The sandboxes, clients, databases and services of one suite's platform.

    ``label`` names its databases and consumer groups; ``budget`` is (requests, per seconds) of
    the Core and Everhour clients; ``retries`` their attempts per request.
    """

    def __init__(
        self,
        label: str,
        create_database: Callable[[str], Awaitable[str]],
        make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
        *,
        dlq_limit: DlqLimitConfig = TOLERANT,
        time: FakeTime | None = None,
        core_budget: tuple[int, float] = (10**6, 1),
        everhour_budget: tuple[int, float] = (10**6, 1),
        retries: int = 3,
        everhour_rate: RateLimit | None = None,
    ) -> None:
        base = kafka_config()
        self.label = label
        self.kafka: KafkaConfig = base.model_copy(
            update={"group_prefix": f"{base.group_prefix}-{label}"}
        )
        self.dlq_limit = dlq_limit
        self.key = SecretBox.generate_key()
        self.time = time
        self._create_database = create_database
        self._make_pool = make_pool
        self._budgets = {"core": core_budget, "everhour": everhour_budget}
        self._retries = retries
        self.core, self.everhour = CoreState(), EverhourState()
        self.apps: dict[str, Any] = {}
        """The services' apps by name, filled as they are added (webhooks reach ingest here)."""
        self.services: dict[str, Service] = {}
        ingest = httpx.ASGITransport(app=LazyApp(self.apps, "ingest"))
        sleep = time.sleep if time is not None else asyncio.sleep
        self.webhooks = Webhooks(transport=ingest, sleep=sleep)
        self.core_app = create_core_sandbox(
            self.core, rate_limit=RateLimit(10**6, 1), webhooks=self.webhooks
        )
        self.everhour_app = create_everhour_sandbox(
            self.everhour,
            rate_limit=everhour_rate or RateLimit(10**6, 10),
            webhook_transport=ingest,
        )
        self.tracker_apps: dict[str, Any] = {"everhour": self.everhour_app}
        """The trackers' sandboxes the services' sessions reach, by provider (add others)."""
        self.ingest_transport = ingest
        """Into ingest, for another tracker's sandbox to post its webhooks."""
        self.owner: Owner | None = None
        """The credential owner of every service added (the real credentials service)."""
        self._owner_stack = contextlib.AsyncExitStack()

    @property
    def common(self) -> dict[str, Any]:
        """The settings every service of this platform shares."""
        return {"kafka": self.kafka, "dlq_limit": self.dlq_limit}

    async def credential_owner(self) -> Owner:
        """The platform's one credential owner, started with the first service that needs it
        (ingest hands it every key; the others ask it for access); stopped after ``running``."""
        if self.owner is None:
            self.owner = await start_tracker_owner(
                self._owner_stack,
                self._create_database,
                self._make_pool,
                f"{self.label}-credentials",
                kafka=self.kafka,
            )
        return self.owner

    async def _owned(self) -> dict[str, Any]:
        """The settings and wiring of a service that calls providers: the owner."""
        return {"credentials": (await self.credential_owner()).source}

    def _budget(self, provider: str) -> RequestBudget:
        limit, per_s = self._budgets[provider]
        if self.time is None:
            return RequestBudget(limit, per_s)
        return RequestBudget(limit, per_s, clock=self.time.clock, sleep=self.time.sleep)

    def _retry(self) -> RetryPolicy:
        if self.time is None:
            return RetryPolicy(max_attempts=self._retries)
        return RetryPolicy(max_attempts=self._retries, sleep=self.time.sleep)

    def core_client(self, base_url: str, token: str) -> CoreClient:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.core_app))
        return CoreClient(
            base_url, token, http=http, budget=self._budget("core"), retry=self._retry()
        )

    def everhour_client(self, base_url: str, key: str) -> EverhourClient:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.everhour_app))
        return EverhourClient(
            base_url, key, http=http, budget=self._budget("everhour"), retry=self._retry()
        )

    def sessions(self) -> SandboxSessions:
        return SandboxSessions.of_apps({"core": self.core_app, **self.tracker_apps})

    async def pool(self, service: str) -> asyncpg.Pool:
        """A pool on a fresh database of its own for ``service``."""
        return await self._make_pool(await self._create_database(f"{self.label}-{service}"))

    async def position_groups(
        self, topics: Iterable[str], *, connections_from_start: bool = False
    ) -> None:
        """Start every added service's consumer group at the end of ``topics``.

        ``connections_from_start`` leaves the compacted connections topic (v2, where ingest
        publishes) to be read from its start, as a new deployment does: a service then knows the
        integrations of other suites running at the same time, and refuses their entries instead
        of waiting for them. The deprecated v1 topic starts at the end like the others (no suite
        publishes there but one reading test; replaying its history would only load the machine).
        """
        after = [
            t for t in topics if not (connections_from_start and t == ConnectionChanged.topic())
        ]
        await asyncio.gather(
            *(
                position_group_at_end(KAFKA, f"{self.kafka.group_prefix}-{name}", after)
                for name in self.services
            )
        )

    def _add(self, name: str, service: Service) -> Service:
        self.services[name] = service
        return service

    async def add_ingest(self, **settings: Any) -> Service:
        return self._add(
            "ingest",
            bootstrap_ingest(
                IngestSettings(
                    **{
                        "encryption_key": self.key,
                        "everhour_api_url": EVERHOUR_URL,
                        "poll_tick_s": 3600,
                        **OWNER_SETTINGS,
                        **self.common,
                        **settings,
                    }
                ),
                pool=await self.pool("ingest"),
                tracer_provider=in_memory_tracing("ingest")[0],
                clients=self.sessions(),
                core=self.core_client,
                **await self._owned(),
            ),
        )

    async def add_mapping(self, **settings: Any) -> Service:
        return self._add(
            "mapping",
            bootstrap_mapping(
                MappingSettings(**{**OWNER_SETTINGS, **self.common, **settings}),
                pool=await self.pool("mapping"),
                tracer_provider=in_memory_tracing("mapping")[0],
                clients=self.sessions(),
                core=self.core_client,
                **await self._owned(),
            ),
        )

    async def add_resolver(self, *, on_sessions: bool = False, **settings: Any) -> Service:
        """Records through this builder's Core and Everhour clients, or with ``on_sessions``
        through the registry's providers on :meth:`sessions` (any tracker in ``tracker_apps``)."""
        wiring: dict[str, Any] = (
            {"clients": self.sessions()}
            if on_sessions
            else {"entries": on_clients(self.everhour_client, self.core_client)}
        )
        return self._add(
            "conflict-resolver",
            bootstrap_resolver(
                ResolverSettings(**{**OWNER_SETTINGS, **self.common, **settings}),
                pool=await self.pool("resolver"),
                tracer_provider=in_memory_tracing("conflict-resolver")[0],
                core=self.core_client,
                **await self._owned(),
                **wiring,
            ),
        )

    async def add_reporting(self, *, mailer: Any = None, **settings: Any) -> Service:
        return self._add(
            "reporting",
            bootstrap_reporting(
                ReportingSettings(**{**self.common, **settings}),
                pool=await self.pool("reporting"),
                tracer_provider=in_memory_tracing("reporting")[0],
                core=self.core_client,
                mailer=mailer,
            ),
        )

    async def add_invoice_export(
        self, settings: InvoiceSettings | None = None, **wiring: Any
    ) -> Service:
        """``settings`` default to the platform's; ``wiring`` is the bootstrap's (tools, ...;
        ``credentials`` defaults to the platform's owner)."""
        chosen = settings or InvoiceSettings(
            **self.common, **OWNER_SETTINGS, encryption_key=self.key
        )
        if "credentials" not in wiring:
            wiring = {**wiring, **await self._owned()}
        return self._add(
            "invoice-export",
            bootstrap_invoice_export(
                chosen,
                pool=await self.pool("invoice-export"),
                tracer_provider=in_memory_tracing("invoice-export")[0],
                core=self.core_client,
                **wiring,
            ),
        )

    async def add_contracts(self, **settings: Any) -> Service:
        return self._add(
            "contracts",
            bootstrap_contracts(
                ContractsSettings(**{**self.common, **settings}),
                pool=await self.pool("contracts"),
                tracer_provider=in_memory_tracing("contracts")[0],
                core=self.core_client,
            ),
        )

    @contextlib.asynccontextmanager
    async def running(
        self, topics: Iterable[str], *, connections_from_start: bool = False
    ) -> AsyncIterator[dict[str, Service]]:
        """Position the added services' groups, start them together, stop them on exit."""
        await self.position_groups(topics, connections_from_start=connections_from_start)
        self.apps.update({name: service.app for name, service in self.services.items()})
        started: list[Service] = []

        async def start(service: Service) -> None:
            await service.runtime.start()
            started.append(service)

        try:
            await asyncio.gather(*(start(service) for service in self.services.values()))
            yield self.services
        finally:
            await asyncio.gather(*(service.runtime.stop() for service in reversed(started)))
            await self._owner_stack.aclose()


class Lease(Generic[T]):
    """One instance of a fixture for every test module that imports it.

    Pytest makes a module-scoped fixture once per module that imports it; a suite split into
    modules by concern would pay its setup once per module. The fixture takes the lease
    instead: the first module opens the instance, the others reuse it, and it closes after the
    last test (of any module) that uses the fixture.
    """

    def __init__(self) -> None:
        self.value: T | None = None
        self._stack: contextlib.AsyncExitStack | None = None

    async def take(self, opened: Callable[[], contextlib.AbstractAsyncContextManager[T]]) -> T:
        if self.value is None:
            stack = contextlib.AsyncExitStack()
            try:
                self.value = await stack.enter_async_context(opened())
            except BaseException:
                await stack.aclose()
                raise
            self._stack = stack
        return self.value

    async def release(self, request: pytest.FixtureRequest, fixture: object) -> None:
        """Close the instance unless a later test uses ``fixture`` (the same function)."""
        if self._stack is None or _used_later(request, fixture):
            return
        stack, self._stack, self.value = self._stack, None, None
        await stack.aclose()


def _used_later(request: pytest.FixtureRequest, fixture: object) -> bool:
    session = request.session
    if session.shouldstop or session.shouldfail:
        return False
    items = session.items
    mine = [n for n, item in enumerate(items) if getattr(item, "module", None) is request.module]
    later = items[max(mine) + 1 :] if mine else []
    name = request.fixturename or ""
    users: dict[int, bool] = {}  # by module: whether it imported ``fixture`` (under any name)
    for item in later:
        module = getattr(item, "module", None)
        if module is None or name not in getattr(item, "fixturenames", ()):
            continue
        if id(module) not in users:
            users[id(module)] = any(value is fixture for value in vars(module).values())
        if users[id(module)]:
            return True
    return False
