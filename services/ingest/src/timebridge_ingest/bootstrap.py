"""Composition root of the ingest service."""

import asyncio
import datetime as dt
import functools
from dataclasses import dataclass

import asyncpg
import httpx
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from opentelemetry.sdk.trace import TracerProvider
from timebridge_providers.core.directory import identity
from timebridge_providers.installed import registry
from timebridge_providers.kit.clients import BudgetSource, ProviderClients
from timebridge_providers.kit.credentials import CredentialKeeper, HttpCredentialSource

from timebridge_common.auth import WorkspaceAdmins
from timebridge_common.crypto import SecretBox
from timebridge_common.db.outbox import OutboxRelay
from timebridge_common.kafka.publisher import EventPublisher
from timebridge_common.outbound import shared_budget
from timebridge_common.outbound.http import Budgets
from timebridge_common.runtime import ServiceRuntime, build_runtime, http_app
from timebridge_common.webhooks import replay
from timebridge_ingest.adapters.imports_pg import PostgresImports
from timebridge_ingest.adapters.inbox import PostgresDeliveryInbox
from timebridge_ingest.adapters.oauth_states_pg import PostgresOAuthStates
from timebridge_ingest.adapters.postgres import (
    PostgresConnections,
    PostgresPolling,
    PostgresWebhookSecrets,
)
from timebridge_ingest.config import Settings
from timebridge_ingest.entrypoints.connections_http import connections_router
from timebridge_ingest.entrypoints.hooks_http import HookTokenMiddleware, hooks_router
from timebridge_ingest.entrypoints.http import Clock, install_webhooks
from timebridge_ingest.entrypoints.imports_http import wire as wire_imports
from timebridge_ingest.entrypoints.oauth_http import oauth_router
from timebridge_ingest.entrypoints.tracker_summary_http import wire as wire_tracker_summaries
from timebridge_ingest.handlers.access import ConnectionAccesses, credential_from_owner
from timebridge_ingest.handlers.connections import Connections
from timebridge_ingest.handlers.contract_polls import ContractPolls
from timebridge_ingest.handlers.handover import hand_over_until_done
from timebridge_ingest.handlers.health import Health
from timebridge_ingest.handlers.hook_secrets import HookSecrets, keeping_secrets
from timebridge_ingest.handlers.hooks import DeliveryWorker, HookIntake
from timebridge_ingest.handlers.imports import ImportRunner, Imports, observer_opener
from timebridge_ingest.handlers.oauth_connect import OAuthConnect
from timebridge_ingest.handlers.observing import observers
from timebridge_ingest.handlers.polling import Poller
from timebridge_ingest.handlers.ports import (
    ConnectionsStore,
    OpenIdentity,
    Sessions,
    WebhookSecrets,
)
from timebridge_ingest.handlers.time_off import TimeOffPolls
from timebridge_ingest.handlers.tracker_summary import TrackerSummaries, report_opener

NAME = "ingest"


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _close_at_stop(clients: ProviderClients) -> None:
    """Hold the provider HTTP pools open until the runtime stops (cancels its tasks)."""
    try:
        await asyncio.Event().wait()
    finally:
        await clients.aclose()


async def _close_http_at_stop(http: httpx.AsyncClient) -> None:
    try:
        await asyncio.Event().wait()
    finally:
        await http.aclose()


@dataclass
class Ingest:
    settings: Settings
    runtime: ServiceRuntime
    app: FastAPI
    secrets: WebhookSecrets
    publisher: EventPublisher
    connections: Connections | None
    poller: "Poller | None" = None
    imports: ImportRunner | None = None
    """History imports (``pause_s`` between windows: tests slow it down to watch it)."""


def bootstrap(
    settings: Settings,
    *,
    broker: KafkaBroker | None = None,
    pool: asyncpg.Pool | None = None,
    secrets: WebhookSecrets | None = None,
    tracer_provider: TracerProvider | None = None,
    clock: Clock = _utc_now,
    clients: Sessions | None = None,
    core: OpenIdentity | None = None,
    credentials: CredentialKeeper | None = None,
) -> Ingest:
    """Build the service; pass ``secrets`` to run without a database (unit tests).

    ``clients`` opens the providers' sessions (tests: routed to the sandboxes); ``core`` opens
    the home system with a user's token for the admin checks (by default, through ``clients``);
    ``credentials`` is the credential owner (by default the credentials service at
    ``TB_CREDENTIALS_URL``).
    """
    runtime = build_runtime(
        NAME,
        settings,
        migrations=(
            shared_budget.MIGRATIONS,
            replay.MIGRATIONS,
            "timebridge_ingest.adapters.migrations",
        ),
        broker=broker,
        pool=pool,
        with_database=secrets is None,
        tracer_provider=tracer_provider,
    )
    box = SecretBox(settings.encryption_key.get_secret_value())
    # Replicas share this service's share of each provider's limit through its database.
    budgets: BudgetSource = (
        Budgets() if runtime.pool is None else shared_budget.SharedBudgets(runtime.pool)
    )
    pools = ProviderClients(budgets, shares=settings.budget)
    sessions: Sessions = clients or pools
    open_identity = core or identity(sessions, registry().home().name)
    observe = observers(sessions)
    publisher = EventPublisher(runtime.broker, runtime.tracer, NAME)
    app = http_app(runtime, title="Timebridge ingest")
    connections = None
    poller = None
    importer = None
    if credentials is None:  # the owner is required (OwnerSettings): no other source
        owner_http = httpx.AsyncClient()
        runtime.background.append(functools.partial(_close_http_at_stop, owner_http))
        credentials = settings.credential_source(owner_http)
    if secrets is None:
        assert runtime.pool is not None
        secrets = PostgresWebhookSecrets(runtime.pool, box)
        postgres_connections = PostgresConnections(runtime.pool, box)
        store: ConnectionsStore = postgres_connections
        connections = Connections(
            store=store,
            box=box,
            publisher=publisher,
            sessions=sessions,
            observers=keeping_secrets(observe, HookSecrets(secrets)),
            identity=open_identity,
            api_url=settings.api_url,
            public_base_url=settings.public_base_url.rstrip("/"),
            clock=clock,
            test_timeout_s=settings.connection_test_timeout_s,
            credentials=credentials,
        )
        if credentials is not None:
            handover = functools.partial(hand_over_until_done, postgres_connections, credentials)
            runtime.background.append(handover)
        inbox = PostgresDeliveryInbox(runtime.pool)
        access = ConnectionAccesses(credentials)
        worker = DeliveryWorker(
            store, inbox, observe, publisher, clock, settings.publish_timeout_s, access=access
        )
        hooks = HookIntake(
            store,
            inbox,
            clock,
            on_stored=worker.wake,
            secrets=HookSecrets(secrets),
            publisher=publisher,
            window=replay.PostgresReplayWindow.closed_at_stop(runtime.pool, runtime.background),
            tolerance_s=settings.webhook_tolerance_s,
            publish_timeout_s=settings.publish_timeout_s,
            observers=observe,
            access=access,
        )
        app.add_middleware(HookTokenMiddleware)
        app.include_router(hooks_router(hooks, settings.max_webhook_bytes))
        admins = WorkspaceAdmins(open_identity, connections.core_base_url)
        polling = PostgresPolling(runtime.pool)
        app.include_router(
            connections_router(settings, connections, admins, Health(polling, inbox))
        )
        poller = Poller(
            connections=store,
            polling=polling,
            observers=observe,
            hook_keeper=connections.keep_hook_alive,
            publisher=publisher,
            clock=clock,
            publish_timeout_s=settings.publish_timeout_s,
            lookback_days=settings.poll_lookback_days,
            tick_s=settings.poll_tick_s,
            daily_at=settings.daily_sync_at,
            access=access,
            time_off=TimeOffPolls(sessions, polling, access, publisher, settings.publish_timeout_s),
            contracts=ContractPolls(sessions, polling, publisher, settings.publish_timeout_s),
        )
        runtime.background += [OutboxRelay(runtime.pool, publisher).run, poller.run, worker.run]
        importer = wire_imports(
            PostgresImports(runtime.pool),
            store,
            observer_opener(observe, access),
            publisher,
            clock=clock,
            publish_timeout_s=settings.publish_timeout_s,
            runtime=runtime,
            app=app,
            admins=admins,
        )
        if isinstance(credentials, HttpCredentialSource):  # the owner holds the OAuth apps
            consent = OAuthConnect(
                connections, PostgresOAuthStates(runtime.pool), credentials, clock,
                imports=Imports(PostgresImports(runtime.pool), store, clock, importer.wake),
            )  # fmt: skip
            app.include_router(oauth_router(consent, admins, settings.console_url))
        summaries = TrackerSummaries(
            store, report_opener(sessions), publisher, clock, settings.publish_timeout_s
        )
        if credentials is not None:
            summaries.credential_of = credential_from_owner(credentials)
        wire_tracker_summaries(summaries, runtime, app, admins)
    runtime.background.append(functools.partial(_close_at_stop, pools))
    window: replay.ReplayWindow = (
        replay.MemoryReplayWindow()
        if runtime.pool is None
        else replay.PostgresReplayWindow.closed_at_stop(runtime.pool, runtime.background)
    )
    install_webhooks(
        app,
        runtime.tracer,
        settings=settings,
        secrets=secrets,
        publisher=publisher,
        clock=clock,
        window=window,
    )
    return Ingest(settings, runtime, app, secrets, publisher, connections, poller, importer)
