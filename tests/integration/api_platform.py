"""All six services' HTTP apps on the real broker and PostgreSQL, for the tests that walk every
route of every service (``test_route_auth``, ``test_route_fuzz``).

One Core sandbox answers the admin checks; an Everhour sandbox answers the trackers' calls.
Two workspaces are registered the way an operator does it, through ingest's platform admin API:
ingest then publishes their ``ConnectionChanged``, and every other service learns over Kafka where
each workspace's Core answers. Accounting tools keep their production adapters: no route reaches
them without an OAuth connection, which these tests never complete.
"""

import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from timebridge_common.runtime import Service, ServiceRuntime
from timebridge_common.testing import wait_for
from timebridge_sandboxes.bamboohr import BambooHrState, create_bamboohr_sandbox, demo_bamboohr
from timebridge_sandboxes.core import CoreState
from timebridge_sandboxes.everhour import EverhourState

from .conftest import unique
from .platform import CORE_URL, Lease, PlatformBuilder

SERVICES = ("ingest", "mapping", "conflict-resolver", "reporting", "invoice-export", "contracts")
EVERHOUR_KEY = "ek-fuzz-admin"
BAMBOOHR_KEY = "bamboohr-api-admin-key"

OPEN_PATHS = {
    "/healthz",
    "/readyz",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/openapi.json",
    "/v1/portal/workspaces/{workspace_id}/sign-in-links",
    "/v1/portal/sessions",
}
"""Routes that answer anyone: health, the API documents themselves, and the portal's sign-in
(asking for an emailed link, the same answer for every address; exchanging the link's token)."""
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
    bamboohr: BambooHrState = dataclasses.field(default_factory=BambooHrState)
    """The HR source's sandbox (time off: ``test_route_time_off``)."""
    services: dict[str, Service] = dataclasses.field(default_factory=dict)


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
    """The six services with two registered tenants."""
    # Other tests' records on the shared topics are no business of these services (their
    # connections are encrypted with other keys): they may dead-letter them, never stop for it.
    builder = PlatformBuilder(label, create_database, make_pool, retries=1)
    builder.everhour.add_user("Ann", api_key=EVERHOUR_KEY, email="ann@everhour.test")
    builder.everhour.add_project("Website")
    bamboohr = demo_bamboohr(BAMBOOHR_KEY, "bamboohr-api-member-key")
    builder.tracker_apps["bamboohr"] = create_bamboohr_sandbox(bamboohr)
    platform_token = uuid.uuid4().hex
    await builder.add_ingest(admin_token=platform_token)
    await builder.add_mapping()
    await builder.add_resolver()
    await builder.add_reporting()
    await builder.add_invoice_export(background=False)
    await builder.add_contracts()
    async with builder.running(topics) as services:
        core = builder.core
        platform = Platform(
            {name: s.app for name, s in services.items()},
            [s.runtime for s in services.values()],
            platform_token,
            _tenant(core),
            _tenant(core),
            core,
            builder.everhour,
            bamboohr,
            dict(services),
        )
        for tenant in (platform.a, platform.b):
            await register(platform, tenant)
        yield platform


_SHARED: Lease[Platform] = Lease()


@pytest.fixture(scope="module")
async def shared_platform(
    request: pytest.FixtureRequest,
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> AsyncIterator[Platform]:
    """One platform for the route walk and the fuzzing (leased: starting it took about 90 s of
    each suite's setup on the CI machine); each takes tenants of its own
    (:func:`with_new_tenants`)."""
    yield await _SHARED.take(lambda: running_platform(topics, create_database, make_pool, "api"))
    await _SHARED.release(request, shared_platform)


async def with_new_tenants(platform: Platform) -> Platform:
    """``platform`` seen through two tenants registered just now: what one suite does to its
    workspaces (fuzzing re-registers them with generated Core URLs) never reaches another's."""
    fresh = dataclasses.replace(platform, a=_tenant(platform.core), b=_tenant(platform.core))
    for tenant in (fresh.a, fresh.b):
        await register(fresh, tenant)
    return fresh


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
