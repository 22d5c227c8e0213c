"""Replayed webhooks are published once (issue 13 item 2), on the real Kafka and PostgreSQL.

A signed Core delivery posted five times is one record on the topic; the replay window lives in
ingest's database, is written only after Kafka acknowledged, and a claim left by a crash
between the two is taken over (a duplicate, never a loss).
"""

import asyncio
import datetime as dt
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka.errors import KafkaConnectionError

from timebridge_common.crypto import SecretBox
from timebridge_common.events import Envelope, TimeEntryLogged
from timebridge_common.kafka.dlt import decode_headers
from timebridge_common.kafka.publisher import kafka_producer
from timebridge_common.testing import end_offsets, in_memory_tracing, read_topic
from timebridge_common.webhooks.replay import PostgresReplayWindow
from timebridge_ingest.bootstrap import Ingest
from timebridge_ingest.bootstrap import bootstrap as bootstrap_ingest
from timebridge_ingest.config import Settings as IngestSettings
from timebridge_ingest.domain.core_webhook import sign

from .conftest import KAFKA, kafka_config, unique
from .credential_owner import OWNER_SETTINGS

ADMIN = "replay-admin-token"
SECRET = "replay-secret-" + "r" * 30


@dataclass
class Gateway:
    ingest: Ingest
    pool: asyncpg.Pool
    http: httpx.AsyncClient


@pytest.fixture(scope="module")
async def gateway(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> AsyncIterator[Gateway]:
    pool = await make_pool(await create_database("replay-ingest"))
    ingest = bootstrap_ingest(
        IngestSettings(
            kafka=kafka_config(),
            encryption_key=SecretBox.generate_key(),
            admin_token=ADMIN,
            poll_tick_s=3600,
            **OWNER_SETTINGS,  # required; Core's webhooks reach no provider
        ),
        pool=pool,
        tracer_provider=in_memory_tracing("ingest")[0],
    )
    await ingest.runtime.start()
    transport = httpx.ASGITransport(app=ingest.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:
        yield Gateway(ingest, pool, http)
    await ingest.runtime.stop()


async def _workspace(gateway: Gateway) -> str:
    workspace = unique("ws")
    answer = await gateway.http.put(
        f"/v1/admin/workspaces/{workspace}/webhook-secrets/core",
        json={"secret": SECRET},
        headers={"authorization": f"Bearer {ADMIN}"},
    )
    assert answer.status_code == 204, answer.text
    return workspace


def _delivery(workspace: str, delivery: str, entry_id: str) -> bytes:
    return json.dumps(
        {
            "id": delivery,
            "type": "time_entry.created",
            "workspace_id": workspace,
            "occurred_at": "2026-11-21T10:00:00Z",
            "data": {
                "time_entry": {
                    "id": entry_id,
                    "user": {"id": "u_1", "email": "ann@acme.test"},
                    "project_id": "p_1",
                    "date": "2026-11-21",
                    "duration_seconds": 1800,
                    "billable": True,
                    "updated_at": "2026-11-21T09:59:00Z",
                    "version": 1,
                }
            },
        }
    ).encode()


async def _post(gateway: Gateway, workspace: str, body: bytes, signature: str) -> httpx.Response:
    return await gateway.http.post(
        f"/v1/webhooks/core/{workspace}",
        content=body,
        headers={"content-type": "application/json", "Core-Signature": signature},
    )


async def _records_of(workspace: str, before: Any, sentinel_entry: str) -> list[Any]:
    """The workspace's records since ``before``, read until the sentinel entry's record."""

    def entry(record: Any) -> str:
        return str(json.loads(record.value)["external_id"])

    def ours(records: list[Any]) -> list[Any]:
        return [r for r in records if decode_headers(r.headers).get("ce_workspaceid") == workspace]

    records = await read_topic(
        KAFKA, before, until=lambda rs: any(entry(r) == sentinel_entry for r in ours(rs))
    )
    return [r for r in ours(records) if entry(r) != sentinel_entry]


async def test_a_core_delivery_replayed_five_times_is_one_record(gateway: Gateway) -> None:
    workspace = await _workspace(gateway)
    before = await end_offsets(KAFKA, TimeEntryLogged.topic())
    body = _delivery(workspace, "dlv-replayed", "te-replayed")
    signature = sign(SECRET, int(time.time()), body)
    answers = [await _post(gateway, workspace, body, signature) for _ in range(5)]
    assert [a.status_code for a in answers] == [202] * 5, answers[-1].text
    assert [a.json()["status"] for a in answers] == ["accepted"] + ["duplicate"] * 4
    assert len({a.json()["event_id"] for a in answers}) == 1

    sentinel = _delivery(workspace, "dlv-sentinel", "te-sentinel")
    sent = await _post(gateway, workspace, sentinel, sign(SECRET, int(time.time()), sentinel))
    assert sent.status_code == 202
    records = await _records_of(workspace, before, "te-sentinel")
    assert len(records) == 1
    assert decode_headers(records[0].headers)["ce_id"] == answers[0].json()["event_id"]

    row = await gateway.pool.fetchrow(
        "SELECT done_at, expires_at FROM webhook_deliveries WHERE receiver = $1"
        " AND delivery_key = 'dlv-replayed'",
        f"core:{workspace}",
    )
    assert row is not None
    assert row["done_at"] is not None
    # Kept for as long as the signature is accepted (5 minutes), plus a margin; no longer.
    left = row["expires_at"] - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=5) < left <= dt.timedelta(minutes=6, seconds=5)


async def test_a_claim_left_by_a_crash_is_taken_over_and_published(gateway: Gateway) -> None:
    """A crash between Kafka's acknowledgement and the record leaves an open claim: once its
    lease ran out, the delivery is published again (a duplicate, never a loss)."""
    workspace = await _workspace(gateway)
    now = dt.datetime.now(dt.UTC)
    await gateway.pool.execute(
        "INSERT INTO webhook_deliveries (receiver, delivery_key, claimed_at, expires_at)"
        " VALUES ($1, 'dlv-crashed', $2, $3)",
        f"core:{workspace}",
        now - dt.timedelta(minutes=1),
        now + dt.timedelta(minutes=5),
    )
    before = await end_offsets(KAFKA, TimeEntryLogged.topic())
    body = _delivery(workspace, "dlv-crashed", "te-crashed")
    answer = await _post(gateway, workspace, body, sign(SECRET, int(time.time()), body))
    assert (answer.status_code, answer.json()["status"]) == (202, "accepted"), answer.text
    sentinel = _delivery(workspace, "dlv-sentinel-2", "te-sentinel-2")
    await _post(gateway, workspace, sentinel, sign(SECRET, int(time.time()), sentinel))
    assert len(await _records_of(workspace, before, "te-sentinel-2")) == 1


async def test_expired_rows_are_purged(gateway: Gateway) -> None:
    workspace = await _workspace(gateway)
    old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    await gateway.pool.execute(
        "INSERT INTO webhook_deliveries (receiver, delivery_key, claimed_at, done_at, expires_at)"
        " VALUES ('core:expired', 'dlv-old', $1, $1, $1)",
        old,
    )
    fresh = PostgresReplayWindow(gateway.pool)  # purges with its first claim, then each minute
    now = dt.datetime.now(dt.UTC)
    await fresh.claim(
        f"core:{workspace}", "dlv-x", now=now, expires_at=now + dt.timedelta(minutes=1), lease_s=5
    )
    left = await gateway.pool.fetchval(
        "SELECT count(*) FROM webhook_deliveries WHERE receiver = 'core:expired'"
    )
    assert left == 0


async def test_a_burst_of_concurrent_replays_publishes_once(gateway: Gateway) -> None:
    """Replays sent all at once: one publishes; the others wait for it (409, retry) or get its
    answer; none answers 2xx before Kafka acknowledged, and one record reaches the topic."""
    workspace = await _workspace(gateway)
    before = await end_offsets(KAFKA, TimeEntryLogged.topic())
    body = _delivery(workspace, "dlv-burst", "te-burst")
    signature = sign(SECRET, int(time.time()), body)
    answers = await asyncio.gather(*(_post(gateway, workspace, body, signature) for _ in range(10)))
    statuses = sorted((a.status_code, a.json().get("status", "")) for a in answers)
    assert statuses.count((202, "accepted")) == 1, statuses
    assert {s for s, _ in statuses} <= {202, 409}
    retried = await _post(gateway, workspace, body, signature)
    assert (retried.status_code, retried.json()["status"]) == (202, "duplicate")
    sentinel = _delivery(workspace, "dlv-sentinel-3", "te-sentinel-3")
    await _post(gateway, workspace, sentinel, sign(SECRET, int(time.time()), sentinel))
    assert len(await _records_of(workspace, before, "te-sentinel-3")) == 1


async def test_a_failing_producer_answers_503_and_nothing_is_answered_202(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records go straight to the broker's aiokafka producer (issue 12): a send it refuses is a
    ``503`` for every request, none answered ``202``, nothing on the topic and no claim left,
    so the sender's retries publish each delivery once, with FastStream's record headers."""
    workspace = await _workspace(gateway)
    producer = kafka_producer(gateway.ingest.runtime.broker)
    assert producer is not None  # the direct path is the one in use
    before = await end_offsets(KAFKA, TimeEntryLogged.topic())
    bodies = [_delivery(workspace, f"dlv-down-{n}", f"te-down-{n}") for n in range(5)]

    async def refused(*args: Any, **kwargs: Any) -> None:
        raise KafkaConnectionError("broker down")

    with monkeypatch.context() as patched:
        patched.setattr(producer, "send", refused)
        answers = await asyncio.gather(
            *(_post(gateway, workspace, b, sign(SECRET, int(time.time()), b)) for b in bodies)
        )
    assert [(a.status_code, a.headers.get("retry-after")) for a in answers] == [(503, "5")] * 5
    claims = await gateway.pool.fetchval(
        "SELECT count(*) FROM webhook_deliveries WHERE receiver = $1", f"core:{workspace}"
    )
    assert claims == 0

    async def chain(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("FastStream's publish chain was used")

    with monkeypatch.context() as patched:
        patched.setattr(gateway.ingest.runtime.broker, "publish", chain)
        retried = [
            await _post(gateway, workspace, b, sign(SECRET, int(time.time()), b)) for b in bodies
        ]
    assert [(a.status_code, a.json()["status"]) for a in retried] == [(202, "accepted")] * 5
    sentinel = _delivery(workspace, "dlv-sentinel-4", "te-sentinel-4")
    await _post(gateway, workspace, sentinel, sign(SECRET, int(time.time()), sentinel))
    records = await _records_of(workspace, before, "te-sentinel-4")
    assert sorted(decode_headers(r.headers)["ce_id"] for r in records) == sorted(
        a.json()["event_id"] for a in retried
    )
    record = records[0]
    names = [name for name, _ in record.headers]
    assert names[:2] == ["content-type", "correlation_id"]
    headers = decode_headers(record.headers)
    assert headers["content-type"] == "application/json"
    assert headers["traceparent"] == headers["ce_traceparent"]
    # FastStream's correlation id is the envelope's (a webhook's event starts its chain).
    assert headers["correlation_id"] == headers["ce_correlationid"] == headers["ce_id"]
    assert record.key == f"{workspace}:core:{json.loads(record.value)['external_id']}".encode()
    envelope = Envelope.from_headers(headers)
    assert set(headers) == {
        "content-type",
        "correlation_id",
        "traceparent",
        "ce_traceparent",
        *envelope.to_headers(),
    }
