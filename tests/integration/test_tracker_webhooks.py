"""Signed tracker webhooks through ingest on real Kafka and Postgres (issue 8).

Toggl and ClickUp sandboxes answer the providers' clients over httpx's ASGI transport and deliver
their webhooks to the ingest app the same way (the sandboxes' senders sign them as the providers
do). Connecting a real-time integration registers the hook with a secret ingest keeps sealed:
Toggl's subscription carries the secret ingest proposed and is validated by its signed ping;
ClickUp answers its own secret. A Toggl delivery is published as it comes (202 once in Kafka), a
ClickUp delivery is stored and its entry re-read; a replay is answered without publishing; a bad
signature is refused with 401 and nothing published. Wrike's hook is created with the secret
ingest proposes and verified by the HMAC handshake; its ``TimelogChanged`` deliveries (added,
edited, deleted) are re-read and published as the poll publishes them (one event). Hubstaff hands
its secret over in its verification request and the hook is activated with it; a ``timer.stop``
re-reads the user's day as the poll renders it (one event).
"""

import contextlib
import datetime as dt
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from timebridge_providers.installed import registry

from timebridge_common.crypto import SecretBox
from timebridge_common.events import IntegrationSettings, TimeEntryLogged
from timebridge_common.kafka.dlt import decode_headers
from timebridge_common.outbound.oauth import Tokens
from timebridge_common.testing import end_offsets, in_memory_tracing, read_topic
from timebridge_ingest.adapters.postgres import PostgresConnections
from timebridge_ingest.bootstrap import Ingest, bootstrap
from timebridge_ingest.config import Settings
from timebridge_ingest.domain.connections import Integration, Workspace
from timebridge_sandboxes.clickup import create_clickup_sandbox, demo_clickup
from timebridge_sandboxes.core import CoreState, create_core_sandbox
from timebridge_sandboxes.faults import RateLimit
from timebridge_sandboxes.hubstaff import create_hubstaff_sandbox, demo_hubstaff
from timebridge_sandboxes.toggl import create_toggl_sandbox, demo_toggl
from timebridge_sandboxes.wrike import create_wrike_sandbox, demo_wrike

from .conftest import KAFKA, kafka_config, unique
from .credential_owner import OWNER_SETTINGS, start_tracker_owner
from .sandbox_sessions import SandboxSessions

TOGGL_TOKEN, CLICKUP_TOKEN = "toggl-ann-token", "pk_ann_token"
WRIKE_TOKEN, HUBSTAFF_TOKEN = "wrike-ann-access", "hubstaff-ann-access"
PUBLIC = "http://ingest.test"


@dataclass
class World:
    ingest: Ingest
    pool: asyncpg.Pool
    box: SecretBox
    toggl: FastAPI
    clickup: FastAPI
    wrike: FastAPI
    hubstaff: FastAPI

    def http(self, app: FastAPI, base: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base)

    async def connect(
        self, provider: str, key: str, fields: dict[str, str], *, oauth: bool = False
    ) -> Integration:
        workspace = unique("ws")
        async with PostgresConnections(self.pool, self.box).transaction() as tx:
            await tx.put_workspace(Workspace(workspace, "http://core.sandbox", "core-token"))
        assert self.ingest.connections is not None
        tokens = None
        if oauth:  # an OAuth tracker's consent, done: its access token lives a day
            expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
            tokens = Tokens(key, f"rt-{provider}", expires)
        writable = registry().get(provider).profile.writable
        settings = IntegrationSettings(
            frequency="realtime", direction="two_way" if writable else "tracker_to_core"
        )
        return await self.ingest.connections.connect(
            workspace, provider, key, settings, fields, oauth=tokens
        )


@pytest.fixture(scope="module")
async def world(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> AsyncIterator[World]:
    ingest_app: dict[str, Any] = {}

    async def to_ingest(scope: Any, receive: Any, send: Any) -> None:
        await ingest_app["app"](scope, receive, send)

    deliver = httpx.ASGITransport(app=to_ingest)
    toggl = create_toggl_sandbox(
        demo_toggl(TOGGL_TOKEN, "toggl-max-token"),
        bucket=RateLimit(10_000, 1),
        quota=RateLimit(10_000, 3600),
        webhook_transport=deliver,
    )
    clickup = create_clickup_sandbox(
        demo_clickup(CLICKUP_TOKEN, "pk_max_token"),
        limit=RateLimit(10_000, 60),
        webhook_transport=deliver,
    )
    wrike = create_wrike_sandbox(
        demo_wrike(WRIKE_TOKEN, "wrike-max-access"),
        limit=RateLimit(10_000, 60),
        webhook_transport=deliver,
    )
    hubstaff = create_hubstaff_sandbox(
        demo_hubstaff(HUBSTAFF_TOKEN, "hubstaff-max-access"),
        limit=RateLimit(10_000, 3600),
        webhook_transport=deliver,
    )
    core = create_core_sandbox(CoreState(), rate_limit=RateLimit(10_000, 1))
    key = SecretBox.generate_key()
    pool = await make_pool(await create_database(unique("ingest-hooks")))
    stack = contextlib.AsyncExitStack()
    owner = await start_tracker_owner(
        stack, create_database, make_pool, unique("ingest-hooks-credentials")
    )
    ingest = bootstrap(
        Settings(
            kafka=kafka_config(),
            encryption_key=key,
            **OWNER_SETTINGS,
            admin_token="admin",
            public_base_url=PUBLIC,
            api_urls={
                "toggl": "http://toggl.sandbox/api/v9",
                "clickup": "http://clickup.sandbox/api",
                "wrike": "http://wrike.sandbox/api/v4",
                "hubstaff": "http://hubstaff.sandbox",
            },
            poll_tick_s=3600,
        ),
        pool=pool,
        tracer_provider=in_memory_tracing("ingest")[0],
        clients=SandboxSessions.of_apps(
            {"toggl": toggl, "clickup": clickup, "wrike": wrike, "hubstaff": hubstaff, "core": core}
        ),
        credentials=owner.source,
    )
    ingest_app["app"] = ingest.app
    await ingest.runtime.start()
    yield World(ingest, pool, SecretBox(key), toggl, clickup, wrike, hubstaff)
    await ingest.runtime.stop()
    await stack.aclose()


def records_of(records: list[Any], integration: Integration) -> list[Any]:
    return [
        r
        for r in records
        if decode_headers(r.headers).get("ce_workspaceid") == integration.workspace_id
    ]


def published_for(integration: Integration) -> Callable[[list[Any]], list[TimeEntryLogged]]:
    def ours(records: list[Any]) -> list[TimeEntryLogged]:
        return [
            TimeEntryLogged.model_validate_json(r.value)
            for r in records
            if decode_headers(r.headers).get("ce_workspaceid") == integration.workspace_id
        ]

    return ours


async def test_toggl_signed_delivery_reaches_kafka_and_a_forged_one_is_refused(
    world: World,
) -> None:
    integration = await world.connect("toggl", TOGGL_TOKEN, {})
    toggl = world.http(world.toggl, "http://toggl.sandbox")
    auth = httpx.BasicAuth(TOGGL_TOKEN, "api_token")
    workspace = world.toggl.state.toggl.workspace_id
    [subscription] = (
        await toggl.get(f"/webhooks/api/v1/subscriptions/{workspace}", auth=auth)
    ).json()
    assert subscription["validated_at"], "the signed ping was answered with its code"
    assert integration.hook_id == str(subscription["subscription_id"])
    stored = await world.pool.fetch("SELECT secret_enc FROM webhook_secrets")
    assert all(subscription["secret"] not in row["secret_enc"] for row in stored), "sealed"

    before = await end_offsets(KAFKA, TimeEntryLogged.topic())
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=2)
    made = await toggl.post(
        f"/api/v9/workspaces/{workspace}/time_entries",
        auth=auth,
        json={"start": start.isoformat(), "duration": 1800, "description": "hooked",
              "created_with": "test", "workspace_id": workspace},
    )  # fmt: skip
    assert made.status_code == 200, made.text
    ours = published_for(integration)
    records = await read_topic(KAFKA, before, until=lambda rs: bool(ours(rs)))
    [event] = ours(records)
    assert (event.source, event.external_id, event.integration_id) == (
        "toggl",
        str(made.json()["id"]),
        integration.integration_id,
    )
    assert (event.entry.duration_seconds, event.entry.notes, event.observed_via) == (
        1800,
        "hooked",
        "webhook",
    )

    # A poll that sees the same change publishes the same event (same id: same version, same
    # content, the date in Ann's zone either way): one sync downstream.
    assert world.ingest.poller is not None
    before_poll = await end_offsets(KAFKA, TimeEntryLogged.topic())
    assert await world.ingest.poller.poll_tracker(integration, dt.datetime.now(dt.UTC)) >= 1
    polled = await read_topic(KAFKA, before_poll, until=lambda rs: bool(ours(rs)))
    webhook_id = decode_headers(records_of(records, integration)[0].headers)["ce_id"]
    assert [decode_headers(r.headers)["ce_id"] for r in records_of(polled, integration)] == [
        webhook_id
    ]
    assert [e.model_copy(update={"observed_via": "webhook"}) for e in ours(polled)] == [event]
    assert event.entry.timezone == "Europe/Berlin", "the date in Ann's zone, as the poll has it"

    sent = (await toggl.get("/_sandbox/outbox")).json()[-1]
    ingest = world.http(world.ingest.app, PUBLIC)
    path = httpx.URL(sent["url"]).path
    replay = await ingest.post(path, content=sent["body"].encode(), headers=sent["headers"])
    assert (replay.status_code, replay.json()) == (202, {"status": "duplicate"})
    before_bad = await end_offsets(KAFKA, TimeEntryLogged.topic())
    forged_body = sent["body"].replace("hooked", "forged").encode()
    forged = await ingest.post(path, content=forged_body, headers=sent["headers"])
    assert forged.status_code == 401, forged.text
    assert "signature does not match" in forged.json()["detail"]
    unsigned = await ingest.post(path, content=forged_body)
    assert unsigned.status_code == 401
    unknown = await ingest.post("/v1/webhooks/toggl/not-a-hook", content=sent["body"].encode())
    assert unknown.status_code == 404
    # The next real change is the next event of this workspace: nothing came of the refused ones.
    later = await toggl.post(
        f"/api/v9/workspaces/{workspace}/time_entries",
        auth=auth,
        json={"start": start.isoformat(), "duration": 600, "description": "later",
              "created_with": "test", "workspace_id": workspace},
    )  # fmt: skip
    assert later.status_code == 200, later.text
    after = await read_topic(KAFKA, before_bad, until=lambda rs: bool(ours(rs)))
    assert [e.entry.notes for e in ours(after)] == ["later"], "nothing from a refused delivery"


async def test_clickup_signed_delivery_is_re_read_and_published(world: World) -> None:
    state = world.clickup.state.clickup
    integration = await world.connect("clickup", CLICKUP_TOKEN, {"team_id": str(state.team_id)})
    [hook] = state.hooks.values()
    task = next(iter(state.tasks))
    before = await end_offsets(KAFKA, TimeEntryLogged.topic())
    clickup = world.http(world.clickup, "http://clickup.sandbox")
    start = int((dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)).timestamp() * 1000)
    made = await clickup.post(
        f"/api/v2/team/{state.team_id}/time_entries",
        headers={"Authorization": CLICKUP_TOKEN},
        json={"start": start, "duration": 2_700_000, "tid": task, "description": "clicked"},
    )
    assert made.status_code == 200, made.text
    ours = published_for(integration)
    records = await read_topic(KAFKA, before, until=lambda rs: bool(ours(rs)))
    [event] = ours(records)
    assert (event.source, event.integration_id, event.observed_via) == (
        "clickup",
        integration.integration_id,
        "webhook",
    )
    assert (event.entry.duration_seconds, event.entry.notes) == (2700, "clicked")

    sent = (await clickup.get("/_sandbox/outbox")).json()[-1]
    assert sent["url"] == hook.endpoint
    ingest = world.http(world.ingest.app, PUBLIC)
    path = httpx.URL(sent["url"]).path
    replay = await ingest.post(path, content=sent["body"].encode(), headers=sent["headers"])
    assert (replay.status_code, replay.json()) == (202, {"status": "duplicate"})
    body = json.loads(sent["body"])
    body["data"]["interval_id"] = "999"
    forged = await ingest.post(path, content=json.dumps(body).encode(), headers=sent["headers"])
    assert forged.status_code == 401, forged.text


async def test_a_toggl_member_subscribes_and_hears_only_their_own_time(world: World) -> None:
    """Toggl filters a subscription's events by what its creator may see: a member's real-time
    connection subscribes (it is not refused) and is told only of the member's own entries."""
    integration = await world.connect("toggl", "toggl-max-token", {})
    assert integration.hook_id is not None
    toggl = world.http(world.toggl, "http://toggl.sandbox")
    workspace = world.toggl.state.toggl.workspace_id
    before = await end_offsets(KAFKA, TimeEntryLogged.topic())
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).replace(microsecond=0)
    for token, notes in (("toggl-ann-token", "ann's"), ("toggl-max-token", "max's")):
        made = await toggl.post(
            f"/api/v9/workspaces/{workspace}/time_entries",
            auth=httpx.BasicAuth(token, "api_token"),
            json={"start": start.isoformat(), "duration": 900, "description": notes,
                  "created_with": "test", "workspace_id": workspace},
        )  # fmt: skip
        assert made.status_code == 200, made.text
    ours = published_for(integration)
    records = await read_topic(KAFKA, before, until=lambda rs: bool(ours(rs)))
    assert [e.entry.notes for e in ours(records)] == ["max's"]
    outbox = (await toggl.get("/_sandbox/outbox")).json()
    subscription = next(
        s for s in world.toggl.state.toggl.subscriptions.values()
        if str(s.id) == integration.hook_id
    )  # fmt: skip
    told = [json.loads(d["body"]) for d in outbox if d["url"] == subscription.url_callback]
    assert [d["payload"]["description"] for d in told if d["payload"] != "ping"] == ["max's"]


async def _polled_once(world: World, integration: Integration, webhook_ids: list[str]) -> None:
    """A poll of what the webhooks already reported publishes the very same events."""
    assert world.ingest.poller is not None
    ours = published_for(integration)
    before = await end_offsets(KAFKA, TimeEntryLogged.topic())
    assert await world.ingest.poller.poll_tracker(integration, dt.datetime.now(dt.UTC)) >= 1
    polled = await read_topic(KAFKA, before, until=lambda rs: len(ours(rs)) >= len(webhook_ids))
    assert [decode_headers(r.headers)["ce_id"] for r in records_of(polled, integration)] == (
        webhook_ids
    ), "a webhook and a poll of the same change are one event"


async def test_wrike_timelog_changes_are_re_read_published_once_and_forgeries_refused(
    world: World,
) -> None:
    integration = await world.connect("wrike", WRIKE_TOKEN, {}, oauth=True)
    hooks = world.wrike.state.wrike_hooks
    [hook] = hooks.hooks.values()
    assert (hook.id, hook.status, hook.events) == (
        integration.hook_id,
        "Active",
        ["TimelogChanged"],
    )
    assert hook.secret, "created with the secret ingest proposed, verified by the HMAC handshake"
    state = world.wrike.state.wrike
    task = next(iter(state.tasks))
    wrike = world.http(world.wrike, "http://wrike.sandbox")
    auth = {"Authorization": f"Bearer {WRIKE_TOKEN}"}
    ours = published_for(integration)

    before = await end_offsets(KAFKA, TimeEntryLogged.topic())
    day = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).date().isoformat()
    made = await wrike.post(
        f"/api/v4/tasks/{task}/timelogs",
        headers=auth,
        data={"hours": "1.5", "trackedDate": day, "comment": "hooked"},
    )
    assert made.status_code == 200, made.text
    timelog = made.json()["data"][0]["id"]
    records = await read_topic(KAFKA, before, until=lambda rs: bool(ours(rs)))
    [event] = ours(records)
    assert (event.source, event.external_id, event.observed_via) == ("wrike", timelog, "webhook")
    assert (event.entry.duration_seconds, event.entry.notes) == (5400, "hooked")
    added = decode_headers(records_of(records, integration)[0].headers)["ce_id"]
    await _polled_once(world, integration, [added])

    # A forged or unsigned delivery is a 401 and nothing is published; a replay is a duplicate.
    sent = hooks.outbox[-1]
    ingest = world.http(world.ingest.app, PUBLIC)
    path = httpx.URL(sent.url).path
    replay = await ingest.post(path, content=sent.body, headers=sent.headers)
    assert (replay.status_code, replay.json()) == (202, {"status": "duplicate"})
    before_bad = await end_offsets(KAFKA, TimeEntryLogged.topic())
    forged = sent.body.replace(timelog.encode(), b"IEAL0000FORGED")
    assert (await ingest.post(path, content=forged, headers=sent.headers)).status_code == 401
    assert (await ingest.post(path, content=sent.body)).status_code == 401

    edited = await wrike.put(f"/api/v4/timelogs/{timelog}", headers=auth, data={"comment": "ed"})
    assert edited.status_code == 200, edited.text
    after = await read_topic(KAFKA, before_bad, until=lambda rs: bool(ours(rs)))
    [change] = ours(after)
    assert (change.entry.notes, change.observed_via) == ("ed", "webhook"), "nothing else came"
    await _polled_once(world, integration, [decode_headers(after[-1].headers)["ce_id"]])

    before_delete = await end_offsets(KAFKA, TimeEntryLogged.topic())
    gone = await wrike.delete(f"/api/v4/timelogs/{timelog}", headers=auth)
    assert gone.status_code == 200, gone.text
    deleted = await read_topic(KAFKA, before_delete, until=lambda rs: bool(ours(rs)))
    [deletion] = ours(deleted)
    assert (deletion.external_id, deletion.deleted, deletion.entry.task_external_id) == (
        timelog,
        True,
        task,
    )


async def test_hubstaff_timer_stop_is_re_read_as_the_poll_renders_the_day(world: World) -> None:
    state = world.hubstaff.state.hubstaff
    organization = str(state.organization_id)
    integration = await world.connect(
        "hubstaff", HUBSTAFF_TOKEN, {"organization_id": organization}, oauth=True
    )
    [hook] = world.hubstaff.state.hubstaff_hooks.hooks.values()
    assert (str(hook.id), hook.status) == (integration.hook_id, "active"), (
        "activated with the secret Hubstaff handed over in its verification request"
    )
    ann = next(u for u in state.users.values() if u.token == HUBSTAFF_TOKEN)
    project, task = next(iter(state.projects)), next(iter(state.tasks))
    hubstaff = world.http(world.hubstaff, "http://hubstaff.sandbox")
    ours = published_for(integration)
    before = await end_offsets(KAFKA, TimeEntryLogged.topic())
    start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    tracked = await hubstaff.post(
        f"/_sandbox/users/{ann.id}/track",
        json={"project_id": project, "task_id": task, "tracked": 2400,
              "start_time": start.isoformat()},
    )  # fmt: skip
    assert tracked.status_code == 200, tracked.text
    records = await read_topic(KAFKA, before, until=lambda rs: bool(ours(rs)))
    [event] = ours(records)
    assert (event.source, event.external_id, event.observed_via) == (
        "hubstaff",
        str(tracked.json()["id"]),
        "webhook",
    )
    assert (event.entry.duration_seconds, event.entry.task_external_id) == (2400, str(task))
    await _polled_once(
        world, integration, [decode_headers(records_of(records, integration)[0].headers)["ce_id"]]
    )
    url, headers, body = world.hubstaff.state.hubstaff_hooks.sent[-1]
    ingest = world.http(world.ingest.app, PUBLIC)
    forged = body.replace(b"2400", b"2401") if b"2400" in body else body + b" "
    refused = await ingest.post(httpx.URL(url).path, content=forged, headers=headers)
    assert refused.status_code == 401, refused.text
    # Hubstaff stops calling a hook (failed deliveries): the poll's check activates it again
    # with the secret ingest kept from the verification.
    stopped = await hubstaff.post(f"/_sandbox/webhooks/{hook.id}/deactivate")
    assert stopped.status_code == 204
    assert world.ingest.connections is not None
    await world.ingest.connections.keep_hook_alive(integration)
    assert hook.status == "active"
