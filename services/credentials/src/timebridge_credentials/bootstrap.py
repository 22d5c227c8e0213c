"""Composition root of the credentials service."""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
import httpx
from fastapi import FastAPI
from faststream.kafka import KafkaBroker
from opentelemetry.sdk.trace import TracerProvider
from timebridge_providers.core.client import CoreClient
from timebridge_providers.core.directory import identity
from timebridge_providers.installed import registry as installed_registry
from timebridge_providers.kit.clients import ProviderClients
from timebridge_providers.kit.registry import Registry

from timebridge_common import connections
from timebridge_common.auth import WorkspaceAdmins
from timebridge_common.crypto import SecretBox
from timebridge_common.runtime import ServiceRuntime, build_runtime, http_app
from timebridge_credentials.adapters.postgres import PostgresCredentialStore
from timebridge_credentials.adapters.token_endpoints import RegistryTokenEndpoints
from timebridge_credentials.config import Settings
from timebridge_credentials.entrypoints.http import Guards, credentials_router, oauth_apps_router
from timebridge_credentials.handlers.owner import Clock, CredentialOwner, _utc_now

NAME = "credentials"


@dataclass
class CredentialsService:
    settings: Settings
    runtime: ServiceRuntime
    app: FastAPI
    owner: CredentialOwner
    store: PostgresCredentialStore
    copies: connections.ConnectionCopies


def bootstrap(
    settings: Settings,
    *,
    broker: KafkaBroker | None = None,
    pool: asyncpg.Pool | None = None,
    tracer_provider: TracerProvider | None = None,
    core: Callable[[str, str], CoreClient] | None = None,
    registry: Registry | None = None,
    token_http: httpx.AsyncClient | None = None,
    clock: Clock = _utc_now,
) -> CredentialsService:
    """Build the service; tests pass a Core client factory (the sandbox), a registry of their
    own providers and the HTTP client the token endpoints are called through.

    Like contracts, it keeps a copy of the connections only to know where each workspace's Core
    answers for the admin check; it never uses the copies' credentials.
    """
    runtime = build_runtime(
        NAME,
        settings,
        migrations=(connections.MIGRATIONS, "timebridge_credentials.adapters.migrations"),
        broker=broker,
        pool=pool,
        tracer_provider=tracer_provider,
    )
    assert runtime.pool is not None
    box = SecretBox(settings.encryption_key.get_secret_value())
    store = PostgresCredentialStore(runtime.pool, box)
    copies = connections.ConnectionCopies(runtime.pool)
    copies.subscribe(runtime)
    providers = registry or installed_registry()
    home = providers.home().name
    http = token_http or httpx.AsyncClient()
    endpoints = RegistryTokenEndpoints(providers, dict(settings.oauth_apps), http)
    margin = dt.timedelta(seconds=settings.refresh_margin_s)
    owner = CredentialOwner(store, endpoints, providers, margin=margin, clock=clock)

    async def core_base_url(workspace_id: str) -> str | None:
        found = await copies.connected(workspace_id, home)
        return found[0].base_url if found else None

    app = http_app(runtime, title="Timebridge credentials")
    admins = WorkspaceAdmins(core or identity(ProviderClients(), home), core_base_url)
    guards = Guards(settings.service_token, admins)
    app.include_router(credentials_router(owner, guards))
    app.include_router(oauth_apps_router(owner, guards))
    return CredentialsService(settings, runtime, app, owner, store, copies)
