"""The Core webhook path of the gateway on TestKafkaBroker with an in-memory secret store."""

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from timebridge_common.crypto import SecretBox
from timebridge_common.events import TimeEntryLogged
from timebridge_common.events.codec import decode
from timebridge_common.kafka.dlt import decode_headers
from timebridge_common.testing import in_memory_tracing
from timebridge_ingest.bootstrap import Ingest, bootstrap
from timebridge_ingest.config import Settings
from timebridge_ingest.domain.core_webhook import sign

NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
SECRET = "s" * 40


class MemorySecrets:
    def __init__(self) -> None:
        self.values: dict[tuple[str, str], str] = {}

    async def get(self, workspace_id: str, source: str) -> str | None:
        return self.values.get((workspace_id, source))

    async def put(self, workspace_id: str, source: str, secret: str) -> None:
        self.values[(workspace_id, source)] = secret


def webhook(delivery: str = "dlv_1", **entry: Any) -> bytes:
    body = {
        "id": delivery,
        "type": "time_entry.created",
        "workspace_id": "acme",
        "occurred_at": "2026-11-21T11:59:00Z",
        "data": {
            "time_entry": {
                "id": "te_1",
                "user": {"id": "u_1", "email": "ann@acme.test"},
                "project_id": "p_1",
                "ticket_id": "t_1",
                "date": "2026-11-21",
                "started_at": "2026-11-21T10:00:00+01:00",
                "duration_seconds": 5400,
                "notes": "Fixing the login page",
                "billable": True,
                "timezone": "Europe/Berlin",
                "updated_at": "2026-11-21T11:58:00Z",
                "version": 1,
                **entry,
            }
        },
    }
    return json.dumps(body).encode()


@pytest.fixture
async def service() -> AsyncIterator[tuple[Ingest, list[Any]]]:
    settings = Settings(
        encryption_key=SecretBox.generate_key(),
        admin_token="admin-token",
        credentials_url="http://credentials.test",
        service_token="svc-token",
    )
    secrets = MemorySecrets()
    await secrets.put("acme", "core", SECRET)
    provider, _ = in_memory_tracing("ingest")
    ingest = bootstrap(
        settings,
        broker=KafkaBroker(),
        secrets=secrets,
        tracer_provider=provider,
        clock=lambda: NOW,
    )
    published: list[Any] = []

    @ingest.runtime.broker.subscriber(TimeEntryLogged.topic())
    async def capture(msg: KafkaMessage) -> None:
        record = msg.raw_message
        assert not isinstance(record, tuple)
        published.append(decode(decode_headers(record.headers), record.value, TimeEntryLogged))

    async with TestKafkaBroker(ingest.runtime.broker) as br:
        ingest.runtime.broker = br
        yield ingest, published


async def post(ingest: Ingest, body: bytes, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=ingest.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        return await client.post(
            "/v1/webhooks/core/acme",
            content=body,
            headers={"content-type": "application/json", **headers},
        )


def signed(body: bytes, secret: str = SECRET, at: dt.datetime = NOW) -> dict[str, str]:
    return {"Core-Signature": sign(secret, int(at.timestamp()), body)}


async def test_valid_webhook_is_published_then_answered_202(service: Any) -> None:
    ingest, published = service
    body = webhook()
    response = await post(ingest, body, **signed(body))
    assert response.status_code == 202, response.text
    assert len(published) == 1
    envelope, event = published[0]
    assert response.json() == {
        "status": "accepted",
        "event_id": str(envelope.event_id),
        "topic": "timebridge.time-entry-logged.v1",
    }
    assert envelope.type == "timebridge.TimeEntryLogged.v1"
    assert envelope.workspace_id == "acme"
    assert envelope.source == "/timebridge/ingest"
    assert event.source == "core"
    assert event.external_id == "te_1"
    assert event.deleted is False
    assert event.observed_via == "webhook"
    entry = event.entry
    assert entry.user.email == "ann@acme.test"
    assert entry.task_external_id == "t_1"
    assert entry.duration_seconds == 5400
    assert entry.started_at == dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)
    assert entry.ended_at == dt.datetime(2026, 11, 21, 10, 30, tzinfo=dt.UTC)
    assert entry.timezone == "Europe/Berlin"
    assert entry.billable is True


async def test_the_same_change_always_gets_the_same_event_id(service: Any) -> None:
    """Redeliveries, and another delivery of the same version, are one event downstream."""
    ingest, _ = service
    ids = []
    for body in (
        webhook("dlv_same"),
        webhook("dlv_same"),
        webhook("dlv_other"),
        webhook("dlv_newer", updated_at="2026-11-21T11:59:00Z"),
    ):
        ids.append((await post(ingest, body, **signed(body))).json()["event_id"])
    assert ids[0] == ids[1] == ids[2] != ids[3]


async def test_ticket_webhooks_are_acknowledged_without_an_event(service: Any) -> None:
    ingest, published = service
    raw = json.dumps(
        {
            "id": "dlv_t1",
            "type": "ticket.updated",
            "workspace_id": "acme",
            "occurred_at": "2026-11-21T11:59:00Z",
            "data": {"ticket": {"id": "t_1", "title": "Login page"}},
        }
    ).encode()
    response = await post(ingest, raw, **signed(raw))
    assert (response.status_code, response.json()) == (
        202,
        {"status": "ignored", "event_id": None, "topic": None},
    )
    assert published == []
    assert (await post(ingest, raw, **signed(raw, secret="w" * 40))).status_code == 401


async def test_deleted_entry_is_flagged(service: Any) -> None:
    ingest, published = service
    body = json.loads(webhook())
    body["type"] = "time_entry.deleted"
    raw = json.dumps(body).encode()
    assert (await post(ingest, raw, **signed(raw))).status_code == 202
    assert published[0][1].deleted is True


@pytest.mark.parametrize(
    ("headers", "status", "reason"),
    [
        ({}, 401, "missing Core-Signature header"),
        ({"Core-Signature": "garbage"}, 401, "malformed Core-Signature header"),
        ({"Core-Signature": "t=1"}, 401, "Core-Signature has no v1 signature"),
        ("wrong-secret", 401, "signature does not match"),
        ("stale", 401, "signature timestamp is more than 300s away from now"),
    ],
)
async def test_bad_signatures_are_refused_and_nothing_is_published(
    service: Any, headers: Any, status: int, reason: str
) -> None:
    ingest, published = service
    body = webhook()
    if headers == "wrong-secret":
        headers = signed(body, secret="x" * 40)
    elif headers == "stale":
        headers = signed(body, at=NOW - dt.timedelta(minutes=6))
    response = await post(ingest, body, **headers)
    assert (response.status_code, response.json()["detail"]) == (status, reason)
    assert published == []


async def test_body_tampered_after_signing_is_refused(service: Any) -> None:
    ingest, published = service
    headers = signed(webhook())
    response = await post(ingest, webhook(duration_seconds=99999), **headers)
    assert response.status_code == 401
    assert published == []


@pytest.mark.parametrize(
    ("body", "status", "reason_part"),
    [
        (b"{not json", 400, "body is not valid JSON"),
        (webhook(duration_seconds=-5), 422, "data.time_entry.duration_seconds"),
        (webhook(timezone="Mars/Olympus"), 422, "unknown IANA time zone"),
        (webhook(updated_at="2026-11-21T11:58:00"), 422, "data.time_entry.updated_at"),
        (json.dumps({"id": "x", "type": "ticket.merged"}).encode(), 422, "type"),
    ],
)
async def test_invalid_bodies_get_a_reason_and_nothing_is_published(
    service: Any, body: bytes, status: int, reason_part: str
) -> None:
    ingest, published = service
    response = await post(ingest, body, **signed(body))
    assert response.status_code == status
    assert reason_part in response.json()["detail"]
    assert published == []


async def test_workspace_in_body_must_match_url(service: Any) -> None:
    ingest, published = service
    body = json.loads(webhook())
    body["workspace_id"] = "other"
    raw = json.dumps(body).encode()
    response = await post(ingest, raw, **signed(raw))
    assert response.status_code == 422
    assert "workspace" in response.json()["detail"]
    assert published == []


async def test_unknown_workspace_is_404(service: Any) -> None:
    ingest, _ = service
    body = webhook()
    transport = httpx.ASGITransport(app=ingest.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        response = await client.post(
            "/v1/webhooks/core/nobody",
            content=body,
            headers={"content-type": "application/json", **signed(body)},
        )
    assert response.status_code == 404


async def test_wrong_content_type_and_oversized_bodies(service: Any) -> None:
    ingest, published = service
    body = webhook()
    assert (
        await post(ingest, body, **{**signed(body), "content-type": "text/plain"})
    ).status_code == 415
    huge = b"{" + b" " * 2_000_000 + b"}"
    assert (await post(ingest, huge, **signed(huge))).status_code == 413
    assert published == []


async def test_kafka_failure_answers_503_so_the_sender_retries(
    service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest, published = service

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(ingest.runtime.broker, "publish", broken)
    body = webhook()
    response = await post(ingest, body, **signed(body))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert published == []


async def test_admin_sets_a_secret(service: Any) -> None:
    ingest, _ = service
    transport = httpx.ASGITransport(app=ingest.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        url = "/v1/admin/workspaces/beta/webhook-secrets/core"
        denied = await client.put(url, json={"secret": "k" * 32})
        wrong = await client.put(
            url, json={"secret": "k" * 32}, headers={"authorization": "Bearer nope"}
        )
        ok = await client.put(
            url, json={"secret": "k" * 32}, headers={"authorization": "Bearer admin-token"}
        )
        short = await client.put(
            url, json={"secret": "k"}, headers={"authorization": "Bearer admin-token"}
        )
    assert (denied.status_code, wrong.status_code, ok.status_code) == (401, 401, 204)
    assert short.status_code == 422
    assert await ingest.secrets.get("beta", "core") == "k" * 32


async def test_a_replayed_delivery_is_acknowledged_but_published_once(service: Any) -> None:
    """Issue 13 item 2: a signed delivery replayed inside its 5-minute window was published
    each time; now the first answer is repeated and nothing is published again."""
    ingest, published = service
    body = webhook("dlv_replayed")
    headers = signed(body)
    answers = [await post(ingest, body, **headers) for _ in range(5)]
    assert [a.status_code for a in answers] == [202] * 5
    assert [a.json()["status"] for a in answers] == ["accepted"] + ["duplicate"] * 4
    assert len({a.json()["event_id"] for a in answers}) == 1
    assert len(published) == 1
    # Another delivery (a new id) of the same change is published: downstream inboxes keep one.
    other = webhook("dlv_other_id")
    assert (await post(ingest, other, **signed(other))).json()["status"] == "accepted"
    assert len(published) == 2


async def test_a_delivery_whose_publish_failed_is_published_on_retry(
    service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window records a delivery only once Kafka acknowledged it: a 503 leaves no trace."""
    ingest, published = service
    body = webhook("dlv_retry")
    broker = ingest.runtime.broker
    working = broker.publish

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(broker, "publish", broken)
    assert (await post(ingest, body, **signed(body))).status_code == 503
    monkeypatch.setattr(broker, "publish", working)
    retried = await post(ingest, body, **signed(body))
    assert (retried.status_code, retried.json()["status"]) == (202, "accepted")
    assert len(published) == 1


@pytest.mark.parametrize(
    "value",
    [
        "t=1795262400,v1=caf\u00e9".encode("latin-1"),  # Latin-1, not ASCII
        b"t=1795262400,v1=\xff\xfe\xfd",  # not UTF-8
        "t=1795262400,v1=\u00e9t\u00e9".encode(),  # UTF-8, not ASCII
        b"t=1795262400,v1=ab\x01cd",  # a control character
        b"t=" + b"9" * 400 + b",v1=abc",  # a timestamp too large for a float
    ],
)
async def test_bad_bytes_in_the_signature_are_a_401_with_a_reason(
    service: Any, value: bytes
) -> None:
    """Issue 13 item 5: non-ASCII bytes in Core-Signature were a 500 (compare_digest raised)."""
    ingest, published = service
    body = webhook()
    transport = httpx.ASGITransport(app=ingest.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        response = await client.post(
            "/v1/webhooks/core/acme",
            content=body,
            headers=[(b"content-type", b"application/json"), (b"Core-Signature", value)],
        )
    assert response.status_code == 401, response.text
    assert "Core-Signature" in response.json()["detail"]
    assert published == []


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe{}",
        b'{"id": 1, "type": []}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"id": "\\ud800", "type": "time_entry.created"}',
        b"null",
    ],
)
async def test_malformed_signed_bodies_are_4xx_and_publish_nothing(
    service: Any, body: bytes
) -> None:
    ingest, published = service
    response = await post(ingest, body, **signed(body))
    assert response.status_code in (400, 422), response.text
    assert response.json()["detail"]
    assert published == []


@pytest.mark.parametrize(
    ("delivery", "entry"),
    [
        ("dlv\u0000x", {}),
        ("dlv_nul_notes", {"notes": "a\u0000b"}),
        ("dlv_surrogate", {"notes": "\ud800"}),
        ("dlv_ctl\u0007", {}),
    ],
)
async def test_signed_bodies_with_nul_or_lone_surrogates_are_422(
    service: Any, delivery: str, entry: dict[str, Any]
) -> None:
    """Text PostgreSQL (the replay window, mapping's store) cannot hold is refused at the door."""
    ingest, published = service
    body = webhook(delivery, **entry)
    response = await post(ingest, body, **signed(body))
    assert response.status_code == 422, response.text
    assert response.json()["detail"]
    assert published == []
