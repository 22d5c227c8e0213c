"""Publishing events with their envelope and trace context."""

import asyncio
import uuid
from typing import Any

from faststream.kafka import KafkaBroker
from opentelemetry.trace import SpanKind, Tracer

from timebridge_common.events.base import Event
from timebridge_common.events.codec import EncodedEvent, encode
from timebridge_common.events.envelope import Envelope
from timebridge_common.tracing import extract, inject


def messaging_attributes(topic: str, **extra: Any) -> dict[str, Any]:
    return {"messaging.system": "kafka", "messaging.destination.name": topic, **extra}


class EventPublisher:
    """Publishes events of one producer (service) and waits for Kafka's acknowledgement.

    With the broker's ``acks="all"`` the awaited publish returns only once the record is durable,
    which is what lets the ingest gateway answer 2xx only for webhooks Kafka already holds.
    """

    def __init__(self, broker: KafkaBroker, tracer: Tracer, producer: str) -> None:
        self._broker = broker
        self._tracer = tracer
        self.producer = producer

    def envelope(
        self,
        event: Event,
        *,
        event_id: uuid.UUID | None = None,
        cause: Envelope | None = None,
    ) -> Envelope:
        return Envelope.for_event(event, producer=self.producer, event_id=event_id, cause=cause)

    async def publish(self, event: Event, envelope: Envelope) -> None:
        await self.publish_encoded(encode(event, envelope))

    async def publish_encoded(self, encoded: EncodedEvent) -> None:
        attributes = messaging_attributes(
            encoded.topic, **{"messaging.message.id": encoded.headers.get("ce_id", "")}
        )
        # An outbox record carries the trace context of the transaction that wrote it: continue
        # that trace, then hand the consumer this producer span as its parent.
        parent = extract(encoded.headers) if "traceparent" in encoded.headers else None
        with self._tracer.start_as_current_span(
            f"publish {encoded.topic}",
            context=parent,
            kind=SpanKind.PRODUCER,
            attributes=attributes,
        ):
            headers = dict(encoded.headers)
            inject(headers)
            await self._broker.publish(
                encoded.value, encoded.topic, key=encoded.key, headers=headers
            )


class UnavailableError(Exception):
    """Kafka did not acknowledge in time: answer 503 so the sender retries (nothing lost)."""


async def publish_acknowledged(
    publisher: EventPublisher, events: list[tuple[Event, Envelope]], timeout_s: float
) -> None:
    """Publish and return only once Kafka acknowledged every event (``acks=all``).

    What a webhook receiver calls before it answers ``2xx``: a sender told "accepted" must be
    able to forget the delivery, so it has to be durable first.
    """
    try:
        async with asyncio.timeout(timeout_s):
            for event, envelope in events:
                await publisher.publish(event, envelope)
    except Exception as exc:
        raise UnavailableError(str(exc) or type(exc).__name__) from exc
