"""The platform of the per-tracker end-to-end tests: every service in this process on real Kafka
and Postgres, one workspace per tracker, and the helpers the scenarios act and wait through."""

import asyncio
import contextlib
import datetime as dt
import functools
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
from timebridge_providers.core.client import CoreClient
from timebridge_providers.installed import registry

from timebridge_common.config import DlqLimitConfig
from timebridge_common.crypto import SecretBox
from timebridge_common.outbound.http import RequestBudget, RetryPolicy
from timebridge_common.runtime import Service
from timebridge_common.testing import LazyApp, in_memory_tracing, position_group_at_end, wait_for
from timebridge_conflict_resolver.bootstrap import bootstrap as bootstrap_resolver
from timebridge_conflict_resolver.config import Settings as ResolverSettings
from timebridge_ingest.bootstrap import Ingest
from timebridge_ingest.bootstrap import bootstrap as bootstrap_ingest
from timebridge_ingest.config import Settings as IngestSettings
from timebridge_mapping.bootstrap import bootstrap as bootstrap_mapping
from timebridge_mapping.config import Settings as MappingSettings
from timebridge_reporting.bootstrap import bootstrap as bootstrap_reporting
from timebridge_reporting.config import Settings as ReportingSettings
from timebridge_sandboxes.core import CoreState, Subscription, Webhooks, create_core_sandbox
from timebridge_sandboxes.faults import RateLimit
from timebridge_sandboxes.testing import FakeTime

from .conftest import KAFKA, kafka_config, unique
from .credential_owner import OWNER_SETTINGS, start_tracker_owner
from .sandbox_sessions import SandboxSessions
from .tracker_drivers_more import POLLED
from .trackers import TASK_TITLE, EverhourDriver, HarvestDriver, Held, Tracker

CORE_URL = "http://core.sandbox"
INGEST_URL = "http://ingest.test"
ADMIN = "platform-admin-token"
SERVICE = "core-service-token"
DAY = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=8)
"""Recent: a polled tracker's deletions are seen within ingest's look-back window (31 days)."""
SERVICES = ("ingest", "mapping", "conflict-resolver", "reporting")
TIMEOUT_S = int(os.environ.get("TB_E2E_TIMEOUT_S", "60"))
TOLERANT = DlqLimitConfig(max_invalid_ratio=1, max_consecutive=10**9)
"""Other runs share the topics: their events name connections whose credentials this run's key
cannot open, and are dead-lettered here; they must not trip the dead-letter limit."""
TRACKERS = ("everhour", "harvest", *(driver.name for driver in POLLED))
WRITABLE = tuple(name for name in TRACKERS if registry().get(name).profile.writable)
"""Core's entries are written only where the provider can be written (not Hubstaff)."""


@dataclass
class Workspace:
    """One tracker's workspace: Ann in Core, her project and ticket, the tracker's driver."""

    id: str
    tracker: Tracker
    ann_core: str
    ann_token: str
    service_token: str
    project: str
    ticket: str
    integration: str = ""
    days: dict[str, dt.date] = field(default_factory=dict)
    reporting: Callable[[], httpx.AsyncClient] = httpx.AsyncClient
    """Reporting's API as Ann (set once the platform runs)."""


@dataclass
class Platform:
    core: CoreState
    core_app: Any
    webhooks: Webhooks
    apps: dict[str, Any]
    services: dict[str, Service]
    workspaces: dict[str, Workspace]

    def http(self, service: str, token: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.apps[service]),
            base_url=f"http://{service}.test",
            headers={"authorization": f"Bearer {token}"},
        )


@pytest.fixture(scope="module")
async def platform(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> AsyncIterator[Platform]:
    kafka = kafka_config().model_copy(update={"group_prefix": f"{kafka_config().group_prefix}-e2t"})
    for name in SERVICES:
        await position_group_at_end(KAFKA, f"{kafka.group_prefix}-{name}", topics)
    core = CoreState()
    time = FakeTime()
    apps: dict[str, Any] = {}
    ingest_transport = httpx.ASGITransport(app=LazyApp(apps, "ingest"))
    webhooks = Webhooks(transport=ingest_transport, sleep=time.sleep)
    core_app = create_core_sandbox(core, rate_limit=RateLimit(10**6, 1), webhooks=webhooks)
    services: dict[str, Service] = {}

    async def poll(workspace: str) -> None:
        ingest = services["ingest"]
        assert isinstance(ingest, Ingest)
        assert ingest.poller is not None
        await ingest.poller.poll_one(found[workspace].integration)

    def poller(name: str) -> Callable[[], Awaitable[None]]:
        return lambda: poll(name)

    found: dict[str, Workspace] = {}
    trackers: list[Tracker] = [
        EverhourDriver(webhook_transport=ingest_transport),
        HarvestDriver(poll=poller("harvest")),
        *(driver(poller(driver.name)) for driver in POLLED),
    ]
    for i, tracker in enumerate(trackers):
        ws = unique(f"ws{tracker.name}")
        token = f"core-ann-token-{i}"
        ann = core.add_user(ws, "Ann", email=tracker.email, role="admin", token=token)
        core.add_service_token(ws, f"{SERVICE}-{i}")
        project = core.add_project(ws, "Website")
        ticket = core.add_ticket(ws, TASK_TITLE, project_id=project)
        core.webhooks[ws] = Subscription(
            f"{INGEST_URL}/v1/webhooks/core/{ws}", "core-webhook-secret-" + "s" * 20
        )
        found[tracker.name] = Workspace(ws, tracker, ann, token, f"{SERVICE}-{i}", project, ticket)

    def core_client(base_url: str, token: str) -> CoreClient:
        return CoreClient(
            base_url,
            token,
            http=httpx.AsyncClient(transport=httpx.ASGITransport(app=core_app)),
            budget=RequestBudget(10, 1, clock=time.clock, sleep=time.sleep),
            retry=RetryPolicy(max_attempts=3, sleep=time.sleep),
        )

    def sessions() -> SandboxSessions:
        return SandboxSessions.of_apps({"core": core_app, **{t.name: t.app for t in trackers}})

    key = SecretBox.generate_key()
    owning = contextlib.AsyncExitStack()
    owner = await start_tracker_owner(
        owning, create_database, make_pool, "e2t-credentials", kafka=kafka
    )
    owned: dict[str, Any] = {**OWNER_SETTINGS}
    services.update(
        {
            "ingest": bootstrap_ingest(
                IngestSettings(
                    kafka=kafka,
                    encryption_key=key,
                    **owned,
                    admin_token=ADMIN,
                    public_base_url=INGEST_URL,
                    poll_tick_s=3600,
                    dlq_limit=TOLERANT,
                ),
                pool=await make_pool(await create_database("e2t-ingest")),
                tracer_provider=in_memory_tracing("ingest")[0],
                clients=sessions(),
                core=core_client,
                credentials=owner.source,
            ),
            "mapping": bootstrap_mapping(
                MappingSettings(kafka=kafka, dlq_limit=TOLERANT, **owned),
                pool=await make_pool(await create_database("e2t-mapping")),
                tracer_provider=in_memory_tracing("mapping")[0],
                clients=sessions(),
                core=core_client,
                credentials=owner.source,
            ),
            "conflict-resolver": bootstrap_resolver(
                ResolverSettings(kafka=kafka, dlq_limit=TOLERANT, **owned),
                pool=await make_pool(await create_database("e2t-resolver")),
                tracer_provider=in_memory_tracing("conflict-resolver")[0],
                clients=sessions(),
                core=core_client,
                credentials=owner.source,
            ),
            "reporting": bootstrap_reporting(
                ReportingSettings(kafka=kafka, dlq_limit=TOLERANT),
                pool=await make_pool(await create_database("e2t-reporting")),
                tracer_provider=in_memory_tracing("reporting")[0],
                core=core_client,
            ),
        }
    )
    try:
        for name, built in services.items():
            apps[name] = built.app
            await built.runtime.start()
        platform = Platform(core, core_app, webhooks, apps, services, found)
        connected = await asyncio.gather(
            *(connect(platform, w) for w in found.values()), return_exceptions=True
        )
        failed = [repr(c) for c in connected if isinstance(c, BaseException)]
        assert not failed, "\n".join(failed)
        for workspace, integration in zip(found.values(), connected, strict=True):
            assert isinstance(integration, str)
            workspace.integration = integration
            workspace.reporting = functools.partial(platform.http, "reporting", workspace.ann_token)
        yield platform
    finally:  # a failed connect must not leave the consumers running (the run would hang)
        for built in reversed(services.values()):
            await built.runtime.stop()
        await owning.aclose()


@pytest.fixture(params=TRACKERS)
def ws(request: pytest.FixtureRequest, platform: Platform) -> Workspace:
    workspace: Workspace = platform.workspaces[request.param]
    return workspace


async def connect(platform: Platform, ws: Workspace) -> str:
    """The admin's setup, through the APIs: workspace, Test Connection, Connect, Project Mapping."""
    tracker = ws.tracker
    async with platform.http("ingest", ADMIN) as ingest:
        secret = platform.core.webhooks[ws.id].secret
        put = await ingest.put(
            f"/v1/admin/workspaces/{ws.id}/webhook-secrets/core", json={"secret": secret}
        )
        assert put.status_code == 204, put.text
        put = await ingest.put(
            f"/v1/admin/workspaces/{ws.id}",
            json={"core_base_url": CORE_URL, "core_api_token": ws.service_token},
        )
        assert put.status_code == 200, put.text
    body: dict[str, Any] = {"api_key": tracker.key, "fields": tracker.fields}
    if registry().get(tracker.name).profile.auth == "oauth2":  # the whole consent, for the owner
        body["oauth"] = {"refresh_token": f"rt-{tracker.name}", "expires_in": 86_400}
    async with platform.http("ingest", ws.ann_token) as ingest:
        # The provider's connection fields are checked against its profile before any call.
        test_url = f"/v1/workspaces/{ws.id}/integrations/{tracker.name}/test"
        unknown = await ingest.post(
            test_url, json={**body, "fields": {**tracker.fields, "colour": "t1"}}
        )
        assert unknown.status_code == 422, unknown.text
        assert "takes no connection field colour" in unknown.json()["detail"]
        if tracker.fields:
            missing = await ingest.post(test_url, json={**body, "fields": {}})
            assert missing.status_code == 422, missing.text
            assert "needs the connection field" in missing.json()["detail"]
            assert all(key in missing.json()["detail"] for key in tracker.fields)
        test = await ingest.post(
            f"/v1/workspaces/{ws.id}/integrations/{tracker.name}/test", json=body
        )
        assert test.status_code == 200, f"{tracker.name}: {test.text}"
        assert test.json()["ok"] is True, f"{tracker.name}: {test.text}"
        connected = await ingest.post(
            f"/v1/workspaces/{ws.id}/integrations",
            json={
                **body,
                "provider": tracker.name,
                "settings": {
                    "direction": "two_way" if tracker.writable else "tracker_to_core",
                    "frequency": "realtime",
                    "unmapped_user_policy": "queue",
                    "conflict_policy": "manual_review",
                },
            },
        )
        assert connected.status_code == 201, f"{tracker.name}: {connected.text}"
        assert connected.json()["fields"] == tracker.fields
    integration: str = connected.json()["integration_id"]
    async with platform.http("mapping", ws.ann_token) as mapping:
        last: list[str] = []

        async def mapped() -> bool:
            answer = await mapping.put(
                f"/v1/workspaces/{ws.id}/integrations/{integration}/project-mappings/{ws.project}",
                json={"tracker_project_id": tracker.project},
            )
            last[:] = [answer.text]
            return answer.status_code == 200

        try:
            await wait_for(mapped)  # once mapping has its copy of the new connection
        except AssertionError as exc:
            raise AssertionError(f"{tracker.name}: project mapping: {last}") from exc
        if not tracker.writable:  # no Core entry goes there, so no task is matched by title
            linked = await mapping.put(
                f"/v1/workspaces/{ws.id}/integrations/{integration}/task-links/{ws.ticket}",
                json={"tracker_task_id": tracker.task},
            )
            assert linked.status_code == 200, f"{tracker.name}: {linked.text}"
    return integration


async def log_in_core(platform: Platform, ws: Workspace, **fields: Any) -> str:
    """What Ann does in Core's UI (Core then posts its webhook), in her zone."""
    zone = {"timezone": ws.tracker.zone} if ws.tracker.zone else {}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=platform.core_app), base_url="http://sandbox"
    ) as core:
        created = await core.post(
            f"/_sandbox/workspaces/{ws.id}/time-entries",
            json={"user_id": ws.ann_core, "project_id": ws.project, **zone, **fields},
        )
        assert created.status_code == 201, created.text
    await platform.webhooks.drain()
    entry_id: str = created.json()["id"]
    return entry_id


async def in_core(platform: Platform, method: str, entry_id: str, **fields: Any) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=platform.core_app), base_url="http://sandbox"
    ) as core:
        answer = await core.request(
            method, f"/_sandbox/time-entries/{entry_id}", json=fields or None
        )
        assert answer.is_success, answer.text
    await platform.webhooks.drain()


async def sync_status(
    platform: Platform, ws: Workspace, source: str, entry: str
) -> list[dict[str, Any]]:
    async with platform.http("reporting", ws.ann_token) as reporting:
        answer = await reporting.get(f"/v1/workspaces/{ws.id}/entries/{source}/{entry}/sync-status")
        result: list[dict[str, Any]] = answer.json()
        return result


async def until(ws: Workspace, check: Callable[[], Any]) -> Any:
    """Wait for ``check`` on the sandboxes' state, letting ingest observe the tracker meanwhile
    (polled trackers are polled; Everhour's webhooks arrive by themselves). On a timeout, the
    failure shows the workspace's sync log and what the tracker holds."""

    async def poll() -> Any:
        await ws.tracker.observed()
        return check()

    try:
        return await wait_for(poll, timeout_s=TIMEOUT_S)
    except AssertionError as exc:
        async with ws.reporting() as reporting:
            log = (await reporting.get(f"/v1/workspaces/{ws.id}/sync-log")).text
        raise AssertionError(f"{ws.tracker.name}: {log}\nheld: {ws.tracker.held()}") from exc


async def written(
    ws: Workspace, check: Callable[[], Any], platform: Platform | None = None, entry: str = ""
) -> Any:
    """Wait for the resolver's write to show in the tracker (and, given the Core ``entry``, for
    its status to say so), observing the tracker meanwhile: a poll may land between the
    resolver's write and its commit, and must still come back as an echo, never as a copy
    (the resolver retries such an observation until its write is committed)."""

    async def recorded() -> bool:
        if platform is None:
            return True
        since = platform.core.entries[entry].updated_at
        async with ws.reporting() as reporting:
            rows = (await reporting.get(f"/v1/workspaces/{ws.id}/sync-log")).json()
        return any(
            (row["source"], row["source_external_id"], row["target"])
            == ("core", entry, ws.tracker.name)
            and row["status"] in {"synced", "conflict"}
            and dt.datetime.fromisoformat(row["source_updated_at"]) >= since
            for row in rows
        )

    async def done() -> Any:
        await ws.tracker.observed()
        return await recorded() and check()

    try:
        return await wait_for(done, timeout_s=TIMEOUT_S)
    except AssertionError as exc:
        async with ws.reporting() as reporting:
            log = (await reporting.get(f"/v1/workspaces/{ws.id}/sync-log")).text
        raise AssertionError(f"{ws.tracker.name}: {log}\nheld: {ws.tracker.held()}") from exc


def held_on(ws: Workspace, day: dt.date) -> list[Held]:
    return [h for h in ws.tracker.held() if h.date == day]


def copies_of(platform: Platform, ws: Workspace, record_id: str) -> list[Any]:
    return [
        e
        for e in platform.core.entries.values()
        if e.external_ref == {"system": ws.tracker.name, "id": record_id} and e.deleted_at is None
    ]


def core_entries(platform: Platform, ws: Workspace, day: dt.date) -> list[Any]:
    return [
        e
        for e in platform.core.entries.values()
        if e.workspace_id == ws.id and e.date == day and e.deleted_at is None
    ]
