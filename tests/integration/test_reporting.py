"""Reporting on the real database and Kafka: sync log filters, entry status, health, and an
API that only the workspace's Core admins (as Core's sandbox says) may read."""

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
from timebridge_providers.core.client import CoreClient

from timebridge_common.db.migrations import apply_migrations
from timebridge_common.events import ConnectionChangedV1, Envelope
from timebridge_common.events.codec import encode
from timebridge_common.events.health import ConnectionHealthChanged
from timebridge_common.testing import (
    in_memory_tracing,
    position_group_at_end,
    sample_entry_synced,
    wait_for,
)
from timebridge_reporting.adapters.postgres import PostgresReadModels
from timebridge_reporting.bootstrap import bootstrap
from timebridge_reporting.config import Settings
from timebridge_reporting.domain.sync_log import SyncLogQuery
from timebridge_reporting.handlers.read_models import on_entry_synced
from timebridge_sandboxes.core import CoreState, create_core_sandbox
from timebridge_sandboxes.faults import RateLimit

from .conftest import KAFKA, kafka_config, unique

T0 = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC)


async def test_status_is_the_last_outcome_and_health_counts_the_backlog(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    pool = await make_pool(await create_database("reporting"))
    await apply_migrations(pool, "timebridge_reporting.adapters.migrations")
    models = PostgresReadModels(pool)
    outcomes = [
        sample_entry_synced(status="error", reason="Everhour answered 503", synced_at=T0),
        sample_entry_synced(status="synced", synced_at=T0 + dt.timedelta(minutes=1)),
        sample_entry_synced(
            source_external_id="te_2", status="queued", reason="user not mapped", synced_at=T0
        ),
        sample_entry_synced(
            source_external_id="te_3",
            status="conflict",
            reason="edited on both sides",
            synced_at=T0 + dt.timedelta(minutes=2),
        ),
    ]
    envelopes = [Envelope.for_event(e, producer="test") for e in outcomes]
    for envelope, event in zip(envelopes, outcomes, strict=True):
        assert await on_entry_synced(models, envelope, event)
    assert not await on_entry_synced(models, envelopes[0], outcomes[0])  # redelivery
    late = sample_entry_synced(status="error", reason="late", synced_at=T0 - dt.timedelta(hours=1))
    await on_entry_synced(models, Envelope.for_event(late, producer="test"), late)

    [status] = await models.entry_status("acme", "core", "te_1")
    assert (status["status"], status["target_external_id"]) == ("synced", "eh_1")

    errors = await models.sync_log("acme", SyncLogQuery(status="error"))
    assert [e["reason"] for e in errors] == ["Everhour answered 503", "late"]
    assert len(await models.sync_log("acme", SyncLogQuery(entry="te_2"))) == 1
    assert len(await models.sync_log("acme", SyncLogQuery(user="ANN@acme.test"))) == 5
    window = SyncLogQuery(since=T0, until=T0 + dt.timedelta(minutes=1))
    assert len(await models.sync_log("acme", window)) == 2

    health = await models.health("acme", "int_everhour", T0 + dt.timedelta(hours=1))
    assert health.last_success_at == T0 + dt.timedelta(minutes=1)
    assert health.last_error_at == T0
    assert (health.errors_24h, health.backlog, health.open_conflicts) == (2, 2, 1)


def refused_key(workspace: str, at: dt.datetime) -> ConnectionHealthChanged:
    return ConnectionHealthChanged(
        workspace_id=workspace,
        connection_id="int_1",
        integration_id="int_1",
        provider="everhour",
        state="needs_reauthorisation",
        previous_state="ok",
        error_class="authentication",
        message="authentication failed: everhour answered 401 to GET /team/time",
        provider_response='401 {"error":"Invalid API key"}',
        failures=1,
        changed_at=at,
    )


async def timeline_with_connection(
    answer: Awaitable[httpx.Response],
) -> list[dict[str, Any]] | None:
    rows: list[dict[str, Any]] = (await answer).json()
    return rows if any(r["kind"] == "connection" for r in rows) else None


async def test_the_api_is_for_the_workspaces_core_admins(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    workspace = unique("ws")
    core = CoreState()
    admin, member = unique("ct-admin"), unique("ct-member")
    core.add_user(workspace, "Ann", role="admin", token=admin)
    core.add_user(workspace, "Max", role="member", token=member)
    core_app = create_core_sandbox(core, rate_limit=RateLimit(10_000, 1))

    def core_client(base_url: str, token: str) -> CoreClient:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=core_app))
        return CoreClient(base_url, token, http=http)

    kafka = kafka_config().model_copy(update={"group_prefix": f"{kafka_config().group_prefix}-r"})
    await position_group_at_end(KAFKA, f"{kafka.group_prefix}-reporting", topics)
    pool = await make_pool(await create_database("reporting-api"))
    reporting = bootstrap(
        Settings(kafka=kafka),
        pool=pool,
        tracer_provider=in_memory_tracing("reporting")[0],
        core=core_client,
    )
    await reporting.runtime.start()
    try:
        for event in (
            ConnectionChangedV1(  # an old record of the deprecated v1 topic: read, upcast
                workspace_id=workspace,
                connection_id=f"core_{workspace}",
                provider="core",
                status="connected",
                base_url="http://core.sandbox",
                credentials_encrypted="v1:not-for-reporting",
                revision=1,
                changed_at=T0,
            ),
            sample_entry_synced(workspace_id=workspace, synced_at=T0),
            refused_key(workspace, T0 + dt.timedelta(minutes=2)),
            refused_key(workspace, T0 + dt.timedelta(minutes=2)),  # a replay: stored once
        ):
            same = uuid.uuid5(uuid.NAMESPACE_URL, event.model_dump_json())  # a replay: same id
            encoded = encode(event, Envelope.for_event(event, producer="test", event_id=same))
            await reporting.runtime.broker.publish(
                encoded.value, encoded.topic, key=encoded.key, headers=encoded.headers
            )
        models = PostgresReadModels(pool)
        await wait_for(lambda: models.entry_status(workspace, "core", "te_1"))
        transport = httpx.ASGITransport(app=reporting.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as http:

            async def as_(token: str | None, path: str) -> httpx.Response:
                headers = {} if token is None else {"authorization": f"Bearer {token}"}
                return await http.get(f"/v1/workspaces/{workspace}{path}", headers=headers)

            async def admitted() -> httpx.Response | None:
                # The Core connection's copy may land after the entry: until then, 404.
                answer = await as_(admin, "/sync-log")
                return answer if answer.status_code == 200 else None

            log: Any = (await wait_for(admitted)).json()
            assert [(e["source_external_id"], e["status"]) for e in log] == [("te_1", "synced")]
            # Ingest's "the tracker refused the key" is next to the entries' outcomes.
            timeline: Any = await wait_for(
                lambda: timeline_with_connection(as_(admin, "/sync-log/timeline"))
            )
            assert [(r["kind"], r["status"]) for r in timeline] == [
                ("connection", "error"),
                ("entry", "synced"),
            ]
            refused = timeline[0]
            assert refused["reason"].startswith("everhour refused the credential: reconnect it")
            assert (refused["source"], refused["state"]) == ("everhour", "needs_reauthorisation")
            assert refused["provider_response"] == '401 {"error":"Invalid API key"}'
            assert (await as_(admin, "/sync-log")).json() == log  # the entries' log unchanged
            errors = (await as_(admin, "/sync-log/timeline?status=error")).json()
            assert [r["kind"] for r in errors] == ["connection"]
            assert len((await as_(admin, "/connection-log?integration_id=int_1")).json()) == 1
            health = (await as_(admin, "/integrations/int_1/health")).json()
            assert health["connection"]["state"] == "needs_reauthorisation"
            assert health["connection"]["error_class"] == "authentication"
            paths = (
                "/sync-log",
                "/entries/core/te_1/sync-status",
                "/integrations/int_1/health",
                "/sync-log/timeline",
                "/connection-log",
            )
            for path in paths:
                answers = [(await as_(t, path)).status_code for t in (None, "ct-x", member, admin)]
                assert answers == [401, 401, 403, 200], path
    finally:
        await reporting.runtime.stop()
