"""Subscribing a domain handler to an event topic with an explicit delivery policy.

Delivery guarantees, in order of precedence:

* **At least once.** The ack policy is ``NACK_ON_ERROR`` with auto-commit off: an offset is
  committed only after the handler returned or the record was durably dead-lettered. A crash at
  any point redelivers the record, so handlers must be idempotent (see ``db.inbox``).
* **Per-key order.** Records are handled one at a time per partition; a transient failure is
  retried in place (with backoff, honouring ``retry_after``) rather than skipped, so a later
  change to the same entry never overtakes an earlier one.
* **Invalid records never block.** A record that can never succeed (bad envelope, schema
  violation, ``InvalidMessageError`` from the handler) goes to ``<topic>.DLT`` at once; one that
  keeps failing transiently goes there after ``max_attempts``. Both carry the reason in headers
  and can be replayed (``timebridge-dlt replay``).
* **Cut-off.** Past the ``DlqLimit`` the consumer stops with the record uncommitted and calls
  ``on_fatal`` (the service exits), instead of dead-lettering a whole topic.
* **Dead letters can be seen.** An optional ``on_dead_letter`` hook runs once a record is durably
  dead-lettered, before its offset is committed, so a service can record the failure where its
  users look (e.g. an entry's sync status) instead of only in the dead-letter topic. It runs at
  least once per dead letter (retried in place like a handler; if it still fails, the record
  stays uncommitted and comes again), so it must be idempotent.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import structlog
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from timebridge_common.config import DlqLimitConfig, RetryConfig
from timebridge_common.errors import InvalidMessageError, TransientError
from timebridge_common.events.base import Event
from timebridge_common.events.codec import decode
from timebridge_common.events.envelope import Envelope
from timebridge_common.kafka.dlt import (
    DeadLetterPublisher,
    DlqLimit,
    DlqLimitExceededError,
    ErrorClass,
    SourceRecord,
)
from timebridge_common.kafka.publisher import messaging_attributes
from timebridge_common.tracing import extract

E = TypeVar("E", bound=Event)
Handler = Callable[[Envelope, E], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class DeadLettered(Generic[E]):
    """A record that was just dead-lettered, and why.

    ``envelope`` and ``event`` are ``None`` when the record could not even be decoded: nothing
    about it can be trusted then but the raw record.
    """

    record: SourceRecord
    envelope: Envelope | None
    event: E | None
    reason: str
    error_class: ErrorClass
    attempts: int


DeadLetterHook = Callable[[DeadLettered[E]], Awaitable[None]]

log = structlog.get_logger(__name__)


def backoff_delay(config: RetryConfig, attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff after ``attempt`` failures, never shorter than the server asked."""
    delay: float = min(config.max_backoff_s, config.initial_backoff_s * 2.0 ** (attempt - 1))
    return max(delay, retry_after or 0.0)


@dataclass
class EventConsumer(Generic[E]):
    """Runs ``handler`` for each record of ``model``'s topic under the policy above."""

    model: type[E]
    handler: Handler[E]
    group_id: str
    dead_letters: DeadLetterPublisher
    tracer: Tracer
    retry: RetryConfig
    limit: DlqLimit
    on_fatal: Callable[[BaseException], None]
    sleep: Sleep = asyncio.sleep
    on_dead_letter: DeadLetterHook[E] | None = None

    async def process(self, record: SourceRecord) -> None:
        attributes = messaging_attributes(
            record.topic,
            **{
                "messaging.consumer.group.name": self.group_id,
                "messaging.destination.partition.id": str(record.partition),
                "messaging.kafka.offset": record.offset,
                "messaging.message.id": record.headers.get("ce_id", ""),
            },
        )
        with (
            self.tracer.start_as_current_span(
                f"process {record.topic}",
                context=extract(record.headers),
                kind=SpanKind.CONSUMER,
                attributes=attributes,
            ) as span,
            structlog.contextvars.bound_contextvars(
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                event_id=record.headers.get("ce_id"),
                workspace_id=record.headers.get("ce_workspaceid"),
            ),
        ):
            try:
                envelope, event = decode(record.headers, record.value, self.model)
            except InvalidMessageError as exc:
                await self._dead_letter(record, exc, exc.reason, "invalid", attempts=1)
                await self._tell(DeadLettered(record, None, None, exc.reason, "invalid", 1))
                span.set_status(Status(StatusCode.ERROR, exc.reason))
                return
            await self._handle_with_retries(record, envelope, event, span)

    async def _handle_with_retries(
        self, record: SourceRecord, envelope: Envelope, event: E, span: Any
    ) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                await self.handler(envelope, event)
            except InvalidMessageError as exc:
                await self._dead_letter(record, exc, exc.reason, "invalid", attempts=attempt)
                await self._tell(
                    DeadLettered(record, envelope, event, exc.reason, "invalid", attempt)
                )
                span.set_status(Status(StatusCode.ERROR, exc.reason))
                return
            except Exception as exc:
                reason = exc.reason if isinstance(exc, TransientError) else repr(exc)
                retry_after = exc.retry_after if isinstance(exc, TransientError) else None
                if attempt >= self.retry.max_attempts:
                    await self._dead_letter(record, exc, reason, "transient", attempts=attempt)
                    await self._tell(
                        DeadLettered(record, envelope, event, reason, "transient", attempt)
                    )
                    span.set_status(Status(StatusCode.ERROR, reason))
                    return
                delay = backoff_delay(self.retry, attempt, retry_after)
                log.warning("handler failed, retrying", attempt=attempt, delay=delay, error=reason)
                await self.sleep(delay)
            else:
                self.limit.record_valid()
                return

    async def _tell(self, letter: DeadLettered[E]) -> None:
        """Run the dead-letter hook, retried in place like a handler.

        If it keeps failing the error propagates: the record is not committed and comes again
        (and is dead-lettered again), so what the hook records is never silently lost.
        """
        if self.on_dead_letter is None:
            return
        attempt = 0
        while True:
            attempt += 1
            try:
                await self.on_dead_letter(letter)
            except Exception as exc:
                if attempt >= self.retry.max_attempts:
                    log.error("dead-letter hook failed, record left uncommitted", error=repr(exc))
                    raise
                retry_after = exc.retry_after if isinstance(exc, TransientError) else None
                delay = backoff_delay(self.retry, attempt, retry_after)
                log.warning("dead-letter hook failed, retrying", attempt=attempt, error=repr(exc))
                await self.sleep(delay)
            else:
                return

    async def _dead_letter(
        self,
        record: SourceRecord,
        error: BaseException,
        reason: str,
        error_class: ErrorClass,
        *,
        attempts: int,
    ) -> None:
        try:
            self.limit.check_invalid()
        except DlqLimitExceededError as exc:
            log.error("dead-letter limit exceeded, stopping consumer", reason=str(exc))
            self.on_fatal(exc)
            raise
        await self.dead_letters.publish(
            record, error=error, reason=reason, error_class=error_class, attempts=attempts
        )
        log.error(
            "message dead-lettered", error_class=error_class, reason=reason, attempts=attempts
        )


def subscribe(
    broker: KafkaBroker,
    model: type[E],
    handler: Handler[E],
    *,
    group_id: str,
    tracer: Tracer,
    retry: RetryConfig,
    dlq_limit: DlqLimitConfig,
    on_fatal: Callable[[BaseException], None],
    sleep: Sleep = asyncio.sleep,
    on_dead_letter: DeadLetterHook[E] | None = None,
) -> EventConsumer[E]:
    """Register ``handler`` for ``model``'s topic in consumer group ``group_id``.

    New groups start from the earliest offset: a service deployed after events were published
    still sees them (topics are the source of truth, retention permitting). ``on_dead_letter``
    runs after each record this consumer dead-letters (see the module docstring).
    """
    consumer = EventConsumer(
        model=model,
        handler=handler,
        group_id=group_id,
        dead_letters=DeadLetterPublisher(broker, group_id),
        tracer=tracer,
        retry=retry,
        limit=DlqLimit(dlq_limit),
        on_fatal=on_fatal,
        sleep=sleep,
        on_dead_letter=on_dead_letter,
    )

    @broker.subscriber(
        model.topic(),
        group_id=group_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
    )
    async def _consume(msg: KafkaMessage) -> None:
        await consumer.process(SourceRecord.from_consumer_record(msg.raw_message))

    return consumer
