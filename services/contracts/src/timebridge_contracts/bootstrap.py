"""Composition root of the contracts service."""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from opentelemetry.sdk.trace import TracerProvider
from timebridge_providers.core.client import CoreClient
from timebridge_providers.core.directory import identity
from timebridge_providers.installed import registry
from timebridge_providers.kit.clients import ProviderClients

from timebridge_common import connections
from timebridge_common.auth import WorkspaceAdmins
from timebridge_common.db.outbox import OutboxRelay
from timebridge_common.kafka.publisher import EventPublisher
from timebridge_common.runtime import ServiceRuntime, build_runtime, http_app
from timebridge_contracts.adapters.audit_log import AuditTrail
from timebridge_contracts.adapters.postgres import PostgresStore
from timebridge_contracts.config import Settings
from timebridge_contracts.entrypoints import consumers
from timebridge_contracts.entrypoints.announcements import PendingAnnouncements
from timebridge_contracts.entrypoints.http import contracts_router
from timebridge_contracts.handlers.budgets import PRODUCER, Clock
from timebridge_contracts.handlers.contracts import Contracts
from timebridge_contracts.handlers.events import EventHandlers

NAME = PRODUCER


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class ContractsService:
    settings: Settings
    runtime: ServiceRuntime
    app: FastAPI
    store: PostgresStore
    audit: AuditTrail
    announcements: PendingAnnouncements
    """Budgets never announced, announced once at start-up (``done`` when finished)."""


def bootstrap(
    settings: Settings,
    *,
    broker: KafkaBroker | None = None,
    pool: asyncpg.Pool | None = None,
    tracer_provider: TracerProvider | None = None,
    core: Callable[[str, str], CoreClient] | None = None,
    clock: Clock = _utc_now,
) -> ContractsService:
    """Build the service; ``core`` builds Core clients for the admin checks (tests: sandbox).

    Like reporting, it keeps a copy of the connections only to know where each workspace's Core
    answers for the admin check (``GET /me`` with the caller's token); it never uses their
    credentials.
    """
    runtime = build_runtime(
        NAME,
        settings,
        migrations=(connections.MIGRATIONS, "timebridge_contracts.adapters.migrations"),
        broker=broker,
        pool=pool,
        tracer_provider=tracer_provider,
    )
    assert runtime.pool is not None
    store = PostgresStore(runtime.pool)
    audit = AuditTrail(runtime.pool)
    copies = connections.ConnectionCopies(runtime.pool)
    copies.subscribe(runtime)
    consumers.register(runtime, EventHandlers(store, clock))
    publisher = EventPublisher(runtime.broker, runtime.tracer, NAME)
    runtime.background.append(OutboxRelay(runtime.pool, publisher).run)
    announcements = PendingAnnouncements(store, clock)
    runtime.background.append(announcements.run)

    async def core_base_url(workspace_id: str) -> str | None:
        found = await copies.connected(workspace_id, registry().home().name)
        return found[0].base_url if found else None

    app = http_app(runtime, title="Timebridge contracts")
    home = registry().home().name
    admins = WorkspaceAdmins(core or identity(ProviderClients(), home), core_base_url)
    app.include_router(contracts_router(Contracts(store, clock), store, audit, admins))
    return ContractsService(settings, runtime, app, store, audit, announcements)
