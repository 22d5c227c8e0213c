"""``EventPublisher.publish_encoded_many``: a batch handed to the producer before any
acknowledgement is awaited (the outbox relay's one round trip per batch), in order, and a failure
naming how many records from the first are durable."""

import asyncio
from typing import Any

import pytest
from faststream.kafka import KafkaBroker
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from timebridge_common.events.codec import EncodedEvent
from timebridge_common.kafka import publisher as publisher_module
from timebridge_common.kafka.publisher import EventPublisher, PartlyPublishedError


class _Producer:
    """Hands out one unresolved acknowledgement per record, as aiokafka's ``send`` does."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes | None, bytes]] = []
        self.acks: list[asyncio.Future[Any]] = []

    async def send(self, topic: str, value: bytes, *, key: bytes | None, headers: Any) -> Any:
        assert any(name == "traceparent" for name, _ in headers)
        self.sent.append((topic, key, value))
        ack: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.acks.append(ack)
        return ack


def _batch(n: int) -> list[EncodedEvent]:
    return [
        EncodedEvent(topic="t.v1", key=b"k", value=f"{i}".encode(), headers={"ce_id": f"id{i}"})
        for i in range(n)
    ]


@pytest.fixture
def world(
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[EventPublisher, _Producer, InMemorySpanExporter]:
    producer = _Producer()
    monkeypatch.setattr(publisher_module, "kafka_producer", lambda _broker: producer)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return (
        EventPublisher(KafkaBroker("127.0.0.1:1"), provider.get_tracer("t"), "p"),
        producer,
        exporter,
    )


async def test_every_record_is_handed_over_before_any_acknowledgement_is_awaited(
    world: tuple[EventPublisher, _Producer, InMemorySpanExporter],
) -> None:
    publisher, producer, exporter = world
    publishing = asyncio.create_task(publisher.publish_encoded_many(_batch(5)))
    for _ in range(10):
        await asyncio.sleep(0)
    # One at a time would have handed over only the first record, waiting on its ack.
    assert [value for _, _, value in producer.sent] == [b"0", b"1", b"2", b"3", b"4"]
    assert not publishing.done()
    for ack in producer.acks:
        ack.set_result(None)
    assert await publishing == 5
    spans: tuple[ReadableSpan, ...] = exporter.get_finished_spans()
    assert len(spans) == 5
    assert all(s.status.status_code != StatusCode.ERROR for s in spans)


async def test_a_failed_record_names_the_acknowledged_ones_before_it(
    world: tuple[EventPublisher, _Producer, InMemorySpanExporter],
) -> None:
    publisher, producer, exporter = world
    publishing = asyncio.create_task(publisher.publish_encoded_many(_batch(3)))
    for _ in range(10):
        await asyncio.sleep(0)
    producer.acks[0].set_result(None)
    producer.acks[1].set_exception(ConnectionError("broker gone"))
    producer.acks[2].set_result(None)
    with pytest.raises(PartlyPublishedError) as raised:
        await publishing
    assert raised.value.acknowledged == 1
    assert isinstance(raised.value.cause, ConnectionError)
    spans = exporter.get_finished_spans()
    assert len(spans) == 3  # every record handed over was awaited and its span ended
    assert [s.status.status_code == StatusCode.ERROR for s in spans] == [False, True, False]
