"""The Everhour guide end to end: every service, real Kafka and Postgres, both sandboxes.

Ingest, mapping, conflict-resolver and reporting run in this process on their own databases and
consumer groups; Core and Everhour are the sandboxes, reached (and posting their webhooks to
ingest) over httpx's ASGI transport. The admin sets everything up through the HTTP APIs, as the
guide's screens would: register the workspace, test and connect Everhour, map the project; then
people log and edit time on both sides.
"""

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from timebridge_common.crypto import SecretBox
from timebridge_common.providers.core import CoreClient
from timebridge_common.providers.everhour import EverhourClient
from timebridge_common.providers.http import RequestBudget, RetryPolicy
from timebridge_common.runtime import Service
from timebridge_common.testing import in_memory_tracing, position_group_at_end, wait_for
from timebridge_conflict_resolver.bootstrap import bootstrap as bootstrap_resolver
from timebridge_conflict_resolver.config import Settings as ResolverSettings
from timebridge_ingest.bootstrap import bootstrap as bootstrap_ingest
from timebridge_ingest.config import Settings as IngestSettings
from timebridge_mapping.bootstrap import bootstrap as bootstrap_mapping
from timebridge_mapping.config import Settings as MappingSettings
from timebridge_reporting.bootstrap import bootstrap as bootstrap_reporting
from timebridge_reporting.config import Settings as ReportingSettings
from timebridge_sandboxes.core import CoreState, Subscription, Webhooks, create_core_sandbox
from timebridge_sandboxes.everhour import EverhourState, create_everhour_sandbox
from timebridge_sandboxes.faults import RateLimit
from timebridge_sandboxes.testing import FakeTime

from .conftest import KAFKA, kafka_config, unique

CORE_URL = "http://core.sandbox"
EVERHOUR_URL = "http://everhour.sandbox"
INGEST_URL = "http://ingest.test"
ADMIN = "platform-admin-token"
ANN_CORE = "core-ann-token"
SERVICE = "core-service-token"
ANN_KEY = "everhour-ann-key"
DAY = dt.date(2026, 11, 20)
SERVICES = ("ingest", "mapping", "conflict-resolver", "reporting")


@dataclass
class Platform:
    workspace: str
    core: CoreState
    everhour: EverhourState
    core_app: Any
    everhour_app: Any
    webhooks: Webhooks
    apps: dict[str, Any]
    ann_core: str
    ann_everhour: int
    project: str
    everhour_project: str
    ticket_titled: str
    ticket_new: str
    task_titled: str

    def http(self, service: str, token: str = ANN_CORE) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.apps[service]),
            base_url=f"http://{service}.test",
            headers={"authorization": f"Bearer {token}"},
        )

    def sandbox(self, app: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox")


@pytest.fixture(scope="module")
async def platform(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> AsyncIterator[Platform]:
    kafka = kafka_config().model_copy(update={"group_prefix": f"{kafka_config().group_prefix}-e2e"})
    for name in SERVICES:
        await position_group_at_end(KAFKA, f"{kafka.group_prefix}-{name}", topics)
    workspace = unique("ws")
    core, everhour = CoreState(), EverhourState()
    ann_core = core.add_user(workspace, "Ann", email="ann@acme.test", role="admin", token=ANN_CORE)
    core.add_service_token(workspace, SERVICE)
    project = core.add_project(workspace, "Website")
    ticket_titled = core.add_ticket(workspace, "Fix the login page", project_id=project)
    ticket_new = core.add_ticket(workspace, "Export invoices", project_id=project)
    ann_everhour = everhour.add_user("Ann", api_key=ANN_KEY, email="ANN@acme.test")
    everhour_project = everhour.add_project("Website")
    task_titled = everhour.add_task(everhour_project, "Fix the login page")
    time = FakeTime()
    apps: dict[str, Any] = {}
    ingest_transport = httpx.ASGITransport(app=_Lazy(apps, "ingest"))
    webhooks = Webhooks(transport=ingest_transport, sleep=time.sleep)
    core_app = create_core_sandbox(core, rate_limit=RateLimit(10**6, 1), webhooks=webhooks)
    everhour_app = create_everhour_sandbox(
        everhour, rate_limit=RateLimit(10**6, 10), webhook_transport=ingest_transport
    )

    def everhour_client(base_url: str, key: str) -> EverhourClient:
        return EverhourClient(
            base_url,
            key,
            http=httpx.AsyncClient(transport=httpx.ASGITransport(app=everhour_app)),
            budget=RequestBudget(20, 10, clock=time.clock, sleep=time.sleep),
            retry=RetryPolicy(max_attempts=3, sleep=time.sleep),
        )

    def core_client(base_url: str, token: str) -> CoreClient:
        return CoreClient(
            base_url,
            token,
            http=httpx.AsyncClient(transport=httpx.ASGITransport(app=core_app)),
            budget=RequestBudget(10, 1, clock=time.clock, sleep=time.sleep),
            retry=RetryPolicy(max_attempts=3, sleep=time.sleep),
        )

    key = SecretBox.generate_key()
    services: dict[str, Service] = {
        "ingest": bootstrap_ingest(
            IngestSettings(
                kafka=kafka,
                encryption_key=key,
                admin_token=ADMIN,
                public_base_url=INGEST_URL,
                everhour_api_url=EVERHOUR_URL,
                poll_tick_s=3600,
            ),
            pool=await make_pool(await create_database("e2e-ingest")),
            tracer_provider=in_memory_tracing("ingest")[0],
            everhour=everhour_client,
            core=core_client,
        ),
        "mapping": bootstrap_mapping(
            MappingSettings(kafka=kafka, encryption_key=key),
            pool=await make_pool(await create_database("e2e-mapping")),
            tracer_provider=in_memory_tracing("mapping")[0],
            everhour=everhour_client,
            core=core_client,
        ),
        "conflict-resolver": bootstrap_resolver(
            ResolverSettings(kafka=kafka, encryption_key=key),
            pool=await make_pool(await create_database("e2e-resolver")),
            tracer_provider=in_memory_tracing("conflict-resolver")[0],
            everhour=everhour_client,
            core=core_client,
        ),
        "reporting": bootstrap_reporting(
            ReportingSettings(kafka=kafka),
            pool=await make_pool(await create_database("e2e-reporting")),
            tracer_provider=in_memory_tracing("reporting")[0],
        ),
    }
    for name, built in services.items():
        apps[name] = built.app
        await built.runtime.start()
    core.webhooks[workspace] = Subscription(
        f"{INGEST_URL}/v1/webhooks/core/{workspace}", "core-webhook-secret-" + "s" * 20
    )
    yield Platform(
        workspace,
        core,
        everhour,
        core_app,
        everhour_app,
        webhooks,
        apps,
        ann_core,
        ann_everhour,
        project,
        everhour_project,
        ticket_titled,
        ticket_new,
        task_titled,
    )
    for built in reversed(services.values()):
        await built.runtime.stop()


class _Lazy:
    """An ASGI app resolved at call time: the sandboxes need ingest before ingest exists."""

    def __init__(self, apps: dict[str, Any], name: str) -> None:
        self.apps = apps
        self.name = name

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.apps[self.name](scope, receive, send)


async def connect(platform: Platform) -> str:
    """The admin's setup, through the APIs: workspace, Test Connection, Connect, Project Mapping."""
    ws = platform.workspace
    async with platform.http("ingest", ADMIN) as ingest:
        secret = platform.core.webhooks[ws].secret
        put = await ingest.put(
            f"/v1/admin/workspaces/{ws}/webhook-secrets/core", json={"secret": secret}
        )
        assert put.status_code == 204, put.text
        put = await ingest.put(
            f"/v1/admin/workspaces/{ws}",
            json={"core_base_url": CORE_URL, "core_api_token": SERVICE},
        )
        assert put.status_code == 200, put.text
    async with platform.http("ingest") as ingest:
        test = await ingest.post(
            f"/v1/workspaces/{ws}/integrations/everhour/test", json={"api_key": ANN_KEY}
        )
        assert test.json()["ok"] is True, test.text
        connected = await ingest.post(
            f"/v1/workspaces/{ws}/integrations",
            json={
                "provider": "everhour",
                "api_key": ANN_KEY,
                "settings": {
                    "direction": "two_way",
                    "frequency": "realtime",
                    "unmapped_user_policy": "queue",
                    "conflict_policy": "manual_review",
                },
            },
        )
        assert connected.status_code == 201, connected.text
    integration: str = connected.json()["integration_id"]
    async with platform.http("mapping") as mapping:

        async def mapped() -> bool:
            answer = await mapping.put(
                f"/v1/workspaces/{ws}/integrations/{integration}/project-mappings/{platform.project}",
                json={"tracker_project_id": platform.everhour_project},
            )
            return answer.status_code == 200

        await wait_for(mapped)  # once mapping has its copy of the new connection
    return integration


async def log_in_core(platform: Platform, **fields: Any) -> str:
    async with platform.sandbox(platform.core_app) as core:
        created = await core.post(
            f"/_sandbox/workspaces/{platform.workspace}/time-entries",
            json={"user_id": platform.ann_core, "project_id": platform.project, **fields},
        )
        assert created.status_code == 201, created.text
    await platform.webhooks.drain()
    entry_id: str = created.json()["id"]
    return entry_id


async def sync_status(platform: Platform, source: str, entry: str) -> list[dict[str, Any]]:
    async with platform.http("reporting") as reporting:
        answer = await reporting.get(
            f"/v1/workspaces/{platform.workspace}/entries/{source}/{entry}/sync-status"
        )
        result: list[dict[str, Any]] = answer.json()
        return result


async def test_the_guide_end_to_end(platform: Platform) -> None:
    await connect(platform)

    # Time logged in Core on a ticket whose task exists in Everhour (matched by title).
    first = await log_in_core(
        platform,
        ticket_id=platform.ticket_titled,
        date=DAY.isoformat(),
        started_at="2026-11-20T08:00:00Z",
        duration_seconds=5400,
        notes="Login bug",
        billable=True,
    )

    async def synced(entry: str) -> list[dict[str, Any]]:
        statuses = await sync_status(platform, "core", entry)
        return [s for s in statuses if s["status"] == "synced"]

    [status] = await wait_for(lambda: synced(first), timeout_s=30)
    records = [r for r in platform.everhour.records.values() if r.task == platform.task_titled]
    assert len(records) == 1
    record = records[0]
    assert (record.user, record.date, record.time) == (platform.ann_everhour, DAY, 5400)
    assert "Login bug" in (record.comment or "")
    assert status["target_external_id"]

    # A ticket without a task: the task is created, titled after the ticket, and linked.
    second = await log_in_core(
        platform,
        ticket_id=platform.ticket_new,
        date=DAY.isoformat(),
        duration_seconds=1800,
        notes="CSV export",
    )
    await wait_for(lambda: synced(second), timeout_s=30)
    created = [t for t in platform.everhour.tasks.values() if t.name == "Export invoices"]
    assert len(created) == 1

    # Echoes of our own Everhour writes came back through Everhour's webhook and created nothing.
    assert (
        len([e for e in platform.core.entries.values() if e.workspace_id == platform.workspace])
        == 2
    )

    # Time logged in Everhour appears once in Core, on the linked ticket.
    async with platform.sandbox(platform.everhour_app) as everhour:
        added = await everhour.post(
            f"/tasks/{platform.task_titled}/time",
            json={
                "time": 2700,
                "date": (DAY + dt.timedelta(days=1)).isoformat(),
                "comment": "Review",
            },
            headers={"X-Api-Key": ANN_KEY},
        )
        assert added.status_code in (200, 201), added.text
    record_id = str(added.json()["id"])

    async def in_core() -> list[Any]:
        return [
            e
            for e in platform.core.entries.values()
            if e.external_ref is not None and e.external_ref.get("id") == record_id
        ]

    [entry] = await wait_for(in_core, timeout_s=30)
    assert (entry.user_id, entry.ticket_id, entry.duration_seconds) == (
        platform.ann_core,
        platform.ticket_titled,
        2700,
    )
    await wait_for(lambda: synced_everhour(platform, record_id), timeout_s=30)

    # Edits on both sides converge.
    async with platform.sandbox(platform.core_app) as core:
        edit = await core.patch(f"/_sandbox/time-entries/{first}", json={"duration_seconds": 6000})
        assert edit.status_code == 200, edit.text
    await platform.webhooks.drain()

    async def everhour_has(seconds: int) -> bool:
        return record.time == seconds

    await wait_for(lambda: everhour_has(6000), timeout_s=30)
    assert (
        len([e for e in platform.core.entries.values() if e.workspace_id == platform.workspace])
        == 3
    )
    assert len(platform.everhour.records) == 3


async def synced_everhour(platform: Platform, record_id: str) -> bool:
    statuses = await sync_status(platform, "everhour", record_id)
    return any(s["status"] == "synced" for s in statuses)
