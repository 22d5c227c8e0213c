"""Core's contract and milestone webhooks through the gateway (TestKafkaBroker, secrets in memory):
published as ``ContractObserved`` / ``MilestoneObserved`` under Core's delivery rules."""

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from timebridge_common.crypto import SecretBox
from timebridge_common.events.codec import decode
from timebridge_common.events.contracts import ContractObserved, MilestoneObserved
from timebridge_common.kafka.dlt import decode_headers
from timebridge_common.testing import in_memory_tracing
from timebridge_ingest.bootstrap import Ingest, bootstrap
from timebridge_ingest.config import Settings
from timebridge_ingest.domain.core_webhook import sign

NOW = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
SECRET = "s" * 40


class MemorySecrets:
    def __init__(self) -> None:
        self.values = {("acme", "core"): SECRET}

    async def get(self, workspace_id: str, source: str) -> str | None:
        return self.values.get((workspace_id, source))

    async def put(self, workspace_id: str, source: str, secret: str) -> None:
        self.values[(workspace_id, source)] = secret


def contract_webhook(
    delivery: str = "dlv_c1", kind: str = "contract.signed", **fields: Any
) -> bytes:
    contract = {
        "id": "ct_1",
        "title": "Support 2027",
        "client": {"id": "cu_1", "name": "Globex"},
        "status": "signed",
        "signed_at": "2026-11-21T11:58:00Z",
        "starts_on": "2027-01-01",
        "ends_on": None,
        "currency": "EUR",
        "project_ids": ["p_1"],
        "updated_at": "2026-11-21T11:58:00Z",
        "version": 2,
    } | fields
    body = {
        "id": delivery,
        "type": kind,
        "workspace_id": "acme",
        "occurred_at": "2026-11-21T11:58:00Z",
        "data": {"contract": contract},
    }
    return json.dumps(body).encode()


def milestone_webhook(delivery: str = "dlv_m1", **fields: Any) -> bytes:
    milestone = {
        "id": "ms_1",
        "project_id": "p_1",
        "name": "Go-live",
        "due_on": "2026-12-01",
        "reached_at": "2026-11-21T11:57:00Z",
        "updated_at": "2026-11-21T11:57:00Z",
        "version": 2,
    } | fields
    body = {
        "id": delivery,
        "type": "project.milestone_reached",
        "workspace_id": "acme",
        "occurred_at": "2026-11-21T11:57:00Z",
        "data": {"milestone": milestone},
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
    ingest = bootstrap(
        settings,
        broker=KafkaBroker(),
        secrets=MemorySecrets(),
        tracer_provider=in_memory_tracing("ingest")[0],
        clock=lambda: NOW,
    )
    published: list[Any] = []
    for model in (ContractObserved, MilestoneObserved):

        def capture_as(kind: Any) -> Any:
            async def capture(msg: KafkaMessage) -> None:
                record = msg.raw_message
                assert not isinstance(record, tuple)
                headers = decode_headers(record.headers)
                published.append(decode(headers, record.value, kind))

            return capture

        ingest.runtime.broker.subscriber(model.topic())(capture_as(model))
    async with TestKafkaBroker(ingest.runtime.broker) as br:
        ingest.runtime.broker = br
        yield ingest, published


async def post(ingest: Ingest, body: bytes, secret: str = SECRET) -> httpx.Response:
    transport = httpx.ASGITransport(app=ingest.app)
    signature = sign(secret, int(NOW.timestamp()), body)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        return await client.post(
            "/v1/webhooks/core/acme",
            content=body,
            headers={"content-type": "application/json", "Core-Signature": signature},
        )


async def test_a_signed_contract_is_published_as_contract_observed(service: Any) -> None:
    ingest, published = service
    answer = await post(ingest, contract_webhook())
    assert answer.status_code == 202, answer.text
    [(envelope, event)] = published
    assert answer.json() == {
        "status": "accepted",
        "event_id": str(envelope.event_id),
        "topic": ContractObserved.topic(),
    }
    assert event == ContractObserved(
        workspace_id="acme",
        source="core",
        external_id="ct_1",
        title="Support 2027",
        client_external_id="cu_1",
        client_name="Globex",
        status="signed",
        signed_at=dt.datetime(2026, 11, 21, 11, 58, tzinfo=dt.UTC),
        start_date=dt.date(2027, 1, 1),
        end_date=None,
        currency="EUR",
        project_ids=("p_1",),
        updated_at=dt.datetime(2026, 11, 21, 11, 58, tzinfo=dt.UTC),
        source_version=2,
        observed_via="webhook",
    )


async def test_a_changed_draft_is_published_too(service: Any) -> None:
    ingest, published = service
    body = contract_webhook(
        kind="contract.changed", status="draft", signed_at=None, ends_on="2027-12-31", version=1
    )
    assert (await post(ingest, body)).status_code == 202
    [(_, event)] = published
    assert (event.status, event.signed_at, event.end_date, event.source_version) == (
        "draft",
        None,
        dt.date(2027, 12, 31),
        1,
    )


async def test_a_reached_milestone_is_published_as_milestone_observed(service: Any) -> None:
    ingest, published = service
    answer = await post(ingest, milestone_webhook())
    assert (answer.status_code, answer.json()["topic"]) == (202, MilestoneObserved.topic())
    [(_, event)] = published
    assert event == MilestoneObserved(
        workspace_id="acme",
        source="core",
        external_id="ms_1",
        project_id="p_1",
        title="Go-live",
        due_date=dt.date(2026, 12, 1),
        reached_at=dt.datetime(2026, 11, 21, 11, 57, tzinfo=dt.UTC),
        updated_at=dt.datetime(2026, 11, 21, 11, 57, tzinfo=dt.UTC),
        source_version=2,
        observed_via="webhook",
    )


async def test_replays_are_answered_once_and_a_new_delivery_of_the_same_version_keeps_its_id(
    service: Any,
) -> None:
    ingest, published = service
    answers = [await post(ingest, contract_webhook("dlv_same")) for _ in range(3)]
    assert [a.json()["status"] for a in answers] == ["accepted", "duplicate", "duplicate"]
    other = await post(ingest, contract_webhook("dlv_other"))
    newer = await post(ingest, contract_webhook("dlv_newer", status="active", version=3))
    assert len(published) == 3
    ids = [a.json()["event_id"] for a in (*answers, other, newer)]
    assert ids[0] == ids[1] == ids[2] == ids[3] != ids[4]


@pytest.mark.parametrize(
    "body",
    [
        contract_webhook(status="unknown"),
        contract_webhook(currency="euro"),  # the event's ISO 4217 pattern
        contract_webhook(title="x" * 301),  # longer than the event allows
        contract_webhook(client={"id": "cu_1"}),
        contract_webhook(starts_on=None),
        contract_webhook(version=0),
        milestone_webhook(name=""),
        milestone_webhook(project_id=None),
        milestone_webhook(updated_at="yesterday"),
    ],
)
async def test_invalid_records_are_422_with_a_reason_and_nothing_is_published(
    service: Any, body: bytes
) -> None:
    ingest, published = service
    answer = await post(ingest, body)
    assert answer.status_code == 422, answer.text
    assert isinstance(answer.json()["detail"], str)
    assert answer.json()["detail"]
    assert published == []


async def test_bad_signature_other_workspace_and_kafka_down_publish_nothing(
    service: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest, published = service
    assert (await post(ingest, contract_webhook(), secret="w" * 40)).status_code == 401
    elsewhere = json.loads(milestone_webhook()) | {"workspace_id": "other"}
    assert (await post(ingest, json.dumps(elsewhere).encode())).status_code == 422

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(ingest.runtime.broker, "publish", broken)
    down = await post(ingest, milestone_webhook())
    assert (down.status_code, down.headers["retry-after"]) == (503, "5")
    assert published == []
