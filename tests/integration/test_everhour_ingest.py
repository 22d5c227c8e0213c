"""Everhour connections, webhooks and polling in ingest, on real Kafka and Postgres.

The Everhour sandbox answers the client over httpx's ASGI transport and delivers its webhooks to
the ingest app the same way; the Core sandbox answers the admin checks (``GET /me`` with the
caller's token); everything else (database, broker, outbox relay) is real.
"""

import datetime as dt
import hashlib
import json
from dataclasses import replace
from typing import Any

import httpx
import pytest

from timebridge_common.events import ConnectionChanged, IntegrationSettings, TimeEntryLogged
from timebridge_common.kafka.dlt import decode_headers
from timebridge_common.testing import end_offsets, read_topic
from timebridge_ingest.domain.errors import RejectedError
from timebridge_ingest.handlers.polling import LEASE

from .conftest import KAFKA
from .everhour_ingest_world import (
    ADMIN_KEY,
    DAY,
    NOW,
    TEST_TIMEOUT_S,
    World,
    bearer,
    core_admin,
    ingest_http,
    new_workspace,
)
from .everhour_ingest_world import world as world_fixture  # noqa: F401 - the World, built once


@pytest.fixture(scope="module")
async def world(world_fixture: World) -> World:  # noqa: F811 - the imported fixture
    """This module's World (the one built for it by the imported fixture)."""
    return world_fixture


async def test_connection_test_says_what_is_wrong(world: World) -> None:
    good = await world.connections.test("everhour", ADMIN_KEY)
    assert good.ok
    assert good.account == {
        "user_id": str(world.admin),
        "name": "Ann Admin",
        "email": "ann@acme.test",
    }
    bad = await world.connections.test("everhour", "ek-wrong")
    assert (bad.ok, bad.error_kind) == (False, "bad_key")
    world.faults.rate_limit_storm(requests=5, retry_after_s=7)
    limited = await world.connections.test("everhour", ADMIN_KEY)
    world.faults.rate_limit_storm()
    assert (limited.ok, limited.error_kind, limited.retry_after_s) == (False, "rate_limited", 7)
    with pytest.raises(RejectedError, match="connection test failed"):
        await world.connections.connect(
            await new_workspace(world), "everhour", "ek-wrong", IntegrationSettings()
        )


async def test_connect_registers_the_webhook_and_publishes_the_connection(world: World) -> None:
    workspace = await new_workspace(world)
    before = await end_offsets(KAFKA, ConnectionChanged.topic())
    integration = await world.connections.connect(
        workspace, "everhour", ADMIN_KEY, IntegrationSettings(direction="two_way")
    )
    assert integration.status == "connected"
    hook = world.state.hooks[int(integration.hook_id)]
    token = hook.target_url.removeprefix("http://ingest.test/v1/webhooks/everhour/")
    assert integration.hook_token_hash == hashlib.sha256(token.encode()).hexdigest() != token
    stored = await world.pool.fetchval(
        "SELECT api_key_enc FROM integrations WHERE integration_id = $1",
        integration.integration_id,
    )
    assert stored is None, "the credential owner holds the key: ingest keeps no copy"

    def ours(records: list[Any]) -> list[Any]:
        return [r for r in records if r.key == integration.integration_id.encode()]

    records = await read_topic(KAFKA, before, until=lambda rs: bool(ours(rs)))
    event = ConnectionChanged.model_validate_json(ours(records)[0].value)
    assert (event.provider, event.status, event.revision) == ("everhour", "connected", 1)
    assert event.settings == IntegrationSettings(direction="two_way")
    assert "credentials_encrypted" not in json.loads(ours(records)[0].value), "v2: no secret"


async def test_delivery_is_re_read_and_published(world: World) -> None:
    workspace = await new_workspace(world)
    integration = await world.connections.connect(
        workspace, "everhour", ADMIN_KEY, IntegrationSettings()
    )
    before = await end_offsets(KAFKA, TimeEntryLogged.topic())
    async with world.everhour() as everhour:
        record = await everhour.add_time(world.task, seconds=5400, date=DAY, comment="T-42 login")
    answers = [d.status for d in world.state.deliveries if d.hook_id == int(integration.hook_id)]
    assert answers == [202]

    def ours(records: list[Any]) -> list[Any]:
        return [r for r in records if decode_headers(r.headers).get("ce_workspaceid") == workspace]

    records = await read_topic(KAFKA, before, until=lambda rs: bool(ours(rs)))
    event = TimeEntryLogged.model_validate_json(ours(records)[0].value)
    webhook_event_id = decode_headers(ours(records)[0].headers)["ce_id"]
    assert (event.source, event.external_id, event.integration_id) == (
        "everhour",
        str(record.id),
        integration.integration_id,
    )
    assert event.entry.duration_seconds == 5400
    assert event.entry.task_external_id == world.task
    assert event.entry.user.email == "ann@acme.test"
    assert event.entry.notes == "T-42 login"
    assert event.entry.billable is True
    assert event.observed_via == "webhook"

    # A poll that sees the same version publishes it with the same event id: one sync downstream.
    poller = world.ingest.poller
    assert poller is not None
    before_poll = await end_offsets(KAFKA, TimeEntryLogged.topic())
    assert await poller.poll_tracker(integration, NOW) >= 1
    polled = [
        r
        for r in await read_topic(KAFKA, before_poll, until=lambda rs: bool(ours(rs)))
        if json.loads(r.value)["external_id"] == str(record.id)
    ]
    assert [decode_headers(r.headers)["ce_id"] for r in ours(polled)] == [webhook_event_id]

    target = world.state.hooks[int(integration.hook_id)].target_url
    await world.connections.disconnect(workspace, integration.integration_id)
    assert int(integration.hook_id) not in world.state.hooks
    transport = httpx.ASGITransport(app=world.ingest.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest.test") as http:
        late = await http.post(
            target.removeprefix("http://ingest.test"),
            content=json.dumps({"event": "api:time:updated", "payload": {"id": 1, "data": {}}}),
        )
    assert late.status_code == 404
    wiped = await world.pool.fetchval(
        "SELECT api_key_enc FROM integrations WHERE integration_id = $1",
        integration.integration_id,
    )
    assert wiped is None


async def test_polling_sees_changes_once_and_deletions(world: World) -> None:
    workspace = await new_workspace(world)
    integration = await world.connections.connect(
        workspace, "everhour", ADMIN_KEY, IntegrationSettings(frequency="hourly")
    )
    assert integration.hook_id is None
    poller = world.ingest.poller
    assert poller is not None
    async with world.everhour() as everhour:
        record = await everhour.add_time(world.task, seconds=1800, date=DAY - dt.timedelta(days=1))
    before = await end_offsets(KAFKA, TimeEntryLogged.topic())
    first = await poller.poll_tracker(integration, NOW)
    again = await poller.poll_tracker(integration, NOW)
    assert (first, again) == (len(world.state.records), 0)
    async with world.everhour() as everhour:
        await everhour.delete_time(world.task, date=DAY - dt.timedelta(days=1))
    assert await poller.poll_tracker(integration, NOW) == 1

    def ours(records: list[Any]) -> list[Any]:
        return [
            r
            for r in records
            if decode_headers(r.headers).get("ce_workspaceid") == workspace
            and json.loads(r.value)["external_id"] == str(record.id)
        ]

    records = await read_topic(KAFKA, before, until=lambda rs: len(ours(rs)) >= 2)
    seen = [TimeEntryLogged.model_validate_json(r.value) for r in ours(records)]
    assert [(e.deleted, e.observed_via) for e in seen] == [(False, "poll"), (True, "poll")]
    assert seen[0].entry.duration_seconds == 1800


async def test_a_rate_limited_poll_is_retried_later(world: World) -> None:
    workspace = await new_workspace(world)
    daily = IntegrationSettings(frequency="daily", timezone="Europe/Berlin")
    integration = await world.connections.connect(workspace, "everhour", ADMIN_KEY, daily)
    poller = world.ingest.poller
    assert poller is not None
    await poller.polling.sync_schedules(NOW)
    world.faults.rate_limit_storm(requests=10, retry_after_s=120)
    try:
        await poller.poll_one(integration.integration_id)
    finally:
        world.faults.rate_limit_storm()
    row = await world.pool.fetchrow(
        "SELECT next_poll_at, last_error FROM poll_schedule WHERE connection_id = $1",
        integration.integration_id,
    )
    assert "429" in row["last_error"]
    assert row["next_poll_at"] == NOW + dt.timedelta(seconds=120)
    await poller.poll_one(integration.integration_id)
    row = await world.pool.fetchrow(
        "SELECT next_poll_at, last_error FROM poll_schedule WHERE connection_id = $1",
        integration.integration_id,
    )
    berlin_midnight = dt.datetime(2026, 11, 21, 23, tzinfo=dt.UTC)  # the end of its day
    assert (row["last_error"], row["next_poll_at"]) == (None, berlin_midnight)


async def test_only_the_workspaces_core_admins_connect_change_and_disconnect(
    world: World,
) -> None:
    workspace = await new_workspace(world)
    admin, member = core_admin(world, workspace), core_admin(world, workspace, "member")
    elsewhere = core_admin(world, await new_workspace(world))  # an admin of another workspace
    intruders = (None, "ct-unknown", member, elsewhere)
    base = f"/v1/workspaces/{workspace}/integrations"
    body = {"provider": "everhour", "api_key": ADMIN_KEY, "settings": {"direction": "two_way"}}
    async with ingest_http(world) as http:
        refused = [
            (await http.post(base, json=body, headers=bearer(t))).status_code for t in intruders
        ]
        refused_test = [
            (await http.post(f"{base}/everhour/test", json=body, headers=bearer(t))).status_code
            for t in intruders
        ]
        assert refused == refused_test == [401, 401, 403, 403]
        assert await world.connections.list(workspace) == []

        connected = await http.post(base, json=body, headers=bearer(admin))
        assert connected.status_code == 201, connected.text
        integration_id = connected.json()["integration_id"]
        hook_id = int((await world.connections.get(workspace, integration_id)).hook_id)
        url = f"{base}/{integration_id}"
        patch = {"settings": {"direction": "two_way", "conflict_policy": "prefer_core"}}
        refused_patch = [
            (await http.patch(url, json=patch, headers=bearer(t))).status_code for t in intruders
        ]
        refused_delete = [
            (await http.delete(url, headers=bearer(t))).status_code for t in intruders
        ]
        refused_get = [(await http.get(url, headers=bearer(t))).status_code for t in intruders]
        assert refused_patch == refused_delete == refused_get == [401, 401, 403, 403]
        untouched = await world.connections.get(workspace, integration_id)
        assert (untouched.status, untouched.revision) == ("connected", 1)
        assert untouched.settings.conflict_policy == "manual_review"
        assert hook_id in world.state.hooks

        changed = await http.patch(url, json=patch, headers=bearer(admin))
        assert changed.status_code == 200, changed.text
        assert (changed.json()["settings"]["conflict_policy"], changed.json()["revision"]) == (
            "prefer_core",
            2,
        )

        before = await end_offsets(KAFKA, ConnectionChanged.topic())
        gone = await http.delete(url, headers=bearer(admin))
        again = await http.delete(url, headers=bearer(admin))
    assert gone.status_code == again.status_code == 200, gone.text
    assert (gone.json()["status"], gone.json()["webhook_registered"], gone.json()["revision"]) == (
        "disconnected",
        False,
        3,
    )
    assert again.json() == gone.json()  # disconnecting twice changes nothing
    assert hook_id not in world.state.hooks
    wiped = await world.pool.fetchval(
        "SELECT api_key_enc FROM integrations WHERE integration_id = $1", integration_id
    )
    assert wiped is None

    def ours(records: list[Any]) -> list[Any]:
        return [r for r in records if r.key == integration_id.encode()]

    [record] = ours(await read_topic(KAFKA, before, until=lambda rs: bool(ours(rs))))
    event = ConnectionChanged.model_validate_json(record.value)
    assert (event.status, event.revision) == ("disconnected", 3)


async def test_a_connection_test_that_times_out_says_so(world: World) -> None:
    workspace = await new_workspace(world)
    admin = core_admin(world, workspace)
    world.faults.slow_down(TEST_TIMEOUT_S * 3)
    try:
        async with ingest_http(world) as http:
            tested = await http.post(
                f"/v1/workspaces/{workspace}/integrations/everhour/test",
                json={"api_key": ADMIN_KEY},
                headers=bearer(admin),
            )
            connected = await http.post(
                f"/v1/workspaces/{workspace}/integrations",
                json={"provider": "everhour", "api_key": ADMIN_KEY},
                headers=bearer(admin),
            )
    finally:
        world.faults.slow_down(0)
    assert tested.status_code == 200, tested.text
    assert tested.json() == {
        "ok": False,
        "account": {},
        "error_kind": "timeout",
        "message": f"Everhour did not answer within {TEST_TIMEOUT_S:g} s",
        "retry_after_s": None,
    }
    assert connected.status_code == 504
    assert connected.json()["detail"] == (
        f"connection test failed: Everhour did not answer within {TEST_TIMEOUT_S:g} s"
    )
    assert await world.connections.list(workspace) == []


async def test_an_every_5_minutes_integration_is_polled_every_5_minutes(world: World) -> None:
    workspace = await new_workspace(world)
    integration = await world.connections.connect(
        workspace, "everhour", ADMIN_KEY, IntegrationSettings(frequency="every_5_minutes")
    )
    assert integration.hook_id is None  # near real time by polling, not webhooks
    poller = world.ingest.poller
    assert poller is not None
    day = DAY - dt.timedelta(days=5)
    async with world.everhour() as everhour:
        record = await everhour.add_time(world.task, seconds=600, date=day)
    before = await end_offsets(KAFKA, TimeEntryLogged.topic())
    await poller.polling.sync_schedules(NOW)
    assert integration.integration_id in await poller.polling.claim_due(NOW, LEASE)
    await poller.poll_one(integration.integration_id)

    async def next_poll() -> dt.datetime:
        at: dt.datetime = await world.pool.fetchval(
            "SELECT next_poll_at FROM poll_schedule WHERE connection_id = $1",
            integration.integration_id,
        )
        return at

    assert await next_poll() == NOW + dt.timedelta(minutes=5)
    async with world.everhour() as everhour:
        await everhour.add_time(world.task, seconds=300, date=day)  # the record is now 900 s
    almost = NOW + dt.timedelta(minutes=4, seconds=59)
    assert integration.integration_id not in await poller.polling.claim_due(almost, LEASE)
    later = NOW + dt.timedelta(minutes=5)
    assert integration.integration_id in await poller.polling.claim_due(later, LEASE)
    await replace(poller, clock=lambda: later).poll_one(integration.integration_id)
    assert await next_poll() == later + dt.timedelta(minutes=5)

    def ours(records: list[Any]) -> list[Any]:
        return [
            r
            for r in records
            if decode_headers(r.headers).get("ce_workspaceid") == workspace
            and json.loads(r.value)["external_id"] == str(record.id)
        ]

    records = await read_topic(KAFKA, before, until=lambda rs: len(ours(rs)) >= 2)
    seen = [TimeEntryLogged.model_validate_json(r.value) for r in ours(records)]
    assert [(e.entry.duration_seconds, e.observed_via) for e in seen] == [
        (600, "poll"),
        (900, "poll"),
    ]
