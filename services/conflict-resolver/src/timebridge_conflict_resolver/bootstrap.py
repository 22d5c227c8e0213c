"""Composition root of the conflict-resolver."""

import asyncio
import datetime as dt
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

import asyncpg
import httpx
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from opentelemetry.sdk.trace import TracerProvider
from timebridge_providers.core.directory import identity
from timebridge_providers.installed import registry
from timebridge_providers.kit.clients import BudgetSource, ProviderClients
from timebridge_providers.kit.credentials import CredentialSource

from timebridge_common import connections
from timebridge_common.auth import IdentityClient, WorkspaceAdmins
from timebridge_common.db.outbox import OutboxRelay
from timebridge_common.kafka.publisher import EventPublisher
from timebridge_common.outbound import shared_budget
from timebridge_common.outbound.http import RequestBudget
from timebridge_common.runtime import BackgroundTask, ServiceRuntime, build_runtime, http_app
from timebridge_conflict_resolver.adapters.entry_stores import RegistryEntryStores
from timebridge_conflict_resolver.adapters.postgres import PostgresObservations, PostgresSync
from timebridge_conflict_resolver.config import Settings
from timebridge_conflict_resolver.entrypoints import consumers
from timebridge_conflict_resolver.entrypoints.http import observations_router, review_router
from timebridge_conflict_resolver.handlers.ports import EntryStores, Sessions
from timebridge_conflict_resolver.handlers.sync import PRODUCER, Syncer

NAME = PRODUCER

IdentityFactory = Callable[[str, str], AbstractAsyncContextManager[IdentityClient]]
"""(home base URL, a user's token) -> who that user is, for the admin check."""


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _closed_on_stop(clients: ProviderClients | httpx.AsyncClient) -> BackgroundTask:
    """A background task that only closes the clients' pools when the runtime stops (it cancels
    its background tasks last thing before the database pool closes)."""

    async def hold() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await clients.aclose()

    return hold


@dataclass(frozen=True)
class RaisedLimits:
    """A budget source whose limit for some providers is raised (``Settings.raised_limits``):
    every client of the credential still shares one budget, at the raised rate."""

    inner: BudgetSource
    raised: Mapping[str, int]

    def get(
        self, provider: str, base_url: str, credential: str, limit: tuple[int, float]
    ) -> RequestBudget:
        if provider in self.raised:
            limit = (self.raised[provider], limit[1])
        return self.inner.get(provider, base_url, credential, limit)


@dataclass
class ConflictResolver:
    settings: Settings
    runtime: ServiceRuntime
    app: FastAPI
    syncer: Syncer
    connections: connections.ConnectionCopies


def bootstrap(
    settings: Settings,
    *,
    broker: KafkaBroker | None = None,
    pool: asyncpg.Pool | None = None,
    tracer_provider: TracerProvider | None = None,
    clients: Sessions | None = None,
    entries: EntryStores | None = None,
    core: IdentityFactory | None = None,
    credentials: CredentialSource | None = None,
) -> ConflictResolver:
    """Build the service; ``clients`` opens the providers' sessions (tests: routed to the
    sandboxes), ``entries`` each system's records (by default the registry's ``entries`` on
    those sessions; tests may open them on their own clients) and ``core`` the home system
    with a user's token for the admin checks (by default through ``clients``); ``credentials``
    is the credential owner every provider access comes from (by default the credentials
    service at ``TB_CREDENTIALS_URL``, which is required).

    By default every client of one credential draws from one request budget, shared by the
    writes, the read-backs and the review API's admin checks of this process (and its
    replicas), within this service's share of each provider's limit
    (``settings.raised_limits`` replaces a share).
    """
    runtime = build_runtime(
        NAME,
        settings,
        migrations=(
            connections.MIGRATIONS,
            shared_budget.MIGRATIONS,
            "timebridge_conflict_resolver.adapters.migrations",
        ),
        broker=broker,
        pool=pool,
        tracer_provider=tracer_provider,
    )
    assert runtime.pool is not None
    home = registry().home().name
    if clients is None:
        budgets = RaisedLimits(shared_budget.SharedBudgets(runtime.pool), settings.raised_limits)
        pooled = ProviderClients(budgets, shares=settings.budget, borrow=settings.budget_borrow)
        runtime.background.append(_closed_on_stop(pooled))
        clients = pooled
    entries = entries or RegistryEntryStores(clients.session)
    identify: IdentityFactory = core or identity(clients, home)
    observations = PostgresObservations(runtime.pool)
    copies = connections.ConnectionCopies(
        runtime.pool, bootstrap_servers=settings.kafka.bootstrap_servers
    )
    if credentials is None:  # the owner is required (OwnerSettings): no other source
        owner_http = httpx.AsyncClient()
        runtime.background.append(_closed_on_stop(owner_http))
        credentials = settings.credential_source(owner_http)
    store = PostgresSync(runtime.pool)
    syncer = Syncer(
        store=store,
        observations=observations,
        connections=copies,
        entries=entries,
        clock=_utc_now,
        lease_s=settings.write_lease_s,
        owner=credentials,
        concurrency=settings.sync_concurrency,
        request_rate=settings.request_rate,
        request_latency_s=settings.sync_request_latency_s,
        shared_writers=settings.sync_shared_writers,
    )
    copies.subscribe(runtime)
    consumers.register(
        runtime, observations, syncer, max_records=settings.sync_batch_max_records, inbox=store
    )
    publisher = EventPublisher(runtime.broker, runtime.tracer, NAME)
    runtime.background.append(OutboxRelay(runtime.pool, publisher).run)
    app = http_app(runtime, title="Timebridge conflict-resolver")

    async def home_base_url(workspace_id: str) -> str | None:
        found = await copies.connected(workspace_id, home)
        return found[0].base_url if found else None

    admins = WorkspaceAdmins(identify, home_base_url)
    app.include_router(observations_router(observations, admins))
    app.include_router(review_router(store, syncer, admins))
    return ConflictResolver(settings, runtime, app, syncer, copies)
