"""Composition root of the reporting service."""

from dataclasses import dataclass

import asyncpg
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from opentelemetry.sdk.trace import TracerProvider
from timebridge_providers.core.directory import identity
from timebridge_providers.installed import registry
from timebridge_providers.kit.clients import ProviderClients

from timebridge_common import connections
from timebridge_common.auth import WorkspaceAdmins
from timebridge_common.ops_http import ops_router
from timebridge_common.outbound import shared_budget
from timebridge_common.runtime import ServiceRuntime, build_runtime, http_app
from timebridge_reporting.adapters.connection_health import PostgresConnectionHealth
from timebridge_reporting.adapters.facts import PostgresFacts
from timebridge_reporting.adapters.mail import Mailer
from timebridge_reporting.adapters.postgres import PostgresReadModels
from timebridge_reporting.config import Settings
from timebridge_reporting.entrypoints import consumers, portal_http, reports_wiring
from timebridge_reporting.entrypoints.http import CoreFactory, reports_router
from timebridge_reporting.handlers.runner import Clock, ReportWorker
from timebridge_reporting.handlers.time_off import subscribe as keep_time_off
from timebridge_reporting.handlers.tracker_summaries import subscribe as keep_tracker_summaries

NAME = "reporting"


@dataclass
class Reporting:
    settings: Settings
    runtime: ServiceRuntime
    app: FastAPI
    worker: ReportWorker | None = None


def bootstrap(
    settings: Settings,
    *,
    broker: KafkaBroker | None = None,
    pool: asyncpg.Pool | None = None,
    tracer_provider: TracerProvider | None = None,
    core: CoreFactory | None = None,
    mailer: Mailer | None = None,
    clock: Clock | None = None,
) -> Reporting:
    """Build the service; ``core`` builds Core clients for the admin checks (tests: sandbox).

    Reporting keeps a copy of the connections only to know where each workspace's Core answers
    (the admin check asks it ``GET /me`` with the caller's token). It never uses the connections'
    credentials, so it holds no platform key: they stay encrypted in its copy.
    """
    runtime = build_runtime(
        NAME,
        settings,
        migrations=(
            connections.MIGRATIONS,
            shared_budget.MIGRATIONS,
            "timebridge_reporting.adapters.migrations",
        ),
        broker=broker,
        pool=pool,
        tracer_provider=tracer_provider,
    )
    assert runtime.pool is not None
    models = PostgresReadModels(runtime.pool)
    copies = connections.ConnectionCopies(runtime.pool)
    copies.subscribe(runtime)
    facts = PostgresFacts(runtime.pool)
    consumers.register(runtime, models, facts, reports_wiring.trigger_handler(runtime.pool, clock))
    keep_tracker_summaries(runtime, runtime.pool, facts)
    keep_time_off(runtime, runtime.pool, facts)  # HR time off: utilization's capacity
    clients = ProviderClients(shared_budget.SharedBudgets(runtime.pool), shares=settings.budget)
    core_factory: CoreFactory = core or identity(clients, registry().home().name)

    async def core_base_url(workspace_id: str) -> str | None:
        found = await copies.connected(workspace_id, registry().home().name)
        return found[0].base_url if found else None

    app = http_app(runtime, title="Timebridge reporting")
    admins = WorkspaceAdmins(core_factory, core_base_url)
    health_log = PostgresConnectionHealth(runtime.pool)
    app.include_router(reports_router(models, admins, connection_health=health_log))
    # Operations (dead letters, replay, consumer lag) for the console: one service serves them.
    app.include_router(
        ops_router(admins, settings.kafka.bootstrap_servers, group_prefix=runtime.group_prefix)
    )
    worker = reports_wiring.wire(runtime, app, admins, settings, mailer=mailer, clock=clock)
    portal_http.wire(runtime, app, settings, worker.mailer, clock)  # recipients' portal
    return Reporting(settings, runtime, app, worker)
