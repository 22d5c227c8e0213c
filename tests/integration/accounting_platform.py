"""The accounting article's platform: Core's sandbox, ingest, invoice-export, the credential owner
and reporting on real Kafka and Postgres, the accounting sandboxes reached over ASGI, and what a
test does on it."""

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from timebridge_providers.core.client import CoreClient

from timebridge_common.crypto import SecretBox
from timebridge_common.outbound.http import RequestBudget, RetryPolicy
from timebridge_common.outbound.oauth import Tokens
from timebridge_common.testing import (
    LazyApp,
    end_offsets,
    in_memory_tracing,
    position_group_at_end,
    read_topic,
    wait_for,
)
from timebridge_ingest.bootstrap import bootstrap as bootstrap_ingest
from timebridge_ingest.config import Settings as IngestSettings
from timebridge_invoice_export.adapters.tools import ProductionTools
from timebridge_invoice_export.bootstrap import InvoiceExport
from timebridge_invoice_export.bootstrap import bootstrap as bootstrap_invoice_export
from timebridge_invoice_export.config import Settings as InvoiceSettings
from timebridge_reporting.bootstrap import bootstrap as bootstrap_reporting
from timebridge_reporting.config import Settings as ReportingSettings
from timebridge_sandboxes.core import CoreState, Subscription, Webhooks, create_core_sandbox
from timebridge_sandboxes.faults import RateLimit
from timebridge_sandboxes.testing import TimeoutTransport

from .accounting_sandboxes import (
    CORE_URL,
    INGEST_URL,
    INVOICE_URL,
    PLATFORM_ADMIN,
    SERVICE,
    FreshBooks,
    QuickBooks,
    Tool,
    Xero,
    _redirect,
)
from .conftest import KAFKA, kafka_config, unique
from .credential_owner import OWNER_SETTINGS, Owner, start_owner, token_hosts
from .platform import Lease


@dataclass
class Platform:
    core: CoreState
    core_app: Any
    webhooks: Webhooks
    tools: dict[str, Tool]
    apps: dict[str, Any]
    invoice_export: InvoiceExport
    accounting: ProductionTools
    owner: Owner
    """The credentials service, keeper of every tool's OAuth tokens."""
    invoice_dsn: str

    def http(self, service: str, token: str | None = None) -> httpx.AsyncClient:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.apps[service]),
            base_url=INVOICE_URL if service == "invoice-export" else f"http://{service}.test",
            headers=headers,
        )


_SHARED: Lease[Platform] = Lease()


@pytest.fixture(scope="module", name="platform")
async def platform_fixture(
    request: pytest.FixtureRequest,
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> AsyncIterator[Platform]:
    """One platform for the modules that import this fixture (leased: its setup took about a
    minute on a loaded machine); each test takes a workspace of its own (:func:`workspace`)."""
    yield await _SHARED.take(lambda: running_platform(topics, create_database, make_pool))
    await _SHARED.release(request, platform_fixture)


@contextlib.asynccontextmanager
async def running_platform(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> AsyncIterator[Platform]:
    tag = unique("billing")  # databases and groups of its own
    kafka = kafka_config().model_copy(
        update={"group_prefix": f"{kafka_config().group_prefix}-{tag}"}
    )
    for name in ("ingest", "invoice-export", "reporting", "credentials"):
        await position_group_at_end(KAFKA, f"{kafka.group_prefix}-{name}", topics)
    apps: dict[str, Any] = {}
    to_invoice_export = httpx.ASGITransport(app=LazyApp(apps, "invoice-export"))
    to_ingest = httpx.ASGITransport(app=LazyApp(apps, "ingest"))
    core = CoreState()
    webhooks = Webhooks(transport=to_ingest)
    core_app = create_core_sandbox(core, rate_limit=RateLimit(10**6, 1), webhooks=webhooks)
    tools: dict[str, Tool] = {
        "quickbooks": QuickBooks(to_invoice_export),
        "xero": Xero(to_invoice_export),
        "freshbooks": FreshBooks(to_invoice_export),
    }

    def core_client(base_url: str, token: str) -> CoreClient:
        return CoreClient(
            base_url,
            token,
            http=httpx.AsyncClient(transport=httpx.ASGITransport(app=core_app)),
            budget=RequestBudget(10**6, 1),
            retry=RetryPolicy(max_attempts=3),
        )

    def tool_http(provider: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=TimeoutTransport(tools[provider].app, 2.0))

    key = SecretBox.generate_key()
    settings = InvoiceSettings(
        kafka=kafka,
        encryption_key=key,
        **OWNER_SETTINGS,
        public_base_url=INVOICE_URL,
        quickbooks=tools["quickbooks"].app_config(),
        xero=tools["xero"].app_config(),
        freshbooks=tools["freshbooks"].app_config(),
        export_stall_s=3600,
        xero_sales_account_code="200",
    )
    accounting = ProductionTools(settings, http=tool_http, retry=RetryPolicy(max_attempts=4))
    running = contextlib.AsyncExitStack()
    owner = await start_owner(
        running,
        kafka=kafka,
        apps=settings.accounting_apps(),
        token_transport=token_hosts(
            settings.accounting_apps(), {name: tool.app for name, tool in tools.items()}
        ),
        core=core_client,
        create_database=create_database,
        make_pool=make_pool,
        name=f"{tag}-credentials",
    )
    invoice_dsn = await create_database(f"{tag}-invoice-export")
    invoice_export = bootstrap_invoice_export(
        settings,
        pool=await make_pool(invoice_dsn),
        tracer_provider=in_memory_tracing("invoice-export")[0],
        tools=accounting,
        credentials=owner.source,
        core=core_client,
        background=False,
    )
    ingest = bootstrap_ingest(
        IngestSettings(
            kafka=kafka,
            encryption_key=key,
            admin_token=PLATFORM_ADMIN,
            public_base_url=INGEST_URL,
            poll_tick_s=3600,
            **OWNER_SETTINGS,
        ),
        pool=await make_pool(await create_database(f"{tag}-ingest")),
        tracer_provider=in_memory_tracing("ingest")[0],
        core=core_client,
        credentials=owner.source,
    )
    reporting = bootstrap_reporting(
        ReportingSettings(kafka=kafka),
        pool=await make_pool(await create_database(f"{tag}-reporting")),
        tracer_provider=in_memory_tracing("reporting")[0],
        core=core_client,
    )
    apps["ingest"], apps["invoice-export"] = ingest.app, invoice_export.app
    apps["reporting"] = reporting.app
    async with running:
        for service in (ingest, invoice_export, reporting):
            await service.runtime.start()
            running.push_async_callback(service.runtime.stop)
        for tool in tools.values():
            await tool.subscribe()
        yield Platform(
            core, core_app, webhooks, tools, apps, invoice_export, accounting, owner, invoice_dsn
        )


@dataclass
class Workspace:
    id: str
    admin: str
    ann: str
    max: str
    website: str


async def workspace(platform: Platform) -> Workspace:
    """A Core workspace registered with ingest; invoice-export learns it from Kafka."""
    ws = unique("ws")
    admin_token = f"admin-{ws}"
    ann = platform.core.add_user(ws, "Ann", email="ann@acme.test", role="admin", token=admin_token)
    max_ = platform.core.add_user(ws, "Max", email="max@acme.test")
    platform.core.add_service_token(ws, f"{SERVICE}-{ws}")
    website = platform.core.add_project(ws, "Website")
    platform.core.add_project(ws, "Internal")
    secret = "core-webhook-secret-" + "s" * 20
    platform.core.webhooks[ws] = Subscription(f"{INGEST_URL}/v1/webhooks/core/{ws}", secret)
    async with platform.http("ingest", PLATFORM_ADMIN) as ingest:
        put = await ingest.put(
            f"/v1/admin/workspaces/{ws}/webhook-secrets/core", json={"secret": secret}
        )
        assert put.status_code == 204, put.text
        put = await ingest.put(
            f"/v1/admin/workspaces/{ws}",
            json={"core_base_url": CORE_URL, "core_api_token": f"{SERVICE}-{ws}"},
        )
        assert put.status_code == 200, put.text
    async with platform.http("invoice-export", admin_token) as api:

        async def known() -> bool:
            return (await api.get(f"/v1/workspaces/{ws}/projects")).status_code == 200

        await wait_for(known)
    return Workspace(ws, admin_token, ann, max_, website)


async def log_time(platform: Platform, ws: Workspace, **fields: Any) -> str:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=platform.core_app), base_url=CORE_URL
    ) as core:
        created = await core.post(f"/_sandbox/workspaces/{ws.id}/time-entries", json=fields)
        assert created.status_code == 201, created.text
    await platform.webhooks.drain()
    entry_id: str = created.json()["id"]
    return entry_id


async def connect(platform: Platform, ws: Workspace, provider: str) -> dict[str, Any]:
    """The admin's Add Integration: consent in the tool, back to Timebridge's callback."""
    async with platform.http("invoice-export", ws.admin) as api:
        started = await api.post(f"/v1/workspaces/{ws.id}/accounting/{provider}/authorize")
        assert started.status_code == 200, started.text
        start = started.json()
        assert start["redirect_uri"] == _redirect(provider)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(platform.tools[provider].app)
        ) as browser:
            consent = await browser.get(start["authorize_url"])
        assert consent.status_code == 302, consent.text
        back = httpx.URL(consent.headers["location"])
        assert str(back.copy_with(query=None)) == _redirect(provider)
        callback = await api.get(f"/v1/oauth/{provider}/callback", params=dict(back.params))
        assert callback.status_code == 200, callback.text
        replayed = await api.get(f"/v1/oauth/{provider}/callback", params=dict(back.params))
        assert replayed.status_code == 422, "a state is spent once"
    connection: dict[str, Any] = callback.json()
    assert connection["status"] == "connected", connection
    return connection


async def get(api: httpx.AsyncClient, path: str) -> Any:
    answer = await api.get(path)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def everything(topic: str, start: dict[TopicPartition, int]) -> list[Any]:
    """Every record of ``topic`` from ``start`` to its current end."""
    end = await end_offsets(KAFKA, topic)
    count = sum(end[tp] - start.get(tp, 0) for tp in end)
    return await read_topic(KAFKA, start, until=lambda rs: len(rs) >= count)


async def redeliver(records: list[Any], *, group: str) -> None:
    """Publish ``records`` again as they were (key, value, headers: the same event ids), and
    wait until ``group`` has consumed past them."""
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all")
    await producer.start()
    try:
        sent = [
            await producer.send_and_wait(r.topic, r.value, key=r.key, headers=list(r.headers))
            for r in records
        ]
    finally:
        await producer.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:

        async def consumed() -> bool:
            committed = await admin.list_consumer_group_offsets(group)
            return all(
                (c := committed.get(TopicPartition(m.topic, m.partition))) is not None
                and c.offset > m.offset
                for m in sent
            )

        await wait_for(consumed)
    finally:
        await admin.close()


async def stored_tokens(platform: Platform, workspace_id: str, connection_id: str) -> Tokens:
    """The connection's tokens as their owner, the credentials service, keeps them."""
    tokens = await platform.owner.tokens(workspace_id, connection_id)
    assert tokens is not None
    return tokens
