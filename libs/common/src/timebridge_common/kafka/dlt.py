"""Dead-letter topics, their headers, and the cut-off when too much is dead-lettered.

One dead-letter topic per topic (``<topic>.DLT``, Spring Kafka's default name). The record keeps
its key, value and headers, and gains the ``kafka_dlt-*`` headers Spring Kafka's
``DeadLetterPublishingRecoverer`` writes, so tools that read those already understand ours. One
difference: Spring writes partition, offset and timestamp as big-endian binary numbers; we write
them as decimal strings (readable in any console consumer, and FastStream headers are text).
"""

import collections
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from faststream.kafka import KafkaBroker

from timebridge_common.config import DlqLimitConfig

DLT_SUFFIX = ".DLT"
ORIGINAL_TOPIC = "kafka_dlt-original-topic"
ORIGINAL_PARTITION = "kafka_dlt-original-partition"
ORIGINAL_OFFSET = "kafka_dlt-original-offset"
ORIGINAL_TIMESTAMP = "kafka_dlt-original-timestamp"
ORIGINAL_TIMESTAMP_TYPE = "kafka_dlt-original-timestamp-type"
ORIGINAL_CONSUMER_GROUP = "kafka_dlt-original-consumer-group"
EXCEPTION_FQCN = "kafka_dlt-exception-fqcn"
EXCEPTION_CAUSE_FQCN = "kafka_dlt-exception-cause-fqcn"
EXCEPTION_MESSAGE = "kafka_dlt-exception-message"
EXCEPTION_STACKTRACE = "kafka_dlt-exception-stacktrace"
DELIVERY_ATTEMPT = "kafka_deliveryAttempt"
ERROR_CLASS = "timebridge_dlt-error-class"
REPLAYED_FROM = "timebridge_replayed-from"
REPLAY_GROUP = "timebridge_replay-group"
"""Set by replay: only this consumer group handles the record; every other group skips it."""

DLT_HEADERS = frozenset(
    {
        ORIGINAL_TOPIC,
        ORIGINAL_PARTITION,
        ORIGINAL_OFFSET,
        ORIGINAL_TIMESTAMP,
        ORIGINAL_TIMESTAMP_TYPE,
        ORIGINAL_CONSUMER_GROUP,
        EXCEPTION_FQCN,
        EXCEPTION_CAUSE_FQCN,
        EXCEPTION_MESSAGE,
        EXCEPTION_STACKTRACE,
        DELIVERY_ATTEMPT,
        ERROR_CLASS,
        REPLAY_GROUP,
    }
)
"""Headers a dead letter gains (and a replay drops): never copied from the failed record."""

ErrorClass = Literal["invalid", "transient"]
_MAX_HEADER_CHARS = 8_000


def dlt_topic(topic: str) -> str:
    return topic + DLT_SUFFIX


def _fqcn(exc: BaseException) -> str:
    cls = type(exc)
    return f"{cls.__module__}.{cls.__qualname__}"


def decode_headers(raw: Iterable[tuple[str, bytes | None]]) -> dict[str, str]:
    """Kafka headers as text; the last value wins for a repeated name."""
    return {k: (v or b"").decode("utf-8", "replace") for k, v in raw}


def undecodable_headers(raw: Iterable[tuple[str, bytes | None]]) -> tuple[str, ...]:
    """Names of the headers whose value is not UTF-8 (such a record is invalid)."""
    bad: list[str] = []
    for name, value in raw:
        try:
            (value or b"").decode("utf-8")
        except UnicodeDecodeError:
            bad.append(name)
    return tuple(bad)


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """The parts of a consumed record a dead letter needs (ConsumerRecord is not frozen)."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    timestamp_type: int
    key: bytes | None
    value: bytes | None
    headers: Mapping[str, str]
    undecodable_headers: tuple[str, ...] = ()
    """Headers that were not UTF-8 (kept in ``headers`` with replacement characters)."""

    @classmethod
    def from_consumer_record(cls, record: Any) -> "SourceRecord":
        return cls(
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            timestamp=record.timestamp,
            timestamp_type=record.timestamp_type,
            key=record.key,
            value=record.value,
            headers=decode_headers(record.headers),
            undecodable_headers=undecodable_headers(record.headers),
        )


def dead_letter_headers(
    record: SourceRecord,
    *,
    group_id: str,
    error: BaseException,
    reason: str,
    error_class: ErrorClass,
    attempts: int,
) -> dict[str, str]:
    original = {k: v for k, v in record.headers.items() if k not in DLT_HEADERS}
    stack = "".join(traceback.format_exception(error))[-_MAX_HEADER_CHARS:]
    headers = {
        **original,
        ORIGINAL_TOPIC: record.topic,
        ORIGINAL_PARTITION: str(record.partition),
        ORIGINAL_OFFSET: str(record.offset),
        ORIGINAL_TIMESTAMP: str(record.timestamp),
        ORIGINAL_TIMESTAMP_TYPE: "CREATE_TIME" if record.timestamp_type == 0 else "LOG_APPEND_TIME",
        ORIGINAL_CONSUMER_GROUP: group_id,
        EXCEPTION_FQCN: _fqcn(error),
        EXCEPTION_MESSAGE: reason[:_MAX_HEADER_CHARS],
        EXCEPTION_STACKTRACE: stack,
        DELIVERY_ATTEMPT: str(attempts),
        ERROR_CLASS: error_class,
    }
    if error.__cause__ is not None:
        headers[EXCEPTION_CAUSE_FQCN] = _fqcn(error.__cause__)
    return headers


class DeadLetterPublisher:
    """Publishes a failed record to its topic's dead-letter topic and waits for the ack.

    The consumer commits the original offset only after this returns, so a crash in between
    redelivers the record instead of losing it.
    """

    def __init__(self, broker: KafkaBroker, group_id: str) -> None:
        self._broker = broker
        self._group_id = group_id

    async def publish(
        self,
        record: SourceRecord,
        *,
        error: BaseException,
        reason: str,
        error_class: ErrorClass,
        attempts: int,
    ) -> None:
        headers = dead_letter_headers(
            record,
            group_id=self._group_id,
            error=error,
            reason=reason,
            error_class=error_class,
            attempts=attempts,
        )
        await self._broker.publish(
            record.value, dlt_topic(record.topic), key=record.key, headers=headers
        )


class DlqLimitExceededError(Exception):
    """Too much is going to the dead-letter topic: stop instead of draining the topic into it."""


class DlqLimit:
    """Trips when the share of dead-lettered messages, or a run of them, passes the limit.

    A bad deploy or a bad producer makes *every* message invalid; dead-lettering them all would
    turn an incident into a replay project. Past the limit the consumer stops with the message
    still uncommitted, and ops fix the cause instead. The counts live in memory only: a restarted
    consumer starts afresh, so the record that tripped the limit is dead-lettered first and
    consumption goes on without any offset surgery (a cause left unfixed trips it again).
    """

    def __init__(self, config: DlqLimitConfig) -> None:
        self._config = config
        self._recent: collections.deque[bool] = collections.deque(maxlen=config.window)
        self._consecutive = 0

    def record_valid(self) -> None:
        self._recent.append(False)
        self._consecutive = 0

    def check_invalid(self) -> None:
        """Account for one more dead letter; raise instead if that passes the limit."""
        consecutive = self._consecutive + 1
        if consecutive > self._config.max_consecutive:
            raise DlqLimitExceededError(
                f"{consecutive} consecutive messages failed "
                f"(TB_DLQ_LIMIT__MAX_CONSECUTIVE={self._config.max_consecutive})"
            )
        window = [*self._recent, True][-self._config.window :]
        ratio = sum(window) / len(window)
        if len(window) >= self._config.min_samples and ratio > self._config.max_invalid_ratio:
            raise DlqLimitExceededError(
                f"{ratio:.0%} of the last {len(window)} messages failed "
                f"(TB_DLQ_LIMIT__MAX_INVALID_RATIO={self._config.max_invalid_ratio}, "
                f"over TB_DLQ_LIMIT__WINDOW={self._config.window})"
            )
        self._recent.append(True)
        self._consecutive = consecutive
