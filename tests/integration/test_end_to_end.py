"""The Everhour guide end to end: every service, real Kafka and Postgres, both sandboxes.

Ingest, mapping, conflict-resolver and reporting run in this process on their own databases and
consumer groups; Core and Everhour are the sandboxes, reached (and posting their webhooks to
ingest) over httpx's ASGI transport. The admin sets everything up through the HTTP APIs, as the
guide's screens would: register the workspace, test and connect Everhour, map the project; then
people log, edit and delete time on both sides.

Everhour stamps a record's history to the second, so a person editing a record in the very
second Timebridge wrote it cannot be told from an echo of that write: before such an edit the
tests wait until the clock is past that second (:func:`after_last_change`), as a person would be.
"""

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from timebridge_providers.core.client import CoreClient
from timebridge_providers.everhour.client import EverhourClient

from timebridge_common.config import DlqLimitConfig
from timebridge_common.crypto import SecretBox
from timebridge_common.outbound.http import RequestBudget, RetryPolicy
from timebridge_common.runtime import Service
from timebridge_common.testing import LazyApp, in_memory_tracing, position_group_at_end, wait_for
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
from .resolver_entries import on_clients
from .sandbox_sessions import SandboxSessions

CORE_URL = "http://core.sandbox"
EVERHOUR_URL = "http://everhour.sandbox"
INGEST_URL = "http://ingest.test"
ADMIN = "platform-admin-token"
ANN_CORE = "core-ann-token"
SERVICE = "core-service-token"
ANN_KEY = "everhour-ann-key"
DAY = dt.date(2026, 11, 20)
SERVICES = ("ingest", "mapping", "conflict-resolver", "reporting")
TOLERANT = DlqLimitConfig(max_invalid_ratio=1, max_consecutive=10**9)
"""Other runs share the topics: their events name connections whose credentials this run's key
cannot open, and are dead-lettered here; they must not trip the dead-letter limit."""


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
    task_unbillable = everhour.add_task(everhour_project, "Internal meetings", unbillable=True)
    time = FakeTime()
    apps: dict[str, Any] = {}
    ingest_transport = httpx.ASGITransport(app=LazyApp(apps, "ingest"))
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
                dlq_limit=TOLERANT,
            ),
            pool=await make_pool(await create_database("e2e-ingest")),
            tracer_provider=in_memory_tracing("ingest")[0],
            clients=SandboxSessions.of_apps({"everhour": everhour_app, "core": core_app}),
            core=core_client,
        ),
        "mapping": bootstrap_mapping(
            MappingSettings(kafka=kafka, encryption_key=key, dlq_limit=TOLERANT),
            pool=await make_pool(await create_database("e2e-mapping")),
            tracer_provider=in_memory_tracing("mapping")[0],
            clients=SandboxSessions.of_apps({"everhour": everhour_app, "core": core_app}),
            core=core_client,
        ),
        "conflict-resolver": bootstrap_resolver(
            ResolverSettings(kafka=kafka, encryption_key=key, dlq_limit=TOLERANT),
            pool=await make_pool(await create_database("e2e-resolver")),
            tracer_provider=in_memory_tracing("conflict-resolver")[0],
            entries=on_clients(everhour_client, core_client),
            core=core_client,
        ),
        "reporting": bootstrap_reporting(
            ReportingSettings(kafka=kafka, dlq_limit=TOLERANT),
            pool=await make_pool(await create_database("e2e-reporting")),
            tracer_provider=in_memory_tracing("reporting")[0],
            core=core_client,
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
        task_unbillable,
    )
    for built in reversed(services.values()):
        await built.runtime.stop()


@pytest.fixture(scope="module")
async def integration(platform: Platform) -> str:
    """The Everhour integration, connected once for the module's scenarios."""
    return await connect(platform)


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


async def test_the_guide_end_to_end(platform: Platform, integration: str) -> None:
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


async def test_edits_on_both_sides_converge_without_an_echo_loop(
    platform: Platform, integration: str
) -> None:
    day = DAY + dt.timedelta(days=5)
    task = platform.task_titled
    # One entry that starts in Core, one record that starts in Everhour.
    planned = await log_in_core(
        platform,
        ticket_id=platform.ticket_titled,
        date=day.isoformat(),
        started_at=f"{day.isoformat()}T09:00:00Z",
        duration_seconds=3600,
        notes="Sprint planning",
    )
    await wait_for(lambda: synced_core(platform, planned), timeout_s=60)
    [copy_in_everhour] = records_of(platform, task, day)
    retro_day = day + dt.timedelta(days=1)
    added = await in_everhour(platform, "POST", task, time=1800, date=retro_day.isoformat())
    retro = str(added["id"])
    [copy_in_core] = await wait_for(holds(lambda: copies_of(platform, retro)), timeout_s=60)
    await wait_for(lambda: synced_everhour(platform, retro), timeout_s=60)

    # Ann edits each copy on its own side: the Everhour copy of her Core entry, and the Core
    # copy of her Everhour record (later than Timebridge wrote them). Everhour stamps changes to
    # the second, and a record's version is its newest stamp: the edit carried back to her
    # record must land in a later second than her own creation of it, or its sighting is the
    # same version (the same event id) and is rightly dropped as a duplicate.
    await after_last_change(copy_in_everhour)
    await after_last_change(platform.everhour.records[int(retro)])
    await in_everhour(
        platform, "PUT", task, time=5400, date=day.isoformat(), comment="Sprint planning"
    )
    await in_core(platform, "PATCH", copy_in_core.id, duration_seconds=2400, notes="Retro")

    core_entry = platform.core.entries[planned]
    retro_record = platform.everhour.records[int(retro)]
    await wait_for(holds(lambda: core_entry.duration_seconds == 5400), timeout_s=60)
    await wait_for(holds(lambda: retro_record.time == 2400), timeout_s=60)
    # Each origin's own sighting of the carried write comes back and finds both sides equal.
    await wait_for(
        lambda: status_says(platform, "core", planned, "already holds this version"),
        timeout_s=60,
    )
    await wait_for(
        lambda: status_says(platform, "everhour", retro, "already holds this version"),
        timeout_s=60,
    )
    assert await status_says(
        platform, "everhour", str(copy_in_everhour.id), f"applied (duration) to core {planned}"
    )
    assert await status_says(
        platform, "core", copy_in_core.id, f"applied (duration, notes) to everhour {retro}"
    )

    # Both systems equal, one record on each side, and each written by Timebridge only once.
    assert (core_entry.duration_seconds, copy_in_everhour.time) == (5400, 5400)
    assert (core_entry.started_at, core_entry.notes) == (
        dt.datetime.combine(day, dt.time(9), dt.UTC),
        "Sprint planning",
    )
    assert (copy_in_core.duration_seconds, copy_in_core.notes) == (2400, "Retro")
    assert (retro_record.time, retro_record.comment) == (2400, "Retro")
    assert [h["action"] for h in copy_in_everhour.history] == ["ADD", "EDIT"]  # ours, Ann's
    assert [h["action"] for h in retro_record.history] == ["ADD", "EDIT"]  # Ann's, ours
    assert (core_entry.version, copy_in_core.version) == (2, 2)
    assert records_of(platform, task, day) == [copy_in_everhour]
    assert records_of(platform, task, retro_day) == [retro_record]
    assert copies_of(platform, retro) == [copy_in_core]


async def test_deletes_on_both_sides_propagate(platform: Platform, integration: str) -> None:
    day = DAY + dt.timedelta(days=10)
    task = platform.task_titled
    entries = [
        await log_in_core(
            platform,
            ticket_id=platform.ticket_titled,
            date=day.isoformat(),
            duration_seconds=seconds,
            notes=notes,
        )
        for seconds, notes in ((3600, "Design"), (1800, "Review"))
    ]
    for entry in entries:

        async def synced(entry: str = entry) -> bool:
            return await synced_core(platform, entry)

        await wait_for(synced, timeout_s=60)
    [record] = records_of(platform, task, day)
    await wait_for(holds(lambda: record.time == 5400), timeout_s=60)

    # A Core delete lowers the Everhour sum; deleting the last entry removes the record.
    await in_core(platform, "DELETE", entries[1])
    await wait_for(holds(lambda: record.time == 3600), timeout_s=60)
    assert record.comment == "Design"
    await in_core(platform, "DELETE", entries[0])
    await wait_for(holds(lambda: not records_of(platform, task, day)), timeout_s=60)

    # An Everhour delete removes the Core entry it became.
    other_day = day + dt.timedelta(days=1)
    added = await in_everhour(
        platform, "POST", task, time=2700, date=other_day.isoformat(), comment="Sync"
    )
    record_id = str(added["id"])
    [copy] = await wait_for(holds(lambda: copies_of(platform, record_id)), timeout_s=60)
    await wait_for(lambda: synced_everhour(platform, record_id), timeout_s=60)
    await in_everhour(platform, "DELETE", task, date=other_day.isoformat())
    await wait_for(holds(lambda: copy.deleted_at is not None), timeout_s=60)
    assert copies_of(platform, record_id) == []
    assert not records_of(platform, task, other_day)


async def test_billable_follows_the_everhour_task_and_is_reported_towards_it(
    platform: Platform, integration: str
) -> None:
    day = DAY + dt.timedelta(days=15)
    # Everhour -> Core: the task is unbillable, so the Core entry is not billable.
    added = await in_everhour(
        platform, "POST", platform.task_unbillable, time=900, date=day.isoformat()
    )
    [entry] = await wait_for(holds(lambda: copies_of(platform, str(added["id"]))), timeout_s=60)
    assert (entry.billable, entry.project_id, entry.ticket_id) == (False, platform.project, None)

    # Core -> Everhour: a non-billable entry on a billable task is written, and the difference
    # is in its status (Everhour cannot mark one record unbillable).
    unbilled = await log_in_core(
        platform,
        ticket_id=platform.ticket_titled,
        date=day.isoformat(),
        duration_seconds=600,
        billable=False,
    )
    await wait_for(
        lambda: status_says(
            platform,
            "core",
            unbilled,
            "billable differs: core says not billable, the Everhour task is billable",
        ),
        timeout_s=60,
    )
    [record] = records_of(platform, platform.task_titled, day)
    assert record.time == 600


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
