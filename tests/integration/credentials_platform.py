"""The credential owner on real PostgreSQL, served over real HTTP, with a real OAuth token server.

:class:`TokenServer` is a small RFC 6749 token endpoint (form body, HTTP Basic client auth) that
rotates refresh tokens the strict way (FreshBooks'): a refresh token works once, a spent or
revoked one is ``invalid_grant``. It counts refreshes, can hold an answer open (to overlap
callers) and can answer 503 with ``Retry-After``.
"""

import asyncio
import base64
import contextlib
import datetime as dt
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from timebridge_providers.core.client import CoreClient
from timebridge_providers.kit.registry import Provider

from timebridge_common.crypto import SecretBox
from timebridge_common.events import ConnectionChanged, Envelope
from timebridge_common.testing import in_memory_tracing
from timebridge_credentials.bootstrap import CredentialsService, bootstrap
from timebridge_credentials.config import OAuthAppConfig, Settings
from timebridge_credentials.testing import fake_provider, fake_registry
from timebridge_sandboxes.core import CoreState, create_core_sandbox
from timebridge_sandboxes.faults import RateLimit
from timebridge_sandboxes.testing import serve

from .conftest import kafka_config, unique

SERVICE_TOKEN = "svc-" + "s3cr3t-service-token"
CLIENT_ID, CLIENT_SECRET = "tb-app", "tb-app-secret"
T0 = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)


@dataclass
class TokenServer:
    valid: set[str] = field(default_factory=set)
    refreshes: list[str] = field(default_factory=list)
    """Every refresh token presented, in order."""
    unavailable: int = 0
    """Answer this many next requests with 503 + Retry-After."""
    delay_s: float = 0.0
    lifetime_s: int = 3600
    _serial: "itertools.count[int]" = field(default_factory=lambda: itertools.count(1))

    def issue(self) -> dict[str, Any]:
        n = next(self._serial)
        refresh = f"rt-{n}-{unique('r')}"
        self.valid.add(refresh)
        return {
            "access_token": f"at-{n}-{unique('a')}",
            "refresh_token": refresh,
            "expires_in": self.lifetime_s,
            "token_type": "bearer",
        }

    async def token(self, request: Request) -> JSONResponse:
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        form = await request.form()
        if form.get("grant_type") != "refresh_token":
            return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
        presented = str(form.get("refresh_token"))
        self.refreshes.append(presented)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.unavailable:
            self.unavailable -= 1
            return JSONResponse({"error": "busy"}, status_code=503, headers={"Retry-After": "9"})
        if presented not in self.valid:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        self.valid.discard(presented)
        return JSONResponse(self.issue())

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/oauth/token", self.token, methods=["POST"])])


@dataclass
class Platform:
    """One database, the token server, a Core sandbox and any number of service instances."""

    dsn: str
    key: str
    tokens: TokenServer
    token_url: str
    core: CoreState
    core_app: Any
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]]
    stack: contextlib.AsyncExitStack
    admins: dict[str, str] = field(default_factory=dict)
    """workspace -> the token of its Core admin."""

    def box(self) -> SecretBox:
        return SecretBox(self.key)

    async def instance(
        self,
        *,
        store_wrapper: Any = None,
        providers: tuple[Provider, ...] = (),
        apps: dict[str, OAuthAppConfig] | None = None,
    ) -> "Instance":
        """A service process of its own (own pool, own runtime), served on a loopback port;
        ``providers`` and ``apps`` add to the test providers and the token server's app."""

        def core_client(base_url: str, token: str) -> CoreClient:
            http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.core_app))
            return CoreClient(base_url, token, http=http)

        kafka = kafka_config().model_copy(
            update={"group_prefix": f"{kafka_config().group_prefix}-{unique('cred')}"}
        )
        settings = Settings(
            kafka=kafka,
            encryption_key=SecretStr(self.key),
            service_token=SecretStr(SERVICE_TOKEN),
            oauth_apps={
                "rotating": OAuthAppConfig(
                    client_id=CLIENT_ID, client_secret=SecretStr(CLIENT_SECRET)
                ),
                **(apps or {}),
            },
        )
        token_http = httpx.AsyncClient()
        self.stack.push_async_callback(token_http.aclose)
        service = bootstrap(
            settings,
            pool=await self.make_pool(self.dsn),
            tracer_provider=in_memory_tracing("credentials")[0],
            core=core_client,
            registry=fake_registry(
                fake_provider("keyed"),
                fake_provider("rotating", token_url=self.token_url),
                *providers,
            ),
            token_http=token_http,
        )
        if store_wrapper is not None:
            service.owner._store = store_wrapper(service.store)
        await service.runtime.start()
        self.stack.push_async_callback(service.runtime.stop)
        url = await self.stack.enter_async_context(serve(service.app))
        http = httpx.AsyncClient(base_url=url)
        self.stack.push_async_callback(http.aclose)
        instance = Instance(service, url, http)
        for workspace in self.admins:
            await instance.register_workspace(workspace)
        return instance

    def add_workspace(self) -> str:
        workspace = unique("ws")
        self.admins[workspace] = unique("admin")
        self.core.add_user(workspace, "Ann", role="admin", token=self.admins[workspace])
        return workspace

    async def raw_row(self, workspace: str, connection: str) -> asyncpg.Record | None:
        conn = await asyncpg.connect(self.dsn)
        try:
            return await conn.fetchrow(
                "SELECT * FROM credentials WHERE workspace_id = $1 AND connection_id = $2",
                workspace,
                connection,
            )
        finally:
            await conn.close()


@dataclass
class Instance:
    service: CredentialsService
    url: str
    http: httpx.AsyncClient

    async def register_workspace(self, workspace: str) -> None:
        """Where the workspace's Core answers (what ingest's ConnectionChanged would bring)."""
        event = ConnectionChanged(
            workspace_id=workspace, connection_id=f"core_{workspace}", provider="core",
            status="connected", base_url="http://core.sandbox",
            revision=1, changed_at=T0,
        )  # fmt: skip
        envelope = Envelope.for_event(event, producer="test", occurred_at=T0)
        await self.service.copies.apply("test", envelope, event)

    async def call(
        self, method: str, path: str, *, token: str = SERVICE_TOKEN, **kw: Any
    ) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} | kw.pop("headers", {})
        return await self.http.request(method, path, headers=headers, **kw)

    async def put_oauth(
        self, workspace: str, connection: str, tokens: dict[str, Any], *, expires_in: int
    ) -> httpx.Response:
        body = {
            "provider": "rotating",
            "base_url": "https://api.rotating.test",
            "extra": {"tenant_id": "tenant-42"},
            "credential": {
                "kind": "oauth2",
                "access_token": tokens["access_token"],
                "refresh_token": tokens["refresh_token"],
                "expires_in": expires_in,
            },
        }
        return await self.call(
            "PUT", f"/v1/workspaces/{workspace}/connections/{connection}", json=body
        )

    async def access(self, workspace: str, connection: str, **kw: Any) -> httpx.Response:
        path = f"/v1/workspaces/{workspace}/connections/{connection}/access"
        return await self.call("POST", path, **kw)


@contextlib.asynccontextmanager
async def platform(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> AsyncIterator[Platform]:
    dsn = await create_database(unique("credentials"))
    tokens = TokenServer()
    core = CoreState()
    core_app = create_core_sandbox(core, rate_limit=RateLimit(10_000, 1))
    async with contextlib.AsyncExitStack() as stack:
        url = await stack.enter_async_context(serve(tokens.app()))
        yield Platform(
            dsn, SecretBox.generate_key(), tokens, f"{url}/oauth/token", core, core_app,
            make_pool, stack,
        )  # fmt: skip
