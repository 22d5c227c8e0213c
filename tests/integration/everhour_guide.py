"""The Everhour guide's platform and what its people do, for ``test_end_to_end``.

Ingest, mapping, conflict-resolver and reporting (built by :class:`PlatformBuilder`) run in this
process on their own databases and consumer groups; Core and Everhour are the sandboxes, reached
(and posting their webhooks to ingest) over httpx's ASGI transport, on a fake clock for every
budget and back-off.
"""

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

from timebridge_common.testing import wait_for
from timebridge_sandboxes.core import CoreState, Subscription, Webhooks
from timebridge_sandboxes.everhour import EverhourState
from timebridge_sandboxes.testing import FakeTime

from .conftest import unique
from .platform import CORE_URL, PlatformBuilder

INGEST_URL = "http://ingest.test"
ADMIN = "platform-admin-token"
ANN_CORE = "core-ann-token"
SERVICE = "core-service-token"
ANN_KEY = "everhour-ann-key"
DAY = dt.date(2026, 11, 20)


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
    task_unbillable: str

    def http(self, service: str, token: str = ANN_CORE) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.apps[service]),
            base_url=f"http://{service}.test",
            headers={"authorization": f"Bearer {token}"},
        )

    def sandbox(self, app: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox")


@contextlib.asynccontextmanager
async def guide_platform(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
    name: str = "e2e",
) -> AsyncIterator[Platform]:
    """Ann in Core and in Everhour, a project with a ticket whose task exists in Everhour (by
    title), one without, and an unbillable task; the four services running. ``name`` keeps each
    module's databases apart (they are named per run, so two modules cannot share one)."""
    builder = PlatformBuilder(
        name,
        create_database,
        make_pool,
        time=FakeTime(),
        core_budget=(10, 1),
        everhour_budget=(20, 10),
    )
    core, everhour = builder.core, builder.everhour
    workspace = unique("ws")
    ann_core = core.add_user(workspace, "Ann", email="ann@acme.test", role="admin", token=ANN_CORE)
    core.add_service_token(workspace, SERVICE)
    project = core.add_project(workspace, "Website")
    ticket_titled = core.add_ticket(workspace, "Fix the login page", project_id=project)
    ticket_new = core.add_ticket(workspace, "Export invoices", project_id=project)
    ann_everhour = everhour.add_user("Ann", api_key=ANN_KEY, email="ANN@acme.test")
    everhour_project = everhour.add_project("Website")
    task_titled = everhour.add_task(everhour_project, "Fix the login page")
    task_unbillable = everhour.add_task(everhour_project, "Internal meetings", unbillable=True)
    await builder.add_ingest(admin_token=ADMIN, public_base_url=INGEST_URL)
    await builder.add_mapping()
    await builder.add_resolver()
    await builder.add_reporting()
    async with builder.running(topics):
        core.webhooks[workspace] = Subscription(
            f"{INGEST_URL}/v1/webhooks/core/{workspace}", "core-webhook-secret-" + "s" * 20
        )
        yield Platform(
            workspace,
            core,
            everhour,
            builder.core_app,
            builder.everhour_app,
            builder.webhooks,
            builder.apps,
            ann_core,
            ann_everhour,
            project,
            everhour_project,
            ticket_titled,
            ticket_new,
            task_titled,
            task_unbillable,
        )


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


async def synced_everhour(platform: Platform, record_id: str) -> bool:
    statuses = await sync_status(platform, "everhour", record_id)
    return any(s["status"] == "synced" for s in statuses)


async def in_everhour(platform: Platform, method: str, task: str, **body: Any) -> Any:
    """What Ann does in Everhour (its webhook then reaches ingest)."""
    async with platform.sandbox(platform.everhour_app) as everhour:
        answer = await everhour.request(
            method, f"/tasks/{task}/time", json=body, headers={"X-Api-Key": ANN_KEY}
        )
        assert answer.is_success, answer.text
        return answer.json()


async def in_core(platform: Platform, method: str, entry_id: str, **fields: Any) -> None:
    """What Ann does in Core's UI (Core then posts its webhook)."""
    async with platform.sandbox(platform.core_app) as core:
        answer = await core.request(
            method, f"/_sandbox/time-entries/{entry_id}", json=fields or None
        )
        assert answer.is_success, answer.text
    await platform.webhooks.drain()


def records_of(platform: Platform, task: str, day: dt.date) -> list[Any]:
    return [r for r in platform.everhour.records.values() if r.task == task and r.date == day]


def copies_of(platform: Platform, record_id: str) -> list[Any]:
    return [
        e
        for e in platform.core.entries.values()
        if e.external_ref == {"system": "everhour", "id": record_id} and e.deleted_at is None
    ]


def says(expected: str) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda statuses: any(expected in (s["reason"] or "") for s in statuses)


async def status_says(platform: Platform, source: str, entry: str, expected: str) -> bool:
    return says(expected)(await sync_status(platform, source, entry))


async def synced_core(platform: Platform, entry: str) -> bool:
    statuses = await sync_status(platform, "core", entry)
    return any(s["status"] == "synced" for s in statuses)


async def after_last_change(record: Any) -> None:
    """Wait until the clock is past the second of the record's last change in Everhour."""
    last = max(
        dt.datetime.strptime(h["createdAt"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
        for h in record.history
    )
    await wait_for(holds(lambda: dt.datetime.now(dt.UTC) >= last + dt.timedelta(seconds=1)))


def holds(check: Callable[[], Any]) -> Callable[[], Awaitable[Any]]:
    """``check`` (a look at the sandboxes' state) as the coroutine ``wait_for`` polls."""

    async def poll() -> Any:
        return check()

    return poll
