"""Publishing events with their envelope and trace context."""

import asyncio
import uuid
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from timebridge_common.events.base import Event
from timebridge_common.events.codec import EncodedEvent, encode
from timebridge_common.events.envelope import Envelope
from timebridge_common.tracing import extract, inject
from timebridge_common.tracing_lean import LeanTracer


def messaging_attributes(topic: str, **extra: Any) -> dict[str, Any]:
    return {"messaging.system": "kafka", "messaging.destination.name": topic, **extra}


def kafka_producer(broker: KafkaBroker) -> AIOKafkaProducer | None:
    """The started broker's own aiokafka producer (``acks="all"``, idempotent: the broker's
    settings), or None (not started, or FastStream's in-memory test broker in its place)."""
    state = getattr(broker.config.producer, "_producer", None)
    if not state:  # FastStream's "not connected" state raises on ``.producer``
        return None
    producer = getattr(state, "producer", None)
    return producer if isinstance(producer, AIOKafkaProducer) else None


class EventPublisher:
    """Publishes events of one producer (service) and waits for Kafka's acknowledgement.

    With the broker's ``acks="all"`` the awaited publish returns only once the record is durable,
    which is what lets the ingest gateway answer 2xx only for webhooks Kafka already holds.

    Records go straight to the broker's aiokafka producer (:func:`kafka_producer`) with the
    headers FastStream's publish would write (``content-type``, a ``correlation_id``, then the
    envelope's and the trace context); FastStream's publish command and middleware chain cost
    ~3% of ingest's CPU per webhook and added nothing (issue 12). Without a started producer
    (FastStream's test broker) the broker's ``publish`` is used, as before.
    """

    def __init__(self, broker: KafkaBroker, tracer: Tracer, producer: str) -> None:
        self._broker = broker
        # The producer span without the SDK's per-span machinery (same span exported: see
        # tracing_lean; ~10 us of ingest's CPU per webhook, issue 12).
        self._tracer = LeanTracer(tracer)
        self.producer = producer
        self._attributes: dict[str, dict[str, Any]] = {}

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
        span = self._span(encoded)
        try:
            producer = kafka_producer(self._broker)
            if producer is None:
                headers = dict(encoded.headers)
                inject(headers, trace.set_span_in_context(span))
                await self._broker.publish(
                    encoded.value, encoded.topic, key=encoded.key, headers=headers
                )
                return
            await (await self._send(producer, encoded, span))
        except BaseException as exc:  # a timeout's cancellation too, as the span did before
            _failed(span, exc)
            raise
        finally:
            span.end()

    async def publish_encoded_many(self, batch: Sequence[EncodedEvent]) -> int:
        """Send every record of ``batch`` before awaiting any acknowledgement, then await them.

        The outbox relay's throughput was one round trip per event (~110-455 events/s, issue 12);
        handed to the producer together, the records share its batches. Order per partition is
        kept: records are enqueued in ``batch`` order and the idempotent producer never reorders
        them. Returns how many were acknowledged (all). A failure is raised as
        :class:`PartlyPublishedError` after every record already handed over was awaited, naming
        how many from the first were acknowledged (a later record that was acknowledged too is
        published again with its event id, which consumers deduplicate).
        """
        producer = kafka_producer(self._broker)
        if producer is None:
            for done, encoded in enumerate(batch):
                try:
                    await self.publish_encoded(encoded)
                except Exception as exc:
                    raise PartlyPublishedError(done, exc) from exc
            return len(batch)
        handed: list[tuple[Span, asyncio.Future[Any]]] = []
        failure: BaseException | None = None
        for encoded in batch:
            span = self._span(encoded)
            try:
                handed.append((span, await self._send(producer, encoded, span)))
            except BaseException as exc:
                _failed(span, exc)
                span.end()
                failure = exc
                break
        done = 0
        for span, acknowledged in handed:
            try:
                await acknowledged
                if failure is None:
                    done += 1
            except BaseException as exc:
                _failed(span, exc)
                failure = failure or exc
            finally:
                span.end()
        if isinstance(failure, Exception):
            raise PartlyPublishedError(done, failure) from failure
        if failure is not None:  # a cancellation: nothing is claimed, the rows stay unpublished
            raise failure
        return done

    def _span(self, encoded: EncodedEvent) -> Span:
        topic = encoded.topic
        base = self._attributes.get(topic)
        if base is None:  # built once per topic (a span's attributes are copied anyway)
            base = self._attributes[topic] = messaging_attributes(topic)
        attributes = {**base, "messaging.message.id": encoded.headers.get("ce_id", "")}
        # An outbox record carries the trace context of the transaction that wrote it: continue
        # that trace, then hand the consumer this producer span as its parent.
        parent = extract(encoded.headers) if "traceparent" in encoded.headers else None
        # Not made the current span: only the headers need it (attaching and detaching it in
        # the context was ~1% of ingest's CPU); on failure it records the error as before.
        return self._tracer.start_span(
            f"publish {topic}", context=parent, kind=SpanKind.PRODUCER, attributes=attributes
        )

    @staticmethod
    async def _send(
        producer: AIOKafkaProducer, encoded: EncodedEvent, span: Span
    ) -> "asyncio.Future[Any]":
        """Hand the record to the producer; the future is its acknowledgement."""
        # FastStream's record headers: its content type first, a correlation id, then ours.
        # The correlation id is the envelope's (the chain's id, the event id for a chain's
        # first event): FastStream's header means the same, and a fresh uuid4 per record was
        # ~1.8% of ingest's CPU per webhook (issue 12).
        correlation = encoded.headers.get("ce_correlationid") or str(uuid.uuid4())
        headers = {"content-type": "", "correlation_id": correlation, **encoded.headers}
        inject(headers, trace.set_span_in_context(span))
        sent: asyncio.Future[Any] = await producer.send(
            encoded.topic,
            encoded.value,
            key=encoded.key,
            headers=[(name, value.encode()) for name, value in headers.items()],
        )
        return sent


class PartlyPublishedError(Exception):
    """A batch failed at one record: ``acknowledged`` records from the first are durable."""

    def __init__(self, acknowledged: int, cause: Exception) -> None:
        super().__init__(f"{acknowledged} acknowledged, then {type(cause).__name__}: {cause}")
        self.acknowledged = acknowledged
        self.cause = cause


def _failed(span: Span, exc: BaseException) -> None:
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))


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
