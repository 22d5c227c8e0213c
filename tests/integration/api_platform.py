"""All six services' HTTP apps on the real broker and PostgreSQL, for the tests that walk every
route of every service (``test_route_auth``, ``test_fuzz_api``).

One Core sandbox answers the admin checks; an Everhour sandbox answers the trackers' calls.
Two workspaces are registered the way an operator does it, through ingest's platform admin API:
ingest then publishes their ``ConnectionChanged``, and every other service learns over Kafka where
each workspace's Core answers. Accounting tools keep their production adapters: no route reaches
them without an OAuth connection, which these tests never complete.
"""

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute
from timebridge_providers.core.client import CoreClient
from timebridge_providers.everhour.client import EverhourClient

from timebridge_common.config import DlqLimitConfig
from timebridge_common.crypto import SecretBox
from timebridge_common.outbound.http import RequestBudget, RetryPolicy
from timebridge_common.runtime import Service, ServiceRuntime
from timebridge_common.testing import in_memory_tracing, position_group_at_end, wait_for
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
from timebridge_sandboxes.core import CoreState, create_core_sandbox
from timebridge_sandboxes.everhour import EverhourState, create_everhour_sandbox
from timebridge_sandboxes.faults import RateLimit

from .conftest import KAFKA, kafka_config, unique
from .resolver_entries import on_clients
from .sandbox_sessions import SandboxSessions

SERVICES = ("ingest", "mapping", "conflict-resolver", "reporting", "invoice-export", "contracts")
CORE_URL = "http://core.sandbox"
EVERHOUR_URL = "http://everhour.sandbox"
EVERHOUR_KEY = "ek-fuzz-admin"

OPEN_PATHS = {"/healthz", "/readyz", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
"""Routes that answer anyone: health, and the API documents themselves."""
OPEN_PREFIXES = ("/v1/webhooks/", "/v1/oauth/")
"""Authenticated otherwise: webhooks by their senders' signatures, the OAuth callback by its
one-time ``state``."""


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


@dataclass(frozen=True)
class Tenant:
    workspace: str
    admin: str
    member: str
    service: str


@dataclass
class Platform:
    apps: dict[str, FastAPI]
    runtimes: list[ServiceRuntime]
    platform_token: str
    a: Tenant
    b: Tenant
    core: CoreState
    everhour: EverhourState


def api_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every operation of ``app``'s OpenAPI document."""
    return [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if method in {"get", "put", "post", "patch", "delete", "head", "options"}
    ]


def hidden_routes(routes: Sequence[BaseRoute]) -> list[str]:
    """API routes left out of the OpenAPI document (a walk over the document would miss them)."""
    hidden: list[str] = []
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's included routers
        if included is not None:
            hidden += hidden_routes(included.routes)
        elif isinstance(route, APIRoute) and not route.include_in_schema:
            hidden.append(route.path)
    return hidden


def _tenant(core: CoreState) -> Tenant:
    workspace = unique("ws")
    tenant = Tenant(workspace, unique("ct-admin"), unique("ct-member"), unique("ct-svc"))
    core.add_user(workspace, "Ann", email=f"ann@{workspace}.test", role="admin", token=tenant.admin)
    core.add_user(workspace, "Max", email=f"max@{workspace}.test", token=tenant.member)
    core.add_service_token(workspace, tenant.service)
    core.add_project(workspace, "Website")
    return tenant


@contextlib.asynccontextmanager
async def running_platform(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
    label: str,
) -> AsyncIterator[Platform]:
    base = kafka_config()
    kafka = base.model_copy(update={"group_prefix": f"{base.group_prefix}-{label}"})
    # Other tests' records on the shared topics are no business of these services (their
    # connections are encrypted with other keys): they may dead-letter them, never stop for it.
    common: dict[str, Any] = {
        "kafka": kafka,
        "dlq_limit": DlqLimitConfig(max_invalid_ratio=1, max_consecutive=10**9),
    }
    for service in SERVICES:
        await position_group_at_end(KAFKA, f"{kafka.group_prefix}-{service}", topics)
    core, everhour = CoreState(), EverhourState()
    everhour.add_user("Ann", api_key=EVERHOUR_KEY, email="ann@everhour.test")
    everhour.add_project("Website")
    core_app = create_core_sandbox(core, rate_limit=RateLimit(1_000_000, 1))
    everhour_app = create_everhour_sandbox(everhour, rate_limit=RateLimit(1_000_000, 1))
    retry = RetryPolicy(max_attempts=1)

    def core_client(base_url: str, token: str) -> CoreClient:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=core_app))
        return CoreClient(base_url, token, http=http, budget=RequestBudget(10**6, 1), retry=retry)

    def everhour_client(base_url: str, key: str) -> EverhourClient:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=everhour_app))
        return EverhourClient(base_url, key, http=http, budget=RequestBudget(10**6, 1), retry=retry)

    key = SecretBox.generate_key()
    platform_token = uuid.uuid4().hex

    async def pool(name: str) -> asyncpg.Pool:
        return await make_pool(await create_database(f"{label}-{name}"))

    def tracing(name: str) -> Any:
        return in_memory_tracing(name)[0]

    ingest = bootstrap_ingest(
        IngestSettings(
            **common,
            encryption_key=key,
            admin_token=platform_token,
            everhour_api_url=EVERHOUR_URL,
            poll_tick_s=3600,
        ),
        pool=await pool("ingest"),
        tracer_provider=tracing("ingest"),
        clients=SandboxSessions.of_apps({"everhour": everhour_app, "core": core_app}),
        core=core_client,
    )
    mapping = bootstrap_mapping(
        MappingSettings(**common, encryption_key=key),
        pool=await pool("mapping"),
        tracer_provider=tracing("mapping"),
        clients=SandboxSessions.of_apps({"everhour": everhour_app, "core": core_app}),
        core=core_client,
    )
    resolver = bootstrap_resolver(
        ResolverSettings(**common, encryption_key=key),
        pool=await pool("resolver"),
        tracer_provider=tracing("conflict-resolver"),
        entries=on_clients(everhour_client, core_client),
        core=core_client,
    )
    reporting = bootstrap_reporting(
        ReportingSettings(**common),
        pool=await pool("reporting"),
        tracer_provider=tracing("reporting"),
        core=core_client,
    )
    invoice_export = bootstrap_invoice_export(
        InvoiceSettings(**common, encryption_key=key),
        pool=await pool("invoice"),
        tracer_provider=tracing("invoice-export"),
        core=core_client,
        background=False,
    )
    contracts = bootstrap_contracts(
        ContractsSettings(**common),
        pool=await pool("contracts"),
        tracer_provider=tracing("contracts"),
        core=core_client,
    )
    services: tuple[Service, ...] = (
        ingest,
        mapping,
        resolver,
        reporting,
        invoice_export,
        contracts,
    )
    apps = {name: s.app for name, s in zip(SERVICES, services, strict=True)}
    runtimes = [s.runtime for s in services]
    started: list[ServiceRuntime] = []
    try:
        for runtime in runtimes:
            await runtime.start()
            started.append(runtime)
        platform = Platform(
            apps, runtimes, platform_token, _tenant(core), _tenant(core), core, everhour
        )
        for tenant in (platform.a, platform.b):
            await register(platform, tenant)
        yield platform
    finally:
        for runtime in reversed(started):
            await runtime.stop()


async def register(platform: Platform, tenant: Tenant) -> None:
    """Register the tenant's Core with ingest, then wait until every service knows where it is
    (a member's token is then refused with 403 instead of the unknown workspace's 404)."""
    ingest = httpx.ASGITransport(app=platform.apps["ingest"])
    async with httpx.AsyncClient(transport=ingest, base_url="http://ingest") as http:
        answer = await http.put(
            f"/v1/admin/workspaces/{tenant.workspace}",
            json={"core_base_url": CORE_URL, "core_api_token": tenant.service},
            headers={"authorization": f"Bearer {platform.platform_token}"},
        )
        assert answer.status_code == 200, answer.text
    probes = {
        "mapping": f"/v1/workspaces/{tenant.workspace}/integrations/i/project-mappings",
        "conflict-resolver": f"/v1/workspaces/{tenant.workspace}/integrations/i/conflicts",
        "reporting": f"/v1/workspaces/{tenant.workspace}/sync-log",
        "invoice-export": f"/v1/workspaces/{tenant.workspace}/clients",
        "contracts": f"/v1/workspaces/{tenant.workspace}/contracts",
    }
    for service, path in probes.items():
        transport = httpx.ASGITransport(app=platform.apps[service])
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as http:
            member = {"authorization": f"Bearer {tenant.member}"}

            async def known(path: str = path, member: dict[str, str] = member) -> bool:
                return (await http.get(path, headers=member)).status_code == 403

            await wait_for(known, timeout_s=30)
