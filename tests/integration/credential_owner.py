"""The credential owner for the integration tests: in front of the accounting sandboxes for
invoice-export's tests, and the one owner of tracker keys and Core tokens for every platform
(:func:`start_tracker_owner`).

The real credentials service on a database of its own, reached over ASGI with the services'
token, refreshing at the sandboxes' token endpoints (chosen by host) with the same app
registrations invoice-export's consent uses. invoice-export talks to it through the kit's
:class:`~timebridge_providers.kit.credentials.HttpCredentialSource`, as in production.
"""

import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
from pydantic import SecretStr
from timebridge_providers.core.client import CoreClient
from timebridge_providers.kit.credentials import HttpCredentialSource

from timebridge_common.config import KafkaConfig
from timebridge_common.connections import CONNECTION_TOPICS
from timebridge_common.crypto import SecretBox
from timebridge_common.outbound.oauth import Tokens
from timebridge_common.testing import in_memory_tracing, position_group_at_end
from timebridge_credentials.bootstrap import CredentialsService
from timebridge_credentials.bootstrap import bootstrap as bootstrap_credentials
from timebridge_credentials.config import OAuthAppConfig
from timebridge_credentials.config import Settings as CredentialsSettings
from timebridge_invoice_export.config import AccountingApp
from timebridge_sandboxes.testing import TimeoutTransport

from .conftest import KAFKA, kafka_config

SERVICE_TOKEN = "svc-accounting-" + "t0ken" * 4
OWNER_URL = "http://credentials.test"
OWNER_SETTINGS: dict[str, Any] = {"credentials_url": OWNER_URL, "service_token": SERVICE_TOKEN}
"""What every service calling a provider is configured with (required); tests then hand it the
owner's :attr:`Owner.source` as ``credentials`` (in process, over ASGI)."""


class ByHost(httpx.AsyncBaseTransport):
    """Each request to the ASGI app that serves its host (the sandboxes' token endpoints)."""

    def __init__(self, apps: Mapping[str, Any], timeout_s: float = 2.0) -> None:
        self._by_host = {host: TimeoutTransport(app, timeout_s) for host, app in apps.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._by_host[request.url.host].handle_async_request(request)


class Unplugged(httpx.AsyncBaseTransport):
    """The transport to the owner that a test can turn off: then 503 with ``Retry-After``."""

    def __init__(self, app: Any) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        self.down = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            return httpx.Response(503, json={"detail": "restarting"}, headers={"retry-after": "1"})
        return await self._asgi.handle_async_request(request)


@dataclass
class Owner:
    service: CredentialsService
    source: HttpCredentialSource
    """What invoice-export is given (tests use the same one, so its cache is the service's)."""
    dsn: str
    plug: Unplugged

    async def tokens(self, workspace_id: str, connection_id: str) -> Tokens | None:
        stored = await self.service.store.get(workspace_id, connection_id)
        if stored is None:
            return None
        assert isinstance(stored.secret, Tokens)
        return stored.secret


def token_hosts(apps: Mapping[str, AccountingApp], sandboxes: Mapping[str, Any]) -> ByHost:
    """The transport to each tool's sandbox by the host of its app's token URL."""
    return ByHost({httpx.URL(apps[p].token_url).host: sandboxes[p] for p in sandboxes})


async def start_owner(
    stack: contextlib.AsyncExitStack,
    *,
    kafka: KafkaConfig,
    apps: Mapping[str, AccountingApp],
    token_transport: httpx.AsyncBaseTransport | None,
    core: Callable[[str, str], CoreClient] | None,
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
    name: str,
) -> Owner:
    """Bootstrap and start the credentials service; stopped when ``stack`` closes."""
    settings = CredentialsSettings(
        kafka=kafka,
        encryption_key=SecretStr(SecretBox.generate_key()),
        service_token=SecretStr(SERVICE_TOKEN),
        oauth_apps={
            provider: OAuthAppConfig(
                client_id=app.client_id, client_secret=app.client_secret, token_url=app.token_url
            )
            for provider, app in apps.items()
        },
    )
    token_http = httpx.AsyncClient(transport=token_transport)
    stack.push_async_callback(token_http.aclose)
    dsn = await create_database(name)
    service = bootstrap_credentials(
        settings,
        pool=await make_pool(dsn),
        tracer_provider=in_memory_tracing("credentials")[0],
        core=core,
        token_http=token_http,
    )
    await service.runtime.start()
    stack.push_async_callback(service.runtime.stop)
    plug = Unplugged(service.app)
    http = httpx.AsyncClient(transport=plug)
    stack.push_async_callback(http.aclose)
    source = HttpCredentialSource(OWNER_URL, SecretStr(SERVICE_TOKEN), http=http)
    return Owner(service, source, dsn, plug)


async def rows_holding(dsn: str, secret: str) -> list[str]:
    """Every table of a database with a row whose text holds ``secret`` (in clear)."""
    conn = await asyncpg.connect(dsn)
    try:
        tables = await conn.fetch(
            "SELECT quote_ident(table_name) AS t FROM information_schema.tables"
            " WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
        found = []
        for row in tables:
            hits = await conn.fetchval(
                f"SELECT count(*) FROM {row['t']} AS r WHERE r::text LIKE '%' || $1 || '%'",  # noqa: S608 - quoted identifiers
                secret,
            )
            if hits:
                found.append(row["t"])
        return found
    finally:
        await conn.close()


async def start_tracker_owner(
    stack: contextlib.AsyncExitStack,
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
    name: str,
    *,
    kafka: KafkaConfig | None = None,
) -> Owner:
    """The owner of a platform's tracker keys and Core tokens (no OAuth app configured).

    Its copy of the connections starts at the end of the shared topic: replaying every earlier
    run's connections would only load the machine (it needs a workspace's Core URL only for
    Core admins reading its health, and those connections are published after it starts)."""
    kafka = kafka or kafka_config()
    group = f"{kafka.group_prefix}-credentials"
    await position_group_at_end(KAFKA, group, list(CONNECTION_TOPICS))
    return await start_owner(
        stack,
        kafka=kafka,
        apps={},
        token_transport=None,
        core=None,
        create_database=create_database,
        make_pool=make_pool,
        name=name,
    )


async def hold(
    owner: Owner,
    workspace_id: str,
    connection_id: str,
    provider: str,
    secret: str,
    *,
    base_url: str,
    extra: Mapping[str, str] | None = None,
) -> None:
    """What ingest does on connect: the connection's key handed to the owner."""
    await owner.source.put_key(
        workspace_id, connection_id, provider, secret, base_url=base_url, extra=extra
    )
