"""Polling Core (the scheduled frequencies, and the safety net for lost webhooks).

Core's sandbox answers the ingest's Core client over the ASGI transport; the poll publishes every
entry changed since its cursor, deletions included, with the same event id as the webhook of the
same change, so a change seen both ways is one event downstream.
"""

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx

from timebridge_common.crypto import SecretBox
from timebridge_common.events import TimeEntryLogged
from timebridge_common.kafka.dlt import decode_headers
from timebridge_common.testing import end_offsets, in_memory_tracing, read_topic
from timebridge_ingest.adapters.postgres import PostgresConnections
from timebridge_ingest.bootstrap import bootstrap
from timebridge_ingest.config import Settings
from timebridge_ingest.domain.connections import Workspace
from timebridge_sandboxes.core import CoreState, Subscription, Webhooks, create_core_sandbox
from timebridge_sandboxes.faults import RateLimit

from .conftest import KAFKA, kafka_config, unique
from .credential_owner import OWNER_SETTINGS
from .sandbox_sessions import SandboxSessions

SERVICE = "core-service-token-polling"
SECRET = "core-polling-secret-" + "p" * 20


async def test_poll_publishes_changes_and_deletions_with_the_webhooks_event_ids(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    workspace = unique("ws")
    core = CoreState()
    ann = core.add_user(workspace, "Ann", email="ann@acme.test", role="admin")
    core.add_service_token(workspace, SERVICE)
    apps: dict[str, Any] = {}

    async def ingest_app(scope: Any, receive: Any, send: Any) -> None:
        await apps["ingest"](scope, receive, send)

    webhooks = Webhooks(transport=httpx.ASGITransport(app=ingest_app))
    core_app = create_core_sandbox(core, rate_limit=RateLimit(10**6, 1), webhooks=webhooks)

    key = SecretBox.generate_key()
    pool = await make_pool(await create_database("ingest-core-poll"))
    ingest = bootstrap(
        Settings(
            kafka=kafka_config(),
            encryption_key=key,
            admin_token="a",
            poll_tick_s=3600,
            **OWNER_SETTINGS,  # required; the workspace below is not handed over: its own token
        ),
        pool=pool,
        tracer_provider=in_memory_tracing("ingest")[0],
        clients=SandboxSessions.of_apps({"core": core_app}),
    )
    apps["ingest"] = ingest.app
    await ingest.runtime.start()
    try:
        async with PostgresConnections(pool, SecretBox(key)).transaction() as tx:
            await tx.put_workspace(Workspace(workspace, "http://core.sandbox", SERVICE))
        await ingest.secrets.put(workspace, "core", SECRET)
        core.webhooks[workspace] = Subscription(
            f"http://ingest.test/v1/webhooks/core/{workspace}", SECRET
        )
        before = await end_offsets(KAFKA, TimeEntryLogged.topic())
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=core_app), base_url="http://core.sandbox"
        ) as sandbox:
            created = await sandbox.post(
                f"/_sandbox/workspaces/{workspace}/time-entries",
                json={"user_id": ann, "date": "2026-11-20", "duration_seconds": 900},
            )
            first = created.json()["id"]
            second = (
                await sandbox.post(
                    f"/_sandbox/workspaces/{workspace}/time-entries",
                    json={"user_id": ann, "date": "2026-11-20", "duration_seconds": 600},
                )
            ).json()["id"]
            await sandbox.delete(f"/_sandbox/time-entries/{second}")
        await webhooks.drain()

        poller = ingest.poller
        assert poller is not None
        now = dt.datetime.now(dt.UTC)
        await poller.polling.sync_schedules(now)
        assert await poller.poll_home(workspace, now) == 2

        def ours(records: list[Any]) -> list[Any]:
            return [
                r for r in records if decode_headers(r.headers).get("ce_workspaceid") == workspace
            ]

        records = ours(await read_topic(KAFKA, before, until=lambda rs: len(ours(rs)) >= 5))
        seen = [
            (json.loads(r.value)["external_id"], json.loads(r.value)["deleted"],
             json.loads(r.value)["observed_via"], decode_headers(r.headers)["ce_id"])
            for r in records
        ]  # fmt: skip
        webhook_ids = {(e, d): i for e, d, via, i in seen if via == "webhook"}
        polled = {(e, d): i for e, d, via, i in seen if via == "poll"}
        assert set(webhook_ids) == {(first, False), (second, False), (second, True)}
        assert polled == {k: webhook_ids[k] for k in ((first, False), (second, True))}
        cursor = await pool.fetchval(
            "SELECT cursor FROM poll_schedule WHERE connection_id = $1", f"core_{workspace}"
        )
        newest = max(e.updated_at for e in core.entries.values())
        assert dt.datetime.fromisoformat(cursor) == newest
        assert await poller.poll_home(workspace, now) == 1  # updated_since includes its boundary
    finally:
        await ingest.runtime.stop()
