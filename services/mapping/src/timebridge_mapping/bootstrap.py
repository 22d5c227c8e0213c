"""Composition root of the mapping service."""

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
import httpx
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from opentelemetry.sdk.trace import TracerProvider
from timebridge_providers.core.directory import identity
from timebridge_providers.installed import registry
from timebridge_providers.kit.clients import ProviderClients
from timebridge_providers.kit.credentials import CredentialSource

from timebridge_common import connections
from timebridge_common.auth import WorkspaceAdmins
from timebridge_common.db.outbox import OutboxRelay
from timebridge_common.kafka.publisher import EventPublisher
from timebridge_common.outbound import shared_budget
from timebridge_common.runtime import ServiceRuntime, build_runtime, http_app
from timebridge_mapping.adapters.postgres import PostgresMappingStore
from timebridge_mapping.config import Settings
from timebridge_mapping.domain.schedule import SyncSlots
from timebridge_mapping.entrypoints import consumers
from timebridge_mapping.entrypoints.held_http import held_router
from timebridge_mapping.entrypoints.http import entries_router
from timebridge_mapping.entrypoints.providers_http import providers_router
from timebridge_mapping.entrypoints.setup_http import setup_router
from timebridge_mapping.handlers.assign import HeldAssignment
from timebridge_mapping.handlers.directory import Directory
from timebridge_mapping.handlers.mapper import PRODUCER, EntryMapper
from timebridge_mapping.handlers.ports import MappingStore, OpenIdentity, Sessions
from timebridge_mapping.handlers.providers import Providers
from timebridge_mapping.handlers.release import Releaser
from timebridge_mapping.handlers.schedule import ScheduledSync
from timebridge_mapping.handlers.setup import Setup
from timebridge_mapping.handlers.time_entries import TimeEntries

NAME = PRODUCER


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Mapping:
    settings: Settings
    runtime: ServiceRuntime
    app: FastAPI
    store: MappingStore
    scheduled: ScheduledSync


async def _close_at_stop(http: httpx.AsyncClient) -> None:
    """Hold the owner's HTTP pool open until the runtime stops (cancels its tasks)."""
    try:
        await asyncio.Event().wait()
    finally:
        await http.aclose()


def bootstrap(
    settings: Settings,
    *,
    broker: KafkaBroker | None = None,
    pool: asyncpg.Pool | None = None,
    store: MappingStore | None = None,
    tracer_provider: TracerProvider | None = None,
    clock: Callable[[], dt.datetime] = _utc_now,
    clients: Sessions | None = None,
    core: OpenIdentity | None = None,
    credentials: CredentialSource | None = None,
) -> Mapping:
    """Build the service; ``store`` wraps or replaces the Postgres store (tests inject faults).

    ``clients`` opens the providers' sessions (tests: routed to the sandboxes); ``core`` opens
    the home system with a user's token for the admin checks (by default, through ``clients``);
    ``credentials`` is the credential owner every provider access comes from (by default the
    credentials service at ``TB_CREDENTIALS_URL``).
    """
    runtime = build_runtime(
        NAME,
        settings,
        migrations=(
            connections.MIGRATIONS,
            shared_budget.MIGRATIONS,
            "timebridge_mapping.adapters.migrations",
        ),
        broker=broker,
        pool=pool,
        tracer_provider=tracer_provider,
    )
    assert runtime.pool is not None
    store = store or PostgresMappingStore(runtime.pool)
    copies = connections.ConnectionCopies(
        runtime.pool, bootstrap_servers=settings.kafka.bootstrap_servers
    )
    # Replicas share this service's share of each provider's limit through its database.
    sessions: Sessions = clients or ProviderClients(
        shared_budget.SharedBudgets(runtime.pool), shares=settings.budget
    )
    if credentials is None:  # the owner is required (OwnerSettings): no other source
        owner_http = httpx.AsyncClient()
        runtime.background.append(lambda: _close_at_stop(owner_http))
        credentials = settings.credential_source(owner_http)
    providers = Providers(copies, sessions, owner=credentials)
    releasable = asyncio.Event()
    directory = Directory(
        store, copies, providers, clock, releasable, refresh_every_s=settings.users_refresh_s
    )
    mapper = EntryMapper(
        directory,
        providers,
        clock,
        ticket_cache_s=settings.ticket_cache_s,
        refresh_on_miss_s=settings.users_refresh_on_miss_s,
    )
    releaser = Releaser(store, copies, mapper, releasable, interval_s=settings.release_interval_s)
    slot_wake = asyncio.Event()
    scheduled = ScheduledSync(
        store, copies, mapper, slot_wake, clock, tick_s=settings.schedule_tick_s
    )
    consumers.register_connections(runtime, copies, wake=[slot_wake, releasable])
    slots = SyncSlots(daily_at=settings.daily_sync_at)
    time_entries = TimeEntries(store, copies, mapper, slots)
    consumers.register(runtime, time_entries, max_records=settings.batch_max_records)
    publisher = EventPublisher(runtime.broker, runtime.tracer, NAME)
    runtime.background += [
        OutboxRelay(runtime.pool, publisher).run,
        directory.run,
        releaser.run,
        scheduled.run,
    ]
    setup = Setup(store, copies, providers, directory, releasable)
    app = http_app(runtime, title="Timebridge mapping")
    admins = WorkspaceAdmins(
        core or identity(sessions, registry().home().name), providers.home_base_url
    )
    app.include_router(entries_router(store, admins))
    app.include_router(setup_router(setup, admins))
    app.include_router(held_router(HeldAssignment(setup, releaser), admins))
    app.include_router(providers_router(admins))
    return Mapping(settings, runtime, app, store, scheduled)
