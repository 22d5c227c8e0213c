"""Everhour webhooks in ingest under load and attack (issues 12 and 13), on real Kafka/Postgres.

The webhook token is a secret (never logged, traced or stored in clear), garbage is a 4xx, an
echo of our own write costs at most one read (shared by the records of one day), the user list
is cached, pending deliveries are bounded, HTTP pools are reused, and a one-way Core -> tracker
integration neither registers a webhook nor polls.
"""

import asyncio
import datetime as dt
import hashlib
import json
from importlib import resources
from typing import Any

import asyncpg
import httpx
import pytest
import structlog
from timebridge_providers.kit.clients import ProviderClients

from timebridge_common.events import IntegrationSettings, TimeEntryLogged
from timebridge_common.kafka.dlt import decode_headers
from timebridge_common.kafka.publisher import UnavailableError
from timebridge_common.testing import end_offsets, read_topic
from timebridge_ingest.adapters.inbox import PostgresDeliveryInbox
from timebridge_ingest.domain.connections import Integration
from timebridge_ingest.handlers.hooks import DeliveryWorker, HookIntake
from timebridge_ingest.handlers.observing import observers

from .conftest import KAFKA
from .everhour_ingest_world import ADMIN_KEY, DAY, NOW, World, ingest_http, new_workspace
from .everhour_ingest_world import world as world_fixture  # noqa: F401 - the World, built once


@pytest.fixture(scope="module")
async def world(world_fixture: World) -> World:  # noqa: F811 - the imported fixture
    """This module's World: the ingest service, both sandboxes, real Kafka and Postgres."""
    return world_fixture


LATER = NOW + dt.timedelta(days=30)
"""Rows stored for this time are not due for the ingest's own worker (its clock says NOW)."""


def token_of(world: World, integration: Integration) -> str:
    assert integration.hook_id is not None
    return world.state.hooks[int(integration.hook_id)].target_url.rsplit("/", 1)[1]


async def drained(world: World, integration_id: str, timeout_s: float = 10.0) -> None:
    """Until the worker has published every pending delivery of the integration."""
    inbox = PostgresDeliveryInbox(world.pool)
    async with asyncio.timeout(timeout_s):
        while await inbox.pending(integration_id):  # noqa: ASYNC110 - another task's database rows
            await asyncio.sleep(0.05)


def of_workspace(workspace: str) -> Any:
    return lambda rs: [
        r for r in rs if decode_headers(r.headers).get("ce_workspaceid") == workspace
    ]


async def test_the_webhook_token_is_never_logged_traced_or_stored(world: World) -> None:
    workspace = await new_workspace(world)
    world.spans.clear()
    merge = structlog.contextvars.merge_contextvars
    with structlog.testing.capture_logs(processors=[merge]) as logs:
        integration = await world.connections.connect(
            workspace, "everhour", ADMIN_KEY, IntegrationSettings()
        )
        token = token_of(world, integration)
        async with world.everhour() as everhour:
            await everhour.add_time(world.task, seconds=60, date=DAY - dt.timedelta(days=40))
        await drained(world, integration.integration_id)
    hashed = hashlib.sha256(token.encode()).hexdigest()
    assert [d.status for d in world.state.deliveries if d.hook_id == int(integration.hook_id or 0)]
    assert token not in repr(logs)
    stored = [entry for entry in logs if entry["event"] == "webhook delivery stored"]
    assert stored
    assert stored[0]["path"] == f"/v1/webhooks/everhour/{hashed}"
    spans = world.spans.get_finished_spans()
    assert any(hashed in s.name for s in spans)
    assert not [s for s in spans if token in s.name or token in repr(dict(s.attributes or {}))]
    rows = await world.pool.fetch(
        "SELECT row_to_json(i)::text AS r FROM integrations i"
        " UNION ALL SELECT row_to_json(p)::text FROM pending_hooks p"
    )
    assert not [r for r in rows if token in r["r"]]
    assert [r for r in rows if hashed in r["r"]]


async def test_the_migration_hashes_the_tokens_already_stored(
    create_database: Any, make_pool: Any
) -> None:
    pool: asyncpg.Pool = await make_pool(await create_database("ingest-hook-hash"))
    files = sorted(
        (f for f in resources.files("timebridge_ingest.adapters.migrations").iterdir()),
        key=lambda f: f.name,
    )
    for file in files:
        if file.name.endswith(".sql") and file.name < "0005":
            await pool.execute(file.read_text())
    await pool.execute("INSERT INTO workspaces VALUES ('ws', 'http://core', 'enc', 1, now())")
    await pool.execute(
        "INSERT INTO integrations (integration_id, workspace_id, provider, base_url, status,"
        " settings, hook_token) VALUES ('int_1', 'ws', 'everhour', 'http://e', 'connected',"
        " '{}', 'old-token')"
    )
    await pool.execute("INSERT INTO pending_hooks VALUES ('pending-token', 'ws', now())")
    [migration] = [f for f in files if f.name.startswith("0005")]
    await pool.execute(migration.read_text())
    assert await pool.fetchval("SELECT hook_token_hash FROM integrations") == (
        hashlib.sha256(b"old-token").hexdigest()
    )
    assert await pool.fetchval("SELECT hook_token_hash FROM pending_hooks") == (
        hashlib.sha256(b"pending-token").hexdigest()
    )


def delivery(
    record_id: Any = 7, user: Any = 1, task: Any = "ev:1", date: str = "2026-11-01"
) -> Any:
    data = {
        "id": record_id,
        "time": 60,
        "user": user,
        "date": date,
        "task": {"id": task, "name": "t"},
    }
    return json.dumps({"event": "api:time:updated", "payload": {"id": task, "data": data}})


async def test_garbage_in_everhour_deliveries_is_a_4xx(world: World) -> None:
    workspace = await new_workspace(world)
    integration = await world.connections.connect(
        workspace, "everhour", ADMIN_KEY, IntegrationSettings()
    )
    path = f"/v1/webhooks/everhour/{token_of(world, integration)}"
    cases: list[tuple[str, bytes | str, dict[str, Any]]] = [
        (path, b"\xff\xfe\x00garbage", {}),
        (path, b"", {}),
        (path, "not json", {}),
        (path, json.dumps({"event": "api:time:updated", "payload": {"data": []}}), {}),
        (path, delivery(record_id=2**70), {}),
        (path, delivery(record_id=-3), {}),
        (path, delivery(user=2**64), {}),
        (path, delivery(task="ev:\u0000\u00e9"), {}),
        (path, delivery(task="x" * 5000), {}),
        (path, delivery(date="2026-13-45"), {}),
        (path, b"x" * 2_000_000, {}),
        ("/v1/webhooks/everhour/%C3%A9%00%FF", delivery(), {}),
        ("/v1/webhooks/everhour/", delivery(), {}),
        (path + "/more", delivery(), {}),
        ("/v1/webhooks/everhour/" + "a" * 10_000, delivery(), {}),
    ]
    async with ingest_http(world) as http:
        answers = [
            (await http.post(p, content=body, headers=headers)).status_code
            for p, body, headers in cases
        ]
        handshake = await http.post(path, content=b"", headers={b"X-Hook-Secret": b"\xe9\xff"})
        odd_header = await http.post(path, content=delivery(), headers={b"x-odd": b"\xff\xfe"})
    assert [a for a in answers if not 400 <= a < 500] == [], answers
    assert handshake.status_code == 200
    assert odd_header.status_code == 202  # a valid delivery, whatever else its headers carry
    await drained(world, integration.integration_id)


async def test_echoes_cost_at_most_one_read_and_the_user_list_is_cached(world: World) -> None:
    workspace = await new_workspace(world)
    integration = await world.connections.connect(
        workspace, "everhour", ADMIN_KEY, IntegrationSettings(direction="two_way")
    )
    for hook_id in set(world.state.hooks) - {int(integration.hook_id or 0)}:
        del world.state.hooks[hook_id]  # earlier tests' integrations: their reads are not ours
    before = await end_offsets(KAFKA, TimeEntryLogged.topic())
    world.requests.clear()
    writes = 12
    async with world.everhour() as everhour:
        for day in range(writes):  # what the conflict-resolver's writes look like to Everhour
            await everhour.add_time(world.task, seconds=600, date=DAY - dt.timedelta(days=60 + day))
    await drained(world, integration.integration_id)
    gets = [path for method, path in world.requests if method == "GET"]
    assert gets.count("/team/users") <= 1, gets
    assert len([p for p in gets if p != "/team/users"]) <= writes, gets
    assert not [p for p in gets if p.startswith("/tasks/")], gets  # the task comes with the record
    ours = of_workspace(workspace)
    records = await read_topic(KAFKA, before, until=lambda rs: len(ours(rs)) >= writes)
    assert len(ours(records)) == writes


async def test_pending_records_of_a_day_share_one_read_and_one_http_pool(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = await new_workspace(world)
    integration = await world.connections.connect(
        workspace, "everhour", ADMIN_KEY, IntegrationSettings(frequency="hourly")
    )
    assert integration.hook_id is None  # no deliveries: the hints below are the only ones
    users = [
        world.state.add_user(
            f"Dev {i}", api_key=f"ek-{workspace}-{i}", email=f"dev{i}-{workspace}@acme.test"
        )
        for i in range(5)
    ]
    days = [DAY - dt.timedelta(days=90), DAY - dt.timedelta(days=91)]
    async with world.everhour() as everhour:
        records = [
            await everhour.add_time(world.task, seconds=300, date=day, user_id=user)
            for day in days
            for user in users
        ]
    inbox = PostgresDeliveryInbox(world.pool)
    hooks = HookIntake(world.connections.store, inbox, clock=lambda: LATER)
    hash_ = "f" * 64
    await world.pool.execute(
        "UPDATE integrations SET hook_token_hash = $2 WHERE integration_id = $1",
        integration.integration_id,
        hash_,
    )
    for record in records:
        body = delivery(record.id, record.user, world.task, record.date.isoformat())
        assert (await hooks.receive("everhour", hash_, {}, body.encode())).accepted
    built: list[int] = []
    original = httpx.AsyncClient.__init__

    def counting(self: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        built.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", counting)
    clients = ProviderClients(transport=httpx.ASGITransport(app=world.recorded))
    worker = DeliveryWorker(
        world.connections.store,
        inbox,
        observers(clients),
        world.ingest.publisher,
        lambda: LATER,
        10,
        access=world.access,  # the key is at the credential owner, as in the service
    )
    before = await end_offsets(KAFKA, TimeEntryLogged.topic())
    world.requests.clear()
    assert await worker.drain_once() == len(records)
    assert await inbox.pending(integration.integration_id) == 0
    gets = [path for method, path in world.requests if method == "GET"]
    assert sorted(gets) == ["/team/time", "/team/time", "/team/users"]  # 10 records, 3 reads
    assert (len(built), clients.pools_opened) == (1, 1)
    await clients.aclose()
    ours = of_workspace(workspace)
    published = await read_topic(KAFKA, before, until=lambda rs: len(ours(rs)) >= len(records))
    events = [TimeEntryLogged.model_validate_json(r.value) for r in ours(published)]
    assert sorted(e.external_id for e in events) == sorted(str(r.id) for r in records)
    assert {e.entry.user.email for e in events} == {
        f"dev{i}-{workspace}@acme.test" for i in range(5)
    }


async def test_pending_deliveries_are_bounded_and_coalesced(world: World) -> None:
    workspace = await new_workspace(world)
    integration = await world.connections.connect(
        workspace, "everhour", ADMIN_KEY, IntegrationSettings()
    )
    hash_ = hashlib.sha256(token_of(world, integration).encode()).hexdigest()
    inbox = PostgresDeliveryInbox(world.pool)
    hooks = HookIntake(world.connections.store, inbox, clock=lambda: LATER, max_pending=3)
    for record_id in (101, 102, 103, 101, 101):
        assert (await hooks.receive("everhour", hash_, {}, delivery(record_id).encode())).accepted
    with pytest.raises(UnavailableError):
        await hooks.receive("everhour", hash_, {}, delivery(104).encode())
    assert await inbox.pending(integration.integration_id) == 3
    # A delivery arriving while its record is being read makes the record due again.
    claimed = await inbox.claim_due(LATER, dt.timedelta(minutes=5), 10)
    mine = [p for p in claimed if p.integration_id == integration.integration_id]
    assert sorted((p.hint.external_id, p.seq) for p in mine) == [
        ("101", 3),
        ("102", 1),
        ("103", 1),
    ]
    await hooks.receive("everhour", hash_, {}, delivery(102).encode())
    await inbox.done(mine, LATER)
    again = await inbox.claim_due(LATER, dt.timedelta(minutes=5), 10)
    assert [p.hint.external_id for p in again if p.integration_id == mine[0].integration_id] == [
        "102"
    ]
    await inbox.drop(integration.integration_id)


async def test_a_one_way_core_to_tracker_integration_does_not_listen(world: World) -> None:
    poller = world.ingest.poller
    assert poller is not None
    workspace = await new_workspace(world)
    hooks_before = set(world.state.hooks)
    one_way = IntegrationSettings(direction="core_to_tracker")
    integration = await world.connections.connect(workspace, "everhour", ADMIN_KEY, one_way)
    assert integration.hook_id is None
    assert set(world.state.hooks) == hooks_before

    async def scheduled() -> bool:
        await poller.polling.sync_schedules(NOW)
        found: bool = await world.pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM poll_schedule WHERE connection_id = $1)",
            integration.integration_id,
        )
        return found

    assert not await scheduled()
    world.requests.clear()
    assert await poller.poll_tracker(integration, NOW) == 0
    assert world.requests == []

    two_way = await world.connections.update_settings(
        workspace, integration.integration_id, IntegrationSettings(direction="two_way")
    )
    assert two_way.hook_id is not None
    assert int(two_way.hook_id) in world.state.hooks
    assert await scheduled()
    back = await world.connections.update_settings(workspace, integration.integration_id, one_way)
    assert (back.hook_id, back.hook_token_hash) == (None, None)
    assert int(two_way.hook_id) not in world.state.hooks
    assert not await scheduled()

    other = await world.connections.connect(
        await new_workspace(world),
        "everhour",
        ADMIN_KEY,
        IntegrationSettings(direction="tracker_to_core"),
    )
    assert other.hook_id is not None
    assert int(other.hook_id) in world.state.hooks
