"""The thin path across the platform, on the real Kafka broker and PostgreSQL.

Signed Core webhook -> ingest (202 only after Kafka acked) -> TimeEntryLogged -> mapping stores it
idempotently in its own database, all in one trace.
"""

import datetime as dt
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from timebridge_common.crypto import SecretBox
from timebridge_common.events import TimeEntryLogged
from timebridge_common.kafka.dlt import decode_headers
from timebridge_common.testing import (
    end_offsets,
    in_memory_tracing,
    position_group_at_end,
    read_topic,
    wait_for,
)
from timebridge_ingest.bootstrap import Ingest
from timebridge_ingest.bootstrap import bootstrap as bootstrap_ingest
from timebridge_ingest.config import Settings as IngestSettings
from timebridge_ingest.domain.core_webhook import sign
from timebridge_mapping.bootstrap import Mapping
from timebridge_mapping.bootstrap import bootstrap as bootstrap_mapping
from timebridge_mapping.config import Settings as MappingSettings
from timebridge_mapping.domain.entries import EntryKey

from .conftest import KAFKA, kafka_config, unique
from .credential_owner import OWNER_SETTINGS

ADMIN = "integration-admin-token"
SECRET = "integration-secret-" + "x" * 20


@dataclass
class Platform:
    ingest: Ingest
    mapping: Mapping
    ingest_spans: InMemorySpanExporter
    mapping_spans: InMemorySpanExporter
    mapping_pool: asyncpg.Pool
    http: httpx.AsyncClient


@pytest.fixture(scope="module")
async def platform(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> AsyncIterator[Platform]:
    kafka = kafka_config()
    await position_group_at_end(KAFKA, f"{kafka.group_prefix}-mapping", topics)
    ingest_pool = await make_pool(await create_database("ingest"))
    mapping_pool = await make_pool(await create_database("mapping"))
    ingest_tracing, ingest_spans = in_memory_tracing("ingest")
    mapping_tracing, mapping_spans = in_memory_tracing("mapping")
    ingest = bootstrap_ingest(
        IngestSettings(
            kafka=kafka,
            encryption_key=SecretBox.generate_key(),
            admin_token=ADMIN,
            **OWNER_SETTINGS,  # required; Core's webhooks and stored entries reach no provider
        ),
        pool=ingest_pool,
        tracer_provider=ingest_tracing,
    )
    mapping = bootstrap_mapping(
        MappingSettings(kafka=kafka, **OWNER_SETTINGS),
        pool=mapping_pool,
        tracer_provider=mapping_tracing,
    )
    await ingest.runtime.start()
    await mapping.runtime.start()
    transport = httpx.ASGITransport(app=ingest.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:
        yield Platform(ingest, mapping, ingest_spans, mapping_spans, mapping_pool, http)
    await mapping.runtime.stop()
    await ingest.runtime.stop()


async def configure_workspace(platform: Platform) -> str:
    workspace = unique("ws")
    response = await platform.http.put(
        f"/v1/admin/workspaces/{workspace}/webhook-secrets/core",
        json={"secret": SECRET},
        headers={"authorization": f"Bearer {ADMIN}"},
    )
    assert response.status_code == 204, response.text
    return workspace


def core_webhook(workspace: str, delivery: str, entry_id: str, **entry: Any) -> bytes:
    return json.dumps(
        {
            "id": delivery,
            "type": "time_entry.created",
            "workspace_id": workspace,
            "occurred_at": "2026-11-21T10:00:00Z",
            "data": {
                "time_entry": {
                    "id": entry_id,
                    "user": {"id": "u_7", "email": "ann@acme.test", "name": "Ann"},
                    "project_id": "p_1",
                    "ticket_id": "T-42",
                    "date": "2026-11-21",
                    "started_at": "2026-11-21T08:00:00Z",
                    "duration_seconds": 2700,
                    "notes": "Pairing on the importer",
                    "billable": True,
                    "timezone": "Europe/Paris",
                    "updated_at": "2026-11-21T09:59:00Z",
                    "version": 1,
                    **entry,
                }
            },
        }
    ).encode()


async def post(
    platform: Platform, workspace: str, body: bytes, secret: str = SECRET
) -> httpx.Response:
    signature = sign(secret, int(time.time()), body)
    return await platform.http.post(
        f"/v1/webhooks/core/{workspace}",
        content=body,
        headers={"content-type": "application/json", "Core-Signature": signature},
    )


async def test_webhook_reaches_mapping_in_one_trace(platform: Platform) -> None:
    workspace = await configure_workspace(platform)
    response = await post(platform, workspace, core_webhook(workspace, "dlv-1", "te-1"))
    assert response.status_code == 202, response.text
    event_id = response.json()["event_id"]

    key = EntryKey(workspace, "core", "te-1")
    stored = await wait_for(lambda: platform.mapping.store.get(key))
    assert str(stored.last_event_id) == event_id
    assert stored.fields.user.email == "ann@acme.test"
    assert stored.fields.task_external_id == "T-42"
    assert stored.fields.duration_seconds == 2700
    assert stored.fields.started_at == dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.UTC)
    assert stored.fields.timezone == "Europe/Paris"
    assert stored.deleted is False

    server = next(
        s
        for s in platform.ingest_spans.get_finished_spans()
        if s.name == f"POST /v1/webhooks/core/{workspace}"
    )
    consumer = await wait_for(
        lambda: _span_with_message_id(platform.mapping_spans, event_id), timeout_s=5
    )
    assert consumer.context.trace_id == server.context.trace_id
    assert consumer.resource.attributes["service.name"] == "timebridge-mapping"
    assert server.resource.attributes["service.name"] == "timebridge-ingest"


async def _span_with_message_id(exporter: InMemorySpanExporter, event_id: str) -> Any:
    for span in exporter.get_finished_spans():
        attributes = span.attributes or {}
        if attributes.get("messaging.message.id") == event_id and span.name.startswith("process "):
            return span
    return None


async def test_same_webhook_posted_twice_is_stored_once(platform: Platform) -> None:
    """Two deliveries of one change (a replay of one delivery is not even republished: see
    test_webhook_replay) are two records with one event id, stored once."""
    workspace = await configure_workspace(platform)
    before = await end_offsets(KAFKA, TimeEntryLogged.topic())
    first = await post(platform, workspace, core_webhook(workspace, "dlv-dup", "te-dup"))
    second = await post(platform, workspace, core_webhook(workspace, "dlv-dup-2", "te-dup"))
    assert first.status_code == second.status_code == 202
    assert first.json()["event_id"] == second.json()["event_id"]
    event_id = first.json()["event_id"]

    def both_copies(records: list[Any]) -> bool:
        copies = [r for r in records if decode_headers(r.headers).get("ce_id") == event_id]
        return len(copies) == 2

    await read_topic(KAFKA, before, until=both_copies)

    # A later change of the same entry (same partition) proves both copies were consumed.
    later = core_webhook(workspace, "dlv-later", "te-dup", updated_at="2026-11-21T10:30:00Z")
    assert (await post(platform, workspace, later)).status_code == 202
    key = EntryKey(workspace, "core", "te-dup")
    await wait_for(
        lambda: _stored_updated_at(platform, key, dt.datetime(2026, 11, 21, 10, 30, tzinfo=dt.UTC))
    )
    rows = await platform.mapping_pool.fetchval(
        "SELECT count(*) FROM source_entries WHERE workspace_id = $1", workspace
    )
    claims = await platform.mapping_pool.fetchval(
        "SELECT count(*) FROM inbox WHERE event_id = $1::uuid", event_id
    )
    assert (rows, claims) == (1, 1)


async def _stored_updated_at(platform: Platform, key: EntryKey, when: dt.datetime) -> bool:
    stored = await platform.mapping.store.get(key)
    return stored is not None and stored.updated_at == when


async def test_refused_webhooks_publish_nothing(platform: Platform) -> None:
    workspace = await configure_workspace(platform)
    before = await end_offsets(KAFKA, TimeEntryLogged.topic())
    good = core_webhook(workspace, "dlv-ok", "te-ok")
    refused = [
        await post(platform, workspace, core_webhook(workspace, "d1", "te-bad"), secret="w" * 40),
        await post(platform, workspace, b"{broken"),
        await post(platform, workspace, core_webhook(workspace, "d2", "te-bad", billable="maybe")),
        await post(platform, unique("unknown"), good),
    ]
    assert [r.status_code for r in refused] == [401, 400, 422, 404]
    assert all(r.json()["detail"] for r in refused)
    assert (await post(platform, workspace, good)).status_code == 202

    def seen_sentinel(records: list[Any]) -> bool:
        return any(decode_headers(r.headers).get("ce_workspaceid") == workspace for r in records)

    records = await read_topic(KAFKA, before, until=seen_sentinel)
    ours = [r for r in records if decode_headers(r.headers).get("ce_workspaceid") == workspace]
    assert len(ours) == 1
    assert json.loads(ours[0].value)["external_id"] == "te-ok"
