"""Which producer :class:`EventPublisher` writes with: the broker's own aiokafka producer once
started, else the broker's ``publish`` (FastStream's test broker, or not started yet)."""

import datetime as dt

from faststream.kafka import KafkaBroker, KafkaMessage, TestKafkaBroker
from opentelemetry.sdk.trace import TracerProvider

from timebridge_common.events import Envelope, TimeEntryFields, TimeEntryLogged, UserRef
from timebridge_common.events.codec import decode
from timebridge_common.kafka.dlt import decode_headers
from timebridge_common.kafka.publisher import EventPublisher, kafka_producer

EVENT = TimeEntryLogged(
    workspace_id="acme",
    source="core",
    external_id="te_1",
    entry=TimeEntryFields(
        user=UserRef(external_id="u_1"),
        date=dt.date(2026, 12, 6),
        duration_seconds=60,
        billable=True,
    ),
    updated_at=dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC),
    observed_via="webhook",
)


def test_a_broker_not_started_has_no_producer_to_write_with() -> None:
    assert kafka_producer(KafkaBroker("127.0.0.1:1")) is None


async def test_the_test_broker_is_published_to_through_the_broker() -> None:
    broker = KafkaBroker("127.0.0.1:1")
    received: list[tuple[Envelope, TimeEntryLogged]] = []

    @broker.subscriber(TimeEntryLogged.topic())
    async def handle(msg: KafkaMessage) -> None:
        record = msg.raw_message
        assert not isinstance(record, tuple)
        received.append(decode(decode_headers(record.headers), record.value, TimeEntryLogged))

    async with TestKafkaBroker(broker) as test_broker:
        assert kafka_producer(test_broker) is None
        publisher = EventPublisher(test_broker, TracerProvider().get_tracer("t"), "ingest")
        await publisher.publish(EVENT, publisher.envelope(EVENT))
    [(envelope, event)] = received
    assert (event, envelope.type) == (EVENT, "timebridge.TimeEntryLogged.v1")
