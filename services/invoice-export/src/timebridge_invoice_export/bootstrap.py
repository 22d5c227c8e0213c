"""Composition root of invoice-export."""

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
import httpx
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from opentelemetry.sdk.trace import TracerProvider
from timebridge_providers import core as home_system
from timebridge_providers.core.client import CoreClient
from timebridge_providers.installed import registry
from timebridge_providers.kit.clients import ProviderClients
from timebridge_providers.kit.connection_access import ConnectionAccess
from timebridge_providers.kit.credentials import CredentialKeeper
from timebridge_providers.kit.session import Access

from timebridge_common import connections as connection_copies
from timebridge_common.auth import WorkspaceAdmins
from timebridge_common.crypto import SecretBox
from timebridge_common.db.outbox import OutboxRelay
from timebridge_common.kafka.publisher import EventPublisher
from timebridge_common.refusals import RefusedError, refusal_handler
from timebridge_common.runtime import ServiceRuntime, build_runtime, http_app
from timebridge_common.webhooks import replay
from timebridge_invoice_export.adapters.core import CoreDirectory
from timebridge_invoice_export.adapters.postgres import Store
from timebridge_invoice_export.adapters.tools import ProductionTools
from timebridge_invoice_export.adapters.verifications import PostgresVerifications
from timebridge_invoice_export.config import Settings
from timebridge_invoice_export.entrypoints import consumers
from timebridge_invoice_export.entrypoints.http import api_router, oauth_router
from timebridge_invoice_export.entrypoints.webhooks_http import webhooks_router
from timebridge_invoice_export.handlers.billing import Billing
from timebridge_invoice_export.handlers.connections import Connections
from timebridge_invoice_export.handlers.invoices import Invoices
from timebridge_invoice_export.handlers.notifications import Notifications
from timebridge_invoice_export.handlers.poller import Poller
from timebridge_invoice_export.handlers.ports import AccountingTools
from timebridge_invoice_export.handlers.sync import PRODUCER, ToolSync
from timebridge_invoice_export.handlers.verifications import CallbackVerifications

NAME = PRODUCER


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _home_clients(clients: ProviderClients) -> Callable[[str, str], CoreClient]:
    """Clients of the home system (Core) on sessions of the shared pools: its projects, and
    who a caller is (the admin check). Not closed by their users: the pool is shared."""
    name = registry().home().name

    def open_client(base_url: str, token: str) -> CoreClient:
        return home_system.client(clients.session(name, Access(base_url, token)))

    return open_client


async def _close_at_stop(http: httpx.AsyncClient) -> None:
    """Hold the credential owner's connection pool open until the runtime stops."""
    try:
        await asyncio.Event().wait()
    finally:
        await http.aclose()


def _webhook_url(tools: AccountingTools, base: str, provider: str, connection_id: str) -> str:
    """Where the tool delivers webhooks: per connection, or one endpoint per tool."""
    spec = tools.webhooks(provider)
    if spec is not None and spec.scope == "connection":
        return f"{base}/v1/webhooks/{provider}/{connection_id}"
    return f"{base}/v1/webhooks/{provider}"


@dataclass
class InvoiceExport:
    settings: Settings
    runtime: ServiceRuntime
    app: FastAPI
    store: Store
    poller: Poller
    connections: Connections


def bootstrap(
    settings: Settings,
    *,
    broker: KafkaBroker | None = None,
    pool: asyncpg.Pool | None = None,
    tracer_provider: TracerProvider | None = None,
    tools: AccountingTools | None = None,
    credentials: CredentialKeeper | None = None,
    core: Callable[[str, str], CoreClient] | None = None,
    clock: Callable[[], dt.datetime] = _utc_now,
    background: bool = True,
) -> InvoiceExport:
    """Build the service. Tests pass ``tools`` and ``core`` pointed at the sandboxes,
    ``credentials`` (the kit's fake, or the HTTP adapter to an in-process credentials service)
    and ``background=False`` to drive the poller themselves."""
    runtime = build_runtime(
        NAME,
        settings,
        migrations=(
            connection_copies.MIGRATIONS,
            replay.MIGRATIONS,
            "timebridge_invoice_export.adapters.migrations",
        ),
        broker=broker,
        pool=pool,
        tracer_provider=tracer_provider,
    )
    assert runtime.pool is not None
    box = SecretBox(settings.encryption_key.get_secret_value())
    store = Store(runtime.pool, box)
    copies = connection_copies.ConnectionCopies(runtime.pool)
    copies.subscribe(runtime)
    core = core or _home_clients(ProviderClients())
    tools = tools or ProductionTools(settings)
    if credentials is None:
        owner_http = httpx.AsyncClient()
        runtime.background.append(lambda: _close_at_stop(owner_http))
        credentials = settings.credential_source(owner_http)
    directory = CoreDirectory(copies, core, ConnectionAccess(credentials))
    base = settings.public_base_url.rstrip("/")
    connections = Connections(
        store,
        tools,
        credentials,
        public_base_url=base,
        state_ttl_s=settings.oauth_state_ttl_s,
        clock=clock,
    )
    sync = ToolSync(store, connections, clock)
    invoices = Invoices(store, connections, sync, clock)
    publisher = EventPublisher(runtime.broker, runtime.tracer, NAME)
    verifications = CallbackVerifications(
        store, PostgresVerifications(runtime.pool, box), connections, clock
    )
    notifications = Notifications(
        store,
        connections,
        sync,
        publisher,
        tools=tools,
        publish_timeout_s=settings.publish_timeout_s,
        window=replay.PostgresReplayWindow.closed_at_stop(runtime.pool, runtime.background),
        verifications=verifications,
        connection_window_s=settings.connection_webhook_window_s,
        clock=clock,
    )
    poller = Poller(
        store,
        connections,
        sync,
        invoices,
        webhook_url=lambda provider, connection_id: _webhook_url(
            tools, base, provider, connection_id
        ),
        interval_s=settings.poll_interval_s,
        tick_s=settings.poll_tick_s,
        stall_s=settings.export_stall_s,
        clock=clock,
        verifications=verifications,
    )
    connections.on_connected = poller.wake
    consumers.register(runtime, store, invoices, notifications)
    runtime.background.append(OutboxRelay(runtime.pool, publisher).run)
    if background:
        runtime.background.append(poller.run)
    app = http_app(runtime, title="Timebridge invoice-export")
    app.add_exception_handler(RefusedError, refusal_handler)
    billing = Billing(store, directory, clock)
    admins = WorkspaceAdmins(core, directory.base_url)
    app.include_router(api_router(connections, billing, invoices, admins))
    app.include_router(oauth_router(connections, settings.console_url))
    app.include_router(webhooks_router(notifications))
    return InvoiceExport(settings, runtime, app, store, poller, connections)
