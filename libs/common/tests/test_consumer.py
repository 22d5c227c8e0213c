"""EventConsumer's policy: only invalid records are dead-lettered, everything else is retried
until it succeeds (and reported stalled meanwhile), replays reach one group, the cut-off says
why and a restarted consumer goes on."""

import dataclasses
from typing import Any

import asyncpg
import pytest
from aiokafka.errors import KafkaConnectionError
from opentelemetry.trace import NoOpTracer

from timebridge_common.config import DlqLimitConfig, RetryConfig
from timebridge_common.errors import InvalidMessageError, TransientError, is_transient
from timebridge_common.events import Envelope, TimeEntryLogged
from timebridge_common.events.codec import encode
from timebridge_common.kafka.consumer import EventConsumer, backoff_delay
from timebridge_common.kafka.dlt import (
    DeadLetterPublisher,
    DlqLimit,
    DlqLimitExceededError,
    SourceRecord,
    undecodable_headers,
)
from timebridge_common.testing import sample_time_entry_logged

EVENT = sample_time_entry_logged()
ENVELOPE = Envelope.for_event(EVENT, producer="test")
ENCODED = encode(EVENT, ENVELOPE)
RECORD = SourceRecord(
    topic=ENCODED.topic,
    partition=1,
    offset=7,
    timestamp=0,
    timestamp_type=0,
    key=ENCODED.key,
    value=ENCODED.value,
    headers=ENCODED.headers,
)


class Letters(DeadLetterPublisher):
    """Records what would be dead-lettered; fails the first ``failures`` publishes."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.published: list[tuple[SourceRecord, str, str]] = []

    async def publish(
        self, record: SourceRecord, *, error: BaseException, reason: str, error_class: Any, **_: Any
    ) -> None:
        if self.failures:
            self.failures -= 1
            raise KafkaConnectionError("broker unreachable")
        self.published.append((record, reason, error_class))


@dataclasses.dataclass
class Harness:
    handled: list[str] = dataclasses.field(default_factory=list)
    sleeps: list[float] = dataclasses.field(default_factory=list)
    fatal: list[BaseException] = dataclasses.field(default_factory=list)
    stalls: list[str] = dataclasses.field(default_factory=list)

    def consumer(
        self,
        handler: Any,
        *,
        letters: Letters | None = None,
        attempts: int = 3,
        limit: DlqLimitConfig | None = None,
        group: str = "timebridge-mapping",
    ) -> tuple[EventConsumer[TimeEntryLogged], Letters]:
        letters = letters or Letters()
        built: EventConsumer[TimeEntryLogged]

        async def sleep(delay: float) -> None:
            self.sleeps.append(delay)
            stall = getattr(built, "stalled", None)  # (getattr: this test also runs on old code)
            if stall is not None:
                self.stalls.append(stall.describe())

        built = EventConsumer(
            model=TimeEntryLogged,
            handler=handler,
            group_id=group,
            dead_letters=letters,
            tracer=NoOpTracer(),
            retry=RetryConfig(max_attempts=attempts, initial_backoff_s=0.5, max_backoff_s=4),
            limit=DlqLimit(limit or DlqLimitConfig()),
            on_fatal=self.fatal.append,
            sleep=sleep,
        )
        return built, letters


def failing(h: Harness, times: int, error: Exception) -> Any:
    async def handler(envelope: Envelope, event: TimeEntryLogged) -> None:
        h.handled.append(str(envelope.event_id))
        if len(h.handled) <= times:
            raise error

    return handler


async def test_a_transient_failure_past_max_attempts_is_retried_until_it_succeeds() -> None:
    h = Harness()
    built, letters = h.consumer(failing(h, 12, TransientError("database unreachable")))
    await built.process(RECORD)
    assert letters.published == []  # used to be dead-lettered after max_attempts (3)
    assert len(h.handled) == 13  # handled once successfully, after 12 failures
    assert h.sleeps == [0.5, 1, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4]  # capped exponential backoff
    assert built.stalled is None  # recovered
    # Stalled from the third failed attempt on, with what, where and since when.
    assert len(h.stalls) == 10
    assert (
        "handler of timebridge.time-entry-logged.v1@1:7 (group timebridge-mapping)" in (h.stalls[0])
    )
    assert "3 attempt(s), transient failure: database unreachable" in h.stalls[0]


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError("connect call failed"),
        TimeoutError(),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.InternalClientError("cannot switch to state 15; another operation is in progress"),
        KafkaConnectionError("no broker"),
        TransientError("everhour answered 429", retry_after=9),
    ],
)
async def test_dependency_failures_count_as_transient(error: Exception) -> None:
    assert is_transient(error)
    h = Harness()
    built, letters = h.consumer(failing(h, 1, error))
    await built.process(RECORD)
    assert (len(h.handled), letters.published, built.stalled) == (2, [], None)
    assert h.sleeps == [9 if isinstance(error, TransientError) else 0.5]


async def test_an_unexpected_error_is_retried_and_reported_stalled_at_once() -> None:
    h = Harness()
    built, letters = h.consumer(failing(h, 2, KeyError("bug")), attempts=100)
    assert not is_transient(KeyError("bug"))
    await built.process(RECORD)
    assert letters.published == []
    assert len(h.handled) == 3
    assert len(h.stalls) == 2
    assert "unexpected error (a bug?): KeyError('bug')" in h.stalls[0]


async def test_invalid_records_are_dead_lettered_at_once_and_the_next_one_is_handled() -> None:
    h = Harness()
    built, letters = h.consumer(failing(h, 0, TransientError("unused")))
    raw = [("ce_id", b"x"), ("ce_source", b"\xff\xfe")]
    bad = [
        dataclasses.replace(RECORD, value=b"not json"),
        dataclasses.replace(RECORD, value=b""),
        dataclasses.replace(RECORD, value=None),
        dataclasses.replace(RECORD, headers={}),
        dataclasses.replace(RECORD, undecodable_headers=undecodable_headers(raw)),
        dataclasses.replace(RECORD, value=b"[" * 100_000 + b"]" * 100_000),
    ]
    for record in bad:
        await built.process(record)
    await built.process(RECORD)
    reasons = [reason for _, reason, _ in letters.published]
    assert [cls for _, _, cls in letters.published] == ["invalid"] * len(bad)
    assert "value is not JSON" in reasons[0]
    assert "value is not JSON" in reasons[1]
    assert reasons[2] == "record has no value"
    assert "missing CloudEvents headers" in reasons[3]
    assert reasons[4] == "header value(s) not UTF-8: ce_source"
    assert "could not be decoded" in reasons[5] or "not JSON" in reasons[5]
    assert h.handled == [str(ENVELOPE.event_id)]
    assert h.sleeps == []


async def test_a_dead_letter_that_cannot_be_published_yet_is_retried_not_lost() -> None:
    h = Harness()

    async def refusing(envelope: Envelope, event: TimeEntryLogged) -> None:
        raise InvalidMessageError("not in this workspace")

    built, letters = h.consumer(refusing, letters=Letters(failures=5))
    await built.process(RECORD)
    assert [reason for _, reason, _ in letters.published] == ["not in this workspace"]
    assert len(h.sleeps) == 5
    assert "dead-letter publish of" in h.stalls[-1]


async def test_a_replay_reaches_only_the_group_it_names() -> None:
    h = Harness()
    replayed = dataclasses.replace(
        RECORD,
        value=b"not json",  # would be dead-lettered (and counted) by any group handling it
        headers={**RECORD.headers, "timebridge_replay-group": "timebridge-mapping"},
    )
    other, other_letters = h.consumer(failing(h, 0, KeyError()), group="timebridge-reporting")
    await other.process(replayed)
    await other.process(dataclasses.replace(replayed, value=RECORD.value))
    assert (h.handled, other_letters.published) == ([], [])

    owner, owner_letters = h.consumer(failing(h, 0, KeyError()), group="timebridge-mapping")
    await owner.process(dataclasses.replace(replayed, value=RECORD.value))
    await owner.process(replayed)
    assert h.handled == [str(ENVELOPE.event_id)]
    assert [cls for _, _, cls in owner_letters.published] == ["invalid"]


async def test_the_cut_off_says_why_and_a_restarted_consumer_dead_letters_the_record() -> None:
    h = Harness()
    limit = DlqLimitConfig(max_consecutive=2, min_samples=1000)

    async def refusing(envelope: Envelope, event: TimeEntryLogged) -> None:
        raise InvalidMessageError("bad")

    built, letters = h.consumer(refusing, limit=limit)
    records = [dataclasses.replace(RECORD, offset=n) for n in (10, 11, 12)]
    await built.process(records[0])
    await built.process(records[1])
    with pytest.raises(DlqLimitExceededError) as tripped:
        await built.process(records[2])
    message = str(tripped.value)
    assert "consumer group timebridge-mapping" in message
    assert "on timebridge.time-entry-logged.v1" in message
    assert "3 consecutive messages failed (TB_DLQ_LIMIT__MAX_CONSECUTIVE=2)" in message
    assert "timebridge.time-entry-logged.v1@1:12 uncommitted" in message
    assert h.fatal == [tripped.value]
    assert [r.offset for r, _, _ in letters.published] == [10, 11]

    restarted, after = h.consumer(refusing, limit=limit, letters=letters)
    await restarted.process(records[2])  # redelivered after the restart: it goes on
    assert [r.offset for r, _, _ in after.published] == [10, 11, 12]
    assert len(h.fatal) == 1


def test_backoff_stays_capped_however_long_the_outage() -> None:
    config = RetryConfig(initial_backoff_s=0.5, max_backoff_s=30)
    assert backoff_delay(config, 10_000) == 30
