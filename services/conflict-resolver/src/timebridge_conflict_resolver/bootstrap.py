"""Composition root of the conflict-resolver."""

import asyncio
import datetime as dt
from dataclasses import dataclass

import asyncpg
import httpx
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from opentelemetry.sdk.trace import TracerProvider
from timebridge_providers.kit.clients import ProviderClients

from timebridge_common import connections
from timebridge_common.auth import WorkspaceAdmins
from timebridge_common.crypto import SecretBox
from timebridge_common.db.outbox import OutboxRelay
from timebridge_common.kafka.publisher import EventPublisher
from timebridge_common.outbound import shared_budget
from timebridge_common.runtime import BackgroundTask, ServiceRuntime, build_runtime, http_app
from timebridge_conflict_resolver.adapters.postgres import PostgresObservations, PostgresSync
from timebridge_conflict_resolver.adapters.providers import (
    CoreFactory,
    EverhourFactory,
    ProviderTargets,
    budgeted_everhour,
)
from timebridge_conflict_resolver.config import Settings
from timebridge_conflict_resolver.domain.records import CORE
from timebridge_conflict_resolver.entrypoints import consumers
from timebridge_conflict_resolver.entrypoints.http import observations_router, review_router
from timebridge_conflict_resolver.handlers.sync import PRODUCER, Syncer

NAME = PRODUCER


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _closed_on_stop(transport: httpx.AsyncBaseTransport) -> BackgroundTask:
    """A background task that only closes ``transport`` when the runtime stops (it cancels its
    background tasks last thing before the pool closes)."""

    async def hold() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await transport.aclose()

    return hold


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
    everhour: EverhourFactory | None = None,
    core: CoreFactory | None = None,
) -> ConflictResolver:
    """Build the service; ``everhour`` and ``core`` build provider clients (tests: sandboxes).

    By default every client of one credential draws from one request budget, shared by the
    writes, the read-backs and the review API's admin checks of this process (and its
    replicas); ``settings.everhour_requests_per_10s`` replaces the Everhour share.
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
    budgets = shared_budget.SharedBudgets(runtime.pool)
    clients = ProviderClients(budgets, shares=settings.budget)
    if everhour is None and settings.everhour_requests_per_10s is not None:
        pooled = httpx.AsyncHTTPTransport()
        runtime.background.append(_closed_on_stop(pooled))
        everhour = budgeted_everhour(budgets, settings.everhour_requests_per_10s, pooled)
    everhour = everhour or clients.everhour
    core = core or clients.core
    observations = PostgresObservations(runtime.pool)
    copies = connections.ConnectionCopies(
        runtime.pool,
        SecretBox(settings.encryption_key.get_secret_value()),
        bootstrap_servers=settings.kafka.bootstrap_servers,
    )
    store = PostgresSync(runtime.pool)
    syncer = Syncer(
        store=store,
        observations=observations,
        connections=copies,
        providers=ProviderTargets(everhour, core),
        clock=_utc_now,
        lease_s=settings.write_lease_s,
    )
    copies.subscribe(runtime)
    consumers.register(runtime, observations, syncer)
    publisher = EventPublisher(runtime.broker, runtime.tracer, NAME)
    runtime.background.append(OutboxRelay(runtime.pool, publisher).run)
    app = http_app(runtime, title="Timebridge conflict-resolver")

    async def core_base_url(workspace_id: str) -> str | None:
        cores = await copies.connected(workspace_id, CORE)
        return cores[0].base_url if cores else None

    admins = WorkspaceAdmins(core, core_base_url)
    app.include_router(observations_router(observations, admins))
    app.include_router(review_router(store, syncer, admins))
    return ConflictResolver(settings, runtime, app, syncer, copies)
