"""Consuming a topic in batches, under the same delivery policy as ``kafka.consumer``.

One record per transaction costs a database commit and a Kafka offset commit per record: mapping
stored ~110 entries/s at 1.5 ms of CPU each, idle most of the time (issue 12). A batch handler
gets every record one poll returned (``max_records`` at most, across the partitions assigned)
and does its I/O once for all of them; the offsets commit once, after the batch.

What holds, as for single records (see ``kafka.consumer``):

* **At least once, all or nothing.** The offsets of a batch commit only after the handler
  returned for the whole batch and its invalid records were durably dead-lettered. A handler
  failure retries the *whole* batch in place (with backoff; a stall is reported), so the
  handler must commit its effects for the batch atomically and be idempotent (an inbox claim per
  record): a batch redelivered after a crash before the offset commit changes nothing twice.
* **Per-key order.** A poll returns each partition's records in order and the handler is given
  them in that order; the handler must apply them in that order.
* **Invalid records never block.** A record that cannot be decoded is set aside before the
  handler runs; one the handler finds invalid is reported in its result (the handler leaves no
  effect of it behind). Both are dead-lettered after the valid records were handled (a retried
  batch does not dead-letter them twice), with the same reasons, limit and hook as single ones.
* **Traces.** Each record gets its consumer span in its producer's trace (as when handled
  alone); the handler runs in one span per batch, linked to them, whose context the handler's
  outbox events carry.
"""

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from faststream.kafka import KafkaBroker
from opentelemetry.trace import Link, Span, SpanKind, Tracer

from timebridge_common.config import DlqLimitConfig, RetryConfig
from timebridge_common.errors import InvalidMessageError
from timebridge_common.events.envelope import Envelope
from timebridge_common.kafka.consumer import (
    DeadLetterHook,
    E,
    EventConsumer,
    Sleep,
    decode_record,
    register_subscriber,
)
from timebridge_common.kafka.dlt import (
    REPLAY_GROUP,
    DeadLetterPublisher,
    DlqLimit,
    SourceRecord,
)
from timebridge_common.kafka.publisher import messaging_attributes
from timebridge_common.tracing import extract

BatchHandler = Callable[
    [Sequence[tuple[Envelope, E]]], Awaitable[Sequence[InvalidMessageError | None]]
]
"""Handles records in order; per record ``None`` (handled) or why it is invalid (no effect)."""

MAX_RECORDS = 500
"""Records per batch at most: ~0.35 MB of ``TimeEntryLogged``, one database transaction."""

log = structlog.get_logger(__name__)


@dataclass
class BatchEventConsumer(EventConsumer[E]):
    """An ``EventConsumer`` whose records come in batches (``process_batch``)."""

    batch_handler: BatchHandler[E] | None = None

    async def process_batch(self, records: Sequence[SourceRecord]) -> None:
        assert self.batch_handler is not None
        handler = self.batch_handler
        ours = [r for r in records if r.headers.get(REPLAY_GROUP) in (None, "", self.group_id)]
        if not ours:
            return
        valid: list[tuple[SourceRecord, Envelope, E]] = []
        undecodable: list[tuple[SourceRecord, InvalidMessageError]] = []
        for record in ours:
            try:
                envelope, event = decode_record(record, self.model)
            except InvalidMessageError as exc:
                undecodable.append((record, exc))
            else:
                valid.append((record, envelope, event))
        first = ours[0]
        shared = messaging_attributes(
            first.topic, **{"messaging.consumer.group.name": self.group_id}
        )
        spans = {id(r): self._record_span(r, shared) for r in ours}
        attributes = {**shared, "messaging.batch.message_count": len(ours)}
        links = [Link(span.get_span_context()) for span in spans.values()]
        try:
            with self.tracer.start_as_current_span(
                f"process {first.topic}", kind=SpanKind.CONSUMER, attributes=attributes, links=links
            ):
                results: Sequence[InvalidMessageError | None] = ()
                attempts = 1
                if valid:

                    async def attempt() -> Sequence[InvalidMessageError | None]:
                        items = [(envelope, event) for _, envelope, event in valid]
                        outcome = await handler(items)
                        if len(outcome) != len(valid):
                            raise RuntimeError(
                                f"batch handler answered {len(outcome)}/{len(valid)}"
                            )
                        return outcome

                    with structlog.contextvars.bound_contextvars(
                        topic=first.topic, group=self.group_id, batch=len(valid)
                    ):
                        results, attempts = await self._until_done("handler", first, attempt)
                for result in results:
                    if result is None:
                        self.limit.record_valid()
                for record, error in undecodable:
                    await self._letter(record, error, spans[id(record)], attempts=1)
                for (record, envelope, event), result in zip(valid, results, strict=True):
                    if result is not None:
                        span = spans[id(record)]
                        await self._letter(record, result, span, envelope, event, attempts=attempts)
        finally:
            for span in spans.values():
                span.end()

    def _record_span(self, record: SourceRecord, shared: dict[str, Any]) -> Span:
        """A consumer span per record, in its producer's trace (as a record handled alone).

        ``shared`` are the attributes every record of the batch has (built once per batch).
        """
        headers = record.headers
        return self.tracer.start_span(
            f"process {record.topic}",
            context=extract(headers),
            kind=SpanKind.CONSUMER,
            attributes={
                **shared,
                "messaging.destination.partition.id": str(record.partition),
                "messaging.kafka.offset": record.offset,
                "messaging.message.id": headers.get("ce_id", ""),
            },
        )

    async def _letter(
        self,
        record: SourceRecord,
        error: InvalidMessageError,
        span: Span,
        envelope: Envelope | None = None,
        event: E | None = None,
        *,
        attempts: int,
    ) -> None:
        with structlog.contextvars.bound_contextvars(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            group=self.group_id,
            event_id=record.headers.get("ce_id"),
            workspace_id=record.headers.get("ce_workspaceid"),
        ):
            await self._dead_letter(record, error, span, envelope, event, attempts=attempts)


async def _lenient_batch_parser(records: Any, original: Callable[[Any], Awaitable[Any]]) -> Any:
    """FastStream's batch parser minus its strict header decoding (as ``_lenient_parser``).

    Its message keeps the untouched records as ``raw_message``; ``process_batch`` judges them.
    """
    message = await original(tuple(dataclasses.replace(r, headers=[]) for r in records))
    message.raw_message = records
    message.headers = {}
    return message


def subscribe_batch(
    broker: KafkaBroker,
    model: type[E],
    handler: BatchHandler[E],
    *,
    group_id: str,
    tracer: Tracer,
    retry: RetryConfig,
    dlq_limit: DlqLimitConfig,
    on_fatal: Callable[[BaseException], None],
    sleep: Sleep = asyncio.sleep,
    on_dead_letter: DeadLetterHook[E] | None = None,
    max_records: int = MAX_RECORDS,
) -> BatchEventConsumer[E]:
    """Register ``handler`` for batches of ``model``'s records in consumer group ``group_id``.

    A poll returns as soon as any record is there (a lone record is not held back to fill a
    batch); ``max_records`` bounds a batch under a backlog.
    """

    async def one(envelope: Envelope, event: E) -> None:
        (result,) = await handler([(envelope, event)])
        if result is not None:
            raise result

    consumer = BatchEventConsumer(
        model=model,
        handler=one,
        group_id=group_id,
        dead_letters=DeadLetterPublisher(broker, group_id),
        tracer=tracer,
        retry=retry,
        limit=DlqLimit(dlq_limit),
        on_fatal=on_fatal,
        sleep=sleep,
        on_dead_letter=on_dead_letter,
        batch_handler=handler,
    )

    register_subscriber(
        broker,
        model.topic(),
        group_id,
        lambda raw: consumer.process_batch([SourceRecord.from_consumer_record(r) for r in raw]),
        parser=_lenient_batch_parser,
        batch=True,
        max_records=max_records,
    )
    return consumer
