"""Core's contracts by polling, the fallback to its signed webhooks: a contract whose webhook
never arrived reaches Kafka as ``ContractObserved`` (observed by poll) with the home system's
poll, and a version listed again is the same event (the same id).

The real ingest (bootstrap, its Poller and ContractPolls) polls the Core sandbox over ASGI with
a service token; no webhook subscription, so only the poll can publish. About 3 s.
"""

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx

from timebridge_common.crypto import SecretBox
from timebridge_common.events.contracts import ContractObserved
from timebridge_common.kafka.dlt import decode_headers
from timebridge_common.testing import end_offsets, in_memory_tracing, read_topic
from timebridge_ingest.adapters.postgres import PostgresConnections
from timebridge_ingest.bootstrap import bootstrap
from timebridge_ingest.config import Settings
from timebridge_ingest.domain.connections import Workspace
from timebridge_sandboxes.core import CoreState, create_core_sandbox
from timebridge_sandboxes.faults import RateLimit

from .conftest import KAFKA, kafka_config, unique
from .credential_owner import OWNER_SETTINGS
from .sandbox_sessions import SandboxSessions

SERVICE = "core-service-token-contract-polling"


async def test_a_contract_without_its_webhook_is_published_by_the_poll(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    workspace = unique("ws")
    core = CoreState()
    core.add_service_token(workspace, SERVICE)
    project = core.add_project(workspace, "Website")
    core_app = create_core_sandbox(core, rate_limit=RateLimit(10**6, 1))
    key = SecretBox.generate_key()
    pool = await make_pool(await create_database("ingest-contract-poll"))
    ingest = bootstrap(
        Settings(
            kafka=kafka_config(), encryption_key=key, admin_token="a", poll_tick_s=3600,
            **OWNER_SETTINGS,
        ),
        pool=pool,
        tracer_provider=in_memory_tracing("ingest")[0],
        clients=SandboxSessions.of_apps({"core": core_app}),
    )  # fmt: skip
    await ingest.runtime.start()
    try:
        async with PostgresConnections(pool, SecretBox(key)).transaction() as tx:
            await tx.put_workspace(Workspace(workspace, "http://core.sandbox", SERVICE))
        before = await end_offsets(KAFKA, ContractObserved.topic())
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=core_app), base_url="http://core.sandbox"
        ) as sandbox:
            draft = {"title": "Support", "client": {"id": "c_1", "name": "Acme"},
                     "currency": "USD", "starts_on": "2026-11-01",
                     "project_ids": [project]}  # fmt: skip
            made = (
                await sandbox.post(f"/_sandbox/workspaces/{workspace}/contracts", json=draft)
            ).json()
            poller = ingest.poller
            assert poller is not None
            await poller.poll_home(workspace, dt.datetime.now(dt.UTC))
            await sandbox.post(f"/_sandbox/contracts/{made['id']}/sign")
            await poller.poll_home(workspace, dt.datetime.now(dt.UTC))

        def ours(records: list[Any]) -> list[Any]:
            return [
                r for r in records if decode_headers(r.headers).get("ce_workspaceid") == workspace
            ]

        def signed(records: list[Any]) -> bool:
            return any(json.loads(r.value)["status"] == "signed" for r in ours(records))

        records = ours(await read_topic(KAFKA, before, until=signed))
        seen = [
            (json.loads(r.value)["external_id"], json.loads(r.value)["status"],
             json.loads(r.value)["observed_via"], decode_headers(r.headers)["ce_id"])
            for r in records
        ]  # fmt: skip
        # the poller's own background round may list a version too: the same event id
        ids = {s[:3]: {i for *v, i in seen if tuple(v) == s[:3]} for s in seen}
        assert list(ids) == [(made["id"], "draft", "poll"), (made["id"], "signed", "poll")]
        assert [len(i) for i in ids.values()] == [1, 1]
    finally:
        await ingest.runtime.stop()
