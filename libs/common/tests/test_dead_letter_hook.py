"""The optional dead-letter hook of ``EventConsumer``: told once the dead letter is published."""

import dataclasses
from typing import Any

from opentelemetry.trace import NoOpTracer

from timebridge_common.config import DlqLimitConfig, RetryConfig
from timebridge_common.errors import InvalidMessageError, TransientError
from timebridge_common.events import Envelope, TimeEntryLogged
from timebridge_common.events.codec import encode
from timebridge_common.kafka.consumer import DeadLettered, EventConsumer
from timebridge_common.kafka.dlt import DeadLetterPublisher, DlqLimit, SourceRecord
from timebridge_common.testing import sample_time_entry_logged

EVENT = sample_time_entry_logged()
ENVELOPE = Envelope.for_event(EVENT, producer="test")
ENCODED = encode(EVENT, ENVELOPE)
RECORD = SourceRecord(
    topic=ENCODED.topic,
    partition=0,
    offset=7,
    timestamp=0,
    timestamp_type=0,
    key=ENCODED.key,
    value=ENCODED.value,
    headers=ENCODED.headers,
)


class RecordingDeadLetters(DeadLetterPublisher):
    """Keeps what would go to the dead-letter topic, and in which order relative to the hook."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.published: list[tuple[SourceRecord, str, str, int]] = []

    async def publish(
        self,
        record: SourceRecord,
        *,
        error: BaseException,
        reason: str,
        error_class: Any,
        attempts: int,
    ) -> None:
        self.log.append("dead-lettered")
        self.published.append((record, reason, error_class, attempts))


async def no_sleep(_: float) -> None:
    return None


def consumer(
    handler: Any, hook: Any, log: list[str], *, attempts: int = 3
) -> tuple[EventConsumer[TimeEntryLogged], RecordingDeadLetters]:
    letters = RecordingDeadLetters(log)
    built = EventConsumer(
        model=TimeEntryLogged,
        handler=handler,
        group_id="g",
        dead_letters=letters,
        tracer=NoOpTracer(),
        retry=RetryConfig(max_attempts=attempts, initial_backoff_s=0.01),
        limit=DlqLimit(DlqLimitConfig()),
        on_fatal=lambda _: None,
        sleep=no_sleep,
        on_dead_letter=hook,
    )
    return built, letters


async def test_the_hook_hears_of_an_invalid_change_after_the_dead_letter() -> None:
    log: list[str] = []
    told: list[DeadLettered[TimeEntryLogged]] = []
    calls = 0

    async def failing(envelope: Envelope, event: TimeEntryLogged) -> None:
        nonlocal calls
        calls += 1
        log.append("handled")
        if calls < 3:
            raise TransientError("everhour answered 503")
        raise InvalidMessageError("everhour refused the task")

    async def hook(letter: DeadLettered[TimeEntryLogged]) -> None:
        log.append("told")
        told.append(letter)

    built, letters = consumer(failing, hook, log)
    await built.process(RECORD)
    assert log == ["handled", "handled", "handled", "dead-lettered", "told"]
    [letter] = told
    assert (letter.reason, letter.error_class, letter.attempts) == (
        "everhour refused the task",
        "invalid",
        3,
    )
    assert letter.event == EVENT
    assert letter.envelope is not None
    assert letter.envelope.event_id == ENVELOPE.event_id
    assert letter.record == RECORD
    assert len(letters.published) == 1


async def test_an_invalid_record_is_told_with_or_without_its_event() -> None:
    log: list[str] = []
    told: list[DeadLettered[TimeEntryLogged]] = []

    async def refusing(envelope: Envelope, event: TimeEntryLogged) -> None:
        raise InvalidMessageError("integration is not in this workspace")

    async def hook(letter: DeadLettered[TimeEntryLogged]) -> None:
        told.append(letter)

    built, _ = consumer(refusing, hook, log)
    await built.process(RECORD)
    undecodable = dataclasses.replace(RECORD, value=b"not json")
    await built.process(undecodable)
    assert [(t.error_class, t.attempts, t.event is not None) for t in told] == [
        ("invalid", 1, True),
        ("invalid", 1, False),
    ]
    assert told[0].reason == "integration is not in this workspace"
    assert told[1].envelope is None


async def test_a_failing_hook_is_retried_until_it_succeeds_and_dead_letters_once() -> None:
    """Like a handler, the hook is retried in place (the record uncommitted meanwhile), however
    long it fails: giving up used to redeliver the record and dead-letter it a second time."""
    log: list[str] = []
    calls = 0

    async def refusing(envelope: Envelope, event: TimeEntryLogged) -> None:
        raise InvalidMessageError("bad")

    async def flaky(letter: DeadLettered[TimeEntryLogged]) -> None:
        nonlocal calls
        calls += 1
        if calls < 10:  # far past max_attempts
            raise ConnectionError("database restarting")

    built, letters = consumer(refusing, flaky, log, attempts=2)
    await built.process(RECORD)  # nothing propagates: the record is committed once told
    assert calls == 10
    assert len(letters.published) == 1
    assert built.stalled is None


async def test_without_a_hook_dead_lettering_is_unchanged() -> None:
    log: list[str] = []

    async def refusing(envelope: Envelope, event: TimeEntryLogged) -> None:
        raise InvalidMessageError("bad")

    built, letters = consumer(refusing, None, log)
    await built.process(RECORD)
    assert log == ["dead-lettered"]
    assert [(reason, cls) for _, reason, cls, _ in letters.published] == [("bad", "invalid")]
