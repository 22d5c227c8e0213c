"""Sync health tells the truth (issue 7), on real Kafka and Postgres with the Everhour sandbox.

A revoked key shows as an authentication failure in the integration's health (not a silent
retry), a webhook Everhour disabled after failed deliveries is noticed, re-activated and the gap
re-polled, and a saved connection is re-tested without pasting its key again.
"""

import datetime as dt
import json
from importlib import resources
from typing import Any

import asyncpg
import pytest
from timebridge_providers.everhour.observe import Seen, load_cursor
from timebridge_providers.kit.ports.observe import Hint

from timebridge_common.events import IntegrationSettings, TimeEntryLogged
from timebridge_common.events.codec import decode
from timebridge_common.events.health import ConnectionHealthChanged
from timebridge_common.kafka.dlt import decode_headers
from timebridge_common.testing import end_offsets, read_topic
from timebridge_ingest.adapters.inbox import PostgresDeliveryInbox

from .conftest import KAFKA, unique
from .everhour_ingest_world import (
    DAY,
    NOW,
    World,
    bearer,
    core_admin,
    ingest_http,
    new_workspace,
)
from .everhour_ingest_world import world as world_fixture  # noqa: F401 - the World, built once


@pytest.fixture(scope="module")
async def world(world_fixture: World) -> World:  # noqa: F811 - the imported fixture
    return world_fixture


def own_key(world: World, workspace: str) -> tuple[int, str]:
    """An Everhour user with a key of its own (revoking it leaves the other tests alone)."""
    key = unique("ek")
    return world.state.add_user(f"Owner {workspace}", api_key=key, email=f"{key}@acme.test"), key


async def health(world: World, workspace: str, integration_id: str, token: str) -> Any:
    async with ingest_http(world) as http:
        answer = await http.get(
            f"/v1/workspaces/{workspace}/integrations/{integration_id}/health",
            headers=bearer(token),
        )
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_a_revoked_key_shows_as_an_authentication_failure_until_it_works_again(
    world: World,
) -> None:
    workspace = await new_workspace(world)
    admin = core_admin(world, workspace)
    user, key = own_key(world, workspace)
    integration = await world.connections.connect(
        workspace, "everhour", key, IntegrationSettings(frequency="hourly")
    )
    poller = world.ingest.poller
    assert poller is not None
    changes_from = await end_offsets(KAFKA, ConnectionHealthChanged.topic())
    await poller.polling.sync_schedules(NOW)
    await poller.poll_one(integration.integration_id)
    ok = await health(world, workspace, integration.integration_id, admin)
    assert (ok["status"], ok["last_error"], ok["consecutive_failures"]) == ("ok", None, 0)

    world.state.users[user].api_key = "revoked-" + key  # the Everhour admin revoked the key
    await poller.poll_one(integration.integration_id)
    await poller.poll_one(integration.integration_id)
    revoked = await health(world, workspace, integration.integration_id, admin)
    assert revoked["status"] == "needs_reauthorisation"
    assert revoked["error_kind"] == "authentication"
    assert revoked["last_error"].startswith("authentication failed:")
    assert "401" in revoked["last_error"]
    assert revoked["consecutive_failures"] == 2
    assert revoked["last_ok_at"] == ok["last_ok_at"]
    row = await world.pool.fetchrow(
        "SELECT next_poll_at FROM poll_schedule WHERE connection_id = $1",
        integration.integration_id,
    )
    assert row["next_poll_at"] == NOW + dt.timedelta(minutes=15)  # later, not every minute

    world.state.users[user].api_key = key
    await poller.poll_one(integration.integration_id)
    back = await health(world, workspace, integration.integration_id, admin)
    assert (back["status"], back["error_kind"], back["consecutive_failures"]) == ("ok", None, 0)

    # Each change of state is on Kafka once (through the outbox), not once per refused poll.
    def ours(records: list[Any]) -> list[ConnectionHealthChanged]:
        events = [
            decode(decode_headers(r.headers), r.value, ConnectionHealthChanged)[1] for r in records
        ]
        return [e for e in events if e.connection_id == integration.integration_id]

    records = await read_topic(
        KAFKA, changes_from, until=lambda rs: any(e.state == "ok" for e in ours(rs))
    )
    changes = ours(records)
    assert [(e.previous_state, e.state, e.error_class) for e in changes] == [
        ("ok", "needs_reauthorisation", "authentication"),
        ("needs_reauthorisation", "ok", None),
    ]
    assert changes[0].provider_response is not None
    assert changes[0].provider_response.startswith("401")
    assert (changes[0].workspace_id, changes[0].provider) == (workspace, "everhour")


async def test_a_saved_connection_is_retested_without_its_key(world: World) -> None:
    workspace = await new_workspace(world)
    admin, member = core_admin(world, workspace), core_admin(world, workspace, "member")
    user, key = own_key(world, workspace)
    integration = await world.connections.connect(
        workspace, "everhour", key, IntegrationSettings(frequency="daily")
    )
    url = f"/v1/workspaces/{workspace}/integrations/{integration.integration_id}/retest"
    async with ingest_http(world) as http:
        good = await http.post(url, headers=bearer(admin))
        refused = await http.post(url, headers=bearer(member))
        world.state.users[user].api_key = "revoked-" + key
        bad = await http.post(url, headers=bearer(admin))
        world.state.users[user].api_key = key
        await world.connections.disconnect(workspace, integration.integration_id)
        gone = await http.post(url, headers=bearer(admin))
        unknown = await http.post(
            f"/v1/workspaces/{workspace}/integrations/int_nope/retest", headers=bearer(admin)
        )
    assert good.status_code == 200, good.text
    assert good.json()["ok"] is True
    assert good.json()["account"]["user_id"] == str(user)
    assert refused.status_code == 403
    assert (bad.json()["ok"], bad.json()["error_kind"]) == (False, "bad_key")
    assert gone.status_code == 409
    assert unknown.status_code == 404


async def test_a_webhook_everhour_disabled_is_re_activated_and_the_gap_re_polled(
    world: World,
) -> None:
    workspace = await new_workspace(world)
    admin = core_admin(world, workspace)
    _, key = own_key(world, workspace)
    integration = await world.connections.connect(
        workspace, "everhour", key, IntegrationSettings(direction="two_way")
    )
    assert integration.hook_id is not None
    poller = world.ingest.poller
    assert poller is not None
    await poller.polling.sync_schedules(NOW)
    await poller.poll_one(integration.integration_id)  # the window as it was: nothing new after

    hook = world.state.hooks[int(integration.hook_id)]
    hook.is_active = False  # Everhour gave up after failed deliveries
    before = await end_offsets(KAFKA, TimeEntryLogged.topic())
    async with world.everhour(key) as everhour:
        missed = await everhour.add_time(world.task, seconds=420, date=DAY)
    assert not [d for d in world.state.deliveries if d.hook_id == hook.id]  # the gap

    await poller.poll_one(integration.integration_id)
    renewed = await world.connections.get(workspace, integration.integration_id)
    assert renewed.hook_id is not None
    assert renewed.hook_id != integration.hook_id
    assert renewed.hook_token_hash == integration.hook_token_hash  # the same URL
    assert world.state.hooks[int(renewed.hook_id)].is_active
    assert world.state.hooks[int(renewed.hook_id)].target_url == hook.target_url
    assert hook.id not in world.state.hooks
    shown = await health(world, workspace, integration.integration_id, admin)
    assert "disabled the webhook" in shown["webhook_note"]
    assert shown["status"] == "ok"

    def ours(records: list[Any]) -> list[Any]:
        return [
            r
            for r in records
            if decode_headers(r.headers).get("ce_workspaceid") == workspace
            and json.loads(r.value)["external_id"] == str(missed.id)
        ]

    records = await read_topic(KAFKA, before, until=lambda rs: bool(ours(rs)))
    polled = TimeEntryLogged.model_validate_json(ours(records)[0].value)
    assert (polled.observed_via, polled.entry.duration_seconds) == ("poll", 420)

    async with world.everhour(key) as everhour:  # deliveries reach ingest again
        await everhour.add_time(world.task, seconds=60, date=DAY)
    assert [d.status for d in world.state.deliveries if d.hook_id == int(renewed.hook_id)] == [202]
    await poller.poll_one(integration.integration_id)  # a live hook is left as it is
    assert (await world.connections.get(workspace, integration.integration_id)).hook_id == (
        renewed.hook_id
    )


async def test_the_upgrade_keeps_what_the_last_poll_saw_and_the_waiting_deliveries(
    create_database: Any, make_pool: Any
) -> None:
    """Migration 0007: the window a poll saw moves into its cursor (so the first poll after the
    upgrade still sees a deletion), and waiting deliveries keep their ids, as text."""
    pool: asyncpg.Pool = await make_pool(await create_database("ingest-0007"))
    files = sorted(
        (f for f in resources.files("timebridge_ingest.adapters.migrations").iterdir()),
        key=lambda f: f.name,
    )
    for file in files:
        if file.name.endswith(".sql") and file.name < "0007":
            await pool.execute(file.read_text())
    await pool.execute(
        "INSERT INTO poll_schedule (connection_id, workspace_id, next_poll_at)"
        " VALUES ('int_1', 'ws', now())"
    )
    await pool.execute(
        "INSERT INTO poll_seen VALUES ('int_1', '77', '2026-11-20', 'f00', 1001, 'ev:9'),"
        " ('int_1', '78', '2026-11-19', 'f01', 1002, NULL)"
    )
    await pool.execute(
        "INSERT INTO everhour_deliveries (integration_id, record_id, record_date, user_id,"
        " task_id, next_attempt_at) VALUES ('int_1', 77, '2026-11-20', 1001, 'ev:9', now())"
    )
    [migration] = [f for f in files if f.name.startswith("0007")]
    await pool.execute(migration.read_text())
    cursor = await pool.fetchval("SELECT cursor FROM poll_schedule WHERE connection_id = 'int_1'")
    assert load_cursor(cursor) == {
        "77": Seen(dt.date(2026, 11, 20), "f00", 1001, "ev:9"),
        "78": Seen(dt.date(2026, 11, 19), "f01", 1002, None),
    }
    [pending] = await PostgresDeliveryInbox(pool).claim_due(
        dt.datetime.now(dt.UTC), dt.timedelta(minutes=5), 10
    )
    assert (pending.integration_id, pending.hint) == (
        "int_1",
        Hint("77", dt.date(2026, 11, 20), "1001", "ev:9"),
    )
