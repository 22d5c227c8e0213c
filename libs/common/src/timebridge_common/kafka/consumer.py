"""Subscribing a domain handler to an event topic with an explicit delivery policy.

Delivery guarantees, in order of precedence:

* **At least once.** The ack policy is ``NACK_ON_ERROR`` with auto-commit off: an offset is
  committed only after the handler returned or the record was durably dead-lettered. A crash at
  any point redelivers the record, so handlers must be idempotent (see ``db.inbox``).
* **Per-key order.** Records are handled one at a time per partition; a failure that is not the
  record's fault is retried in place rather than skipped, so a later change to the same entry
  never overtakes an earlier one.
* **Only invalid records are dead-lettered, and they never block.** A record that can never
  succeed (bytes that are not an event: no or bad CloudEvents headers, header values that are
  not UTF-8, a value that is empty or not JSON whatever its ``content-type``; a schema
  violation; ``InvalidMessageError`` from the handler) goes to ``<topic>.DLT`` at once, with the
  reason in headers and a log line, and the partition moves on. FastStream is told not to
  decode anything itself: its JSON decoding by ``content-type`` used to fail before our code
  ran, and the record was NACKed forever, silently.
* **Everything else is retried until it succeeds**, with exponential backoff capped at
  ``max_backoff_s`` (honouring ``retry_after``): a dependency that is down (database, broker,
  a provider's 5xx/429; see ``errors.is_transient``) comes back, and an unexpected exception (a
  bug) is kept in place until a fix is deployed rather than losing a valid event. The same
  holds for publishing the dead letter and for the dead-letter hook.
* **Stalls are visible.** After ``max_attempts`` failed attempts of one record (at once for an
  unexpected exception) the consumer logs an error and reports itself :attr:`stalled`; the
  runtime's ``/readyz`` shows it until the record goes through. Retrying longer than the
  broker's ``max.poll.interval.ms`` makes the group rebalance; the record then comes again
  (at least once), which the inbox absorbs.
* **Cut-off.** Past the ``DlqLimit`` the consumer stops with the record uncommitted, logs which
  limit of which topic and group tripped, holds that subscription (no spinning) and calls
  ``on_fatal`` (the service exits). The limit's counts are in memory: after a restart the
  tripping record is dead-lettered first and consumption goes on, no offset surgery needed.
* **Replays reach one group.** A record carrying ``timebridge_replay-group`` (written by
  ``timebridge-dlt replay``) is handled only by that consumer group; every other group acks
  it without looking further (see ``kafka.replay``).
* **Dead letters can be seen.** An optional ``on_dead_letter`` hook runs once a record is durably
  dead-lettered, before its offset is committed, so a service can record the failure where its
  users look (e.g. an entry's sync status). It is retried in place like a handler until it
  succeeds, so it must be idempotent.
"""

import asyncio
import copy
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import structlog
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from timebridge_common.config import DlqLimitConfig, RetryConfig
from timebridge_common.errors import InvalidMessageError, is_transient, reason_of, retry_after
from timebridge_common.events.base import Event
from timebridge_common.events.codec import decode
from timebridge_common.events.envelope import Envelope
from timebridge_common.kafka.dlt import (
    REPLAY_GROUP,
    DeadLetterPublisher,
    DlqLimit,
    DlqLimitExceededError,
    ErrorClass,
    SourceRecord,
    decode_headers,
)
from timebridge_common.kafka.publisher import messaging_attributes
from timebridge_common.tracing import extract

E = TypeVar("E", bound=Event)
T = TypeVar("T")
Handler = Callable[[Envelope, E], Awaitable[None]]
# A service subscribes one consumer per topic, all in one group, so each member that joins makes
# the others rejoin, which they learn at their next heartbeat: at aiokafka's 3 s a ten-topic
# service took ~30 s to get its partitions (a reporting test: 43 s; at 500 ms: 15 s). The
# session timeout stays 10 s; the cost is two small requests a second per consumer.
HEARTBEAT_INTERVAL_MS = 500
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


@dataclass(frozen=True, slots=True)
class Stall:
    """A record this consumer keeps failing on (it is still being retried)."""

    step: str
    topic: str
    partition: int
    offset: int
    group_id: str
    attempts: int
    failing_for_s: float
    error: str
    unexpected: bool

    def describe(self) -> str:
        kind = "unexpected error (a bug?)" if self.unexpected else "transient failure"
        return (
            f"{self.step} of {self.topic}@{self.partition}:{self.offset} (group {self.group_id}) "
            f"failing for {self.failing_for_s:.0f} s, {self.attempts} attempt(s), {kind}: "
            f"{self.error}"
        )


log = structlog.get_logger(__name__)


def backoff_delay(config: RetryConfig, attempt: int, retry_after: float | None = None) -> float:
    """Exponential backoff after ``attempt`` failures, never shorter than the server asked."""
    delay: float = min(
        config.max_backoff_s, config.initial_backoff_s * 2.0 ** (min(attempt, 64) - 1)
    )
    return max(delay, retry_after or 0.0)


def decode_record(record: SourceRecord, model: type[E]) -> tuple[Envelope, E]:
    """The record as ``model``, or ``InvalidMessageError`` for any bytes that are not one."""
    if record.undecodable_headers:
        names = ", ".join(record.undecodable_headers)
        raise InvalidMessageError(f"header value(s) not UTF-8: {names}")
    try:
        return decode(record.headers, record.value, model)
    except InvalidMessageError:
        raise
    except Exception as exc:  # e.g. JSON nested too deep: still bytes that are no event
        raise InvalidMessageError(f"record could not be decoded: {exc!r}") from exc


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
    clock: Callable[[], float] = time.monotonic
    _stall: Stall | None = None

    @property
    def stalled(self) -> Stall | None:
        """The record this consumer is stuck on, once it counts as a stall (else ``None``)."""
        return self._stall

    async def process(self, record: SourceRecord) -> None:
        wanted_by = record.headers.get(REPLAY_GROUP)
        if wanted_by and wanted_by != self.group_id:
            return  # a replay for another consumer group: not ours to handle again
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
                group=self.group_id,
                event_id=record.headers.get("ce_id"),
                workspace_id=record.headers.get("ce_workspaceid"),
            ),
        ):
            try:
                envelope, event = decode_record(record, self.model)
            except InvalidMessageError as exc:
                await self._dead_letter(record, exc, span, attempts=1)
                return
            await self._handle(record, envelope, event, span)

    async def _handle(self, record: SourceRecord, envelope: Envelope, event: E, span: Span) -> None:
        async def attempt() -> InvalidMessageError | None:
            try:
                await self.handler(envelope, event)
            except InvalidMessageError as exc:
                return exc
            return None

        invalid, attempts = await self._until_done("handler", record, attempt)
        if invalid is None:
            self.limit.record_valid()
            return
        await self._dead_letter(record, invalid, span, envelope, event, attempts=attempts)

    async def _until_done(
        self, step: str, record: SourceRecord, attempt: Callable[[], Awaitable[T]]
    ) -> tuple[T, int]:
        """Run ``attempt`` until it returns (whatever it raises); return its result and tries."""
        tries = 0
        first_failure = 0.0
        while True:
            tries += 1
            try:
                result = await attempt()
            except Exception as exc:
                if tries == 1:
                    first_failure = self.clock()
                await self._failed(step, record, exc, tries, first_failure)
            else:
                if self._stall is not None:
                    log.warning("consumer recovered", step=step, attempts=tries)
                    self._stall = None
                return result, tries

    async def _failed(
        self, step: str, record: SourceRecord, exc: Exception, tries: int, since: float
    ) -> None:
        unexpected = not is_transient(exc)
        reason = reason_of(exc)
        if unexpected or tries >= self.retry.max_attempts:
            first = self._stall is None
            self._stall = Stall(
                step=step,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                group_id=self.group_id,
                attempts=tries,
                failing_for_s=self.clock() - since,
                error=reason,
                unexpected=unexpected,
            )
            if first and unexpected:
                log.error(
                    "unexpected error; retrying until it succeeds (not dead-lettered)",
                    step=step,
                    attempt=tries,
                    exc_info=exc,
                )
            elif first:
                log.error(
                    "consumer stalled; retrying until the dependency is back",
                    step=step,
                    attempts=tries,
                    error=reason,
                )
        delay = backoff_delay(self.retry, tries, retry_after(exc))
        log.warning(f"{step} failed, retrying", attempt=tries, delay=delay, error=reason)
        await self.sleep(delay)

    async def _dead_letter(
        self,
        record: SourceRecord,
        error: InvalidMessageError,
        span: Span,
        envelope: Envelope | None = None,
        event: E | None = None,
        *,
        attempts: int,
    ) -> None:
        try:
            self.limit.check_invalid()
        except DlqLimitExceededError as exc:
            tripped = DlqLimitExceededError(
                f"dead-letter limit reached in consumer group {self.group_id} on {record.topic}: "
                f"{exc}; stopping with {record.topic}@{record.partition}:{record.offset} "
                "uncommitted. Fix the cause (a bad producer or deploy?) and restart: the limit "
                "starts afresh and this record is dead-lettered first"
            )
            log.critical("dead-letter limit reached, stopping consumer", reason=str(tripped))
            self.on_fatal(tripped)
            raise tripped from exc

        async def publish() -> None:
            await self.dead_letters.publish(
                record, error=error, reason=error.reason, error_class="invalid", attempts=attempts
            )

        await self._until_done("dead-letter publish", record, publish)
        log.error("message dead-lettered", error_class="invalid", reason=error.reason)
        span.set_status(Status(StatusCode.ERROR, error.reason))
        await self._tell(DeadLettered(record, envelope, event, error.reason, "invalid", attempts))

    async def _tell(self, letter: DeadLettered[E]) -> None:
        """Run the dead-letter hook, retried in place like a handler until it succeeds.

        The record stays uncommitted meanwhile, so what the hook records is never lost, and the
        record is not dead-lettered twice.
        """
        hook = self.on_dead_letter
        if hook is not None:
            await self._until_done("dead-letter hook", letter.record, lambda: hook(letter))


async def _lenient_parser(record: Any, original: Callable[[Any], Awaitable[Any]]) -> Any:
    """FastStream's parser, minus its strict header decoding (non-UTF-8 bytes made it raise).

    Its message keeps the untouched record as ``raw_message``; ``process`` judges the headers.
    """
    stripped = copy.copy(record)
    stripped.headers = []
    message = await original(stripped)
    message.raw_message = record
    message.headers = decode_headers(record.headers)
    return message


async def _no_decoding(message: Any) -> Any:
    """Leave the body as bytes: decoding is ``process``'s job, where a failure is dead-lettered."""
    return message.body


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

    register_subscriber(
        broker,
        model.topic(),
        group_id,
        lambda raw: consumer.process(SourceRecord.from_consumer_record(raw)),
        parser=_lenient_parser,
    )
    return consumer


def register_subscriber(
    broker: KafkaBroker,
    topic: str,
    group_id: str,
    process: Callable[[Any], Awaitable[None]],
    **options: Any,
) -> None:
    """Subscribe ``process`` to the raw record (or records) of ``topic`` under the policy above.

    The one place both subscriptions (``subscribe`` and ``kafka.batch.subscribe_batch``) are
    registered: ack policy, offset reset, heartbeat, no decoding by FastStream, and the hold
    once the dead-letter limit tripped. ``options`` are FastStream's (its parser, ``batch``...).
    """

    async def _consume(msg: KafkaMessage) -> None:
        try:
            await process(msg.raw_message)
        except DlqLimitExceededError:
            # Hold the subscription, record(s) uncommitted, until the service stops (on_fatal
            # asked it to): raising would make FastStream redeliver in a tight loop.
            await asyncio.Event().wait()

    broker.subscriber(
        topic,
        group_id=group_id,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
        decoder=_no_decoding,
        **options,
    )(_consume)
