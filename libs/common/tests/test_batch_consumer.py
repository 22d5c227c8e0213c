"""BatchEventConsumer's policy: the valid records of a batch go to the handler together, in
order; undecodable ones and the ones the handler finds invalid are dead-lettered after them; a
failing handler retries the whole batch (nothing dead-lettered twice); other groups' replays are
skipped."""

import dataclasses
from collections.abc import Sequence
from typing import Any

from opentelemetry.trace import NoOpTracer

from timebridge_common.config import DlqLimitConfig, RetryConfig
from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import Envelope, TimeEntryLogged
from timebridge_common.events.codec import encode
from timebridge_common.kafka.batch import BatchEventConsumer
from timebridge_common.kafka.dlt import REPLAY_GROUP, DeadLetterPublisher, DlqLimit, SourceRecord
from timebridge_common.testing import sample_time_entry_logged


class Letters(DeadLetterPublisher):
    """Records what would be dead-lettered."""

    def __init__(self) -> None:
        self.published: list[tuple[SourceRecord, str, str]] = []

    async def publish(
        self, record: SourceRecord, *, error: BaseException, reason: str, error_class: Any, **_: Any
    ) -> None:
        self.published.append((record, reason, error_class))


def record(n: int, **changes: Any) -> SourceRecord:
    event = sample_time_entry_logged(external_id=f"te_{n}")
    encoded = encode(event, Envelope.for_event(event, producer="test"))
    base = SourceRecord(
        topic=encoded.topic,
        partition=0,
        offset=n,
        timestamp=0,
        timestamp_type=0,
        key=encoded.key,
        value=encoded.value,
        headers=encoded.headers,
    )
    return dataclasses.replace(base, **changes)


@dataclasses.dataclass
class Handler:
    batches: list[list[str]] = dataclasses.field(default_factory=list)
    failures: int = 0
    invalid: set[str] = dataclasses.field(default_factory=set)

    async def __call__(
        self, items: Sequence[tuple[Envelope, TimeEntryLogged]]
    ) -> list[InvalidMessageError | None]:
        self.batches.append([e.external_id for _, e in items])
        if self.failures:
            self.failures -= 1
            raise ConnectionResetError("database gone")
        return [
            InvalidMessageError("refused") if e.external_id in self.invalid else None
            for _, e in items
        ]


def consumer(handler: Handler, letters: Letters, sleeps: list[float]) -> Any:
    async def sleep(delay: float) -> None:
        sleeps.append(delay)

    async def one(envelope: Envelope, event: TimeEntryLogged) -> None:
        raise AssertionError("batches only")

    return BatchEventConsumer(
        model=TimeEntryLogged,
        handler=one,
        group_id="timebridge-mapping",
        dead_letters=letters,
        tracer=NoOpTracer(),
        retry=RetryConfig(max_attempts=3, initial_backoff_s=0.5, max_backoff_s=4),
        limit=DlqLimit(DlqLimitConfig()),
        on_fatal=lambda _: None,
        sleep=sleep,
        batch_handler=handler,
    )


async def test_poison_inside_a_batch_is_dead_lettered_after_the_rest_is_handled() -> None:
    handler, letters, sleeps = Handler(invalid={"te_3"}), Letters(), list[float]()
    batch = [record(1), record(2, value=b"not json"), record(3), record(4)]
    await consumer(handler, letters, sleeps).process_batch(batch)

    assert handler.batches == [["te_1", "te_3", "te_4"]]
    assert [(r.offset, error_class) for r, _, error_class in letters.published] == [
        (2, "invalid"),
        (3, "invalid"),
    ]
    assert sleeps == []


async def test_a_failing_batch_is_retried_whole_and_its_poison_dead_lettered_once() -> None:
    handler, letters, sleeps = Handler(failures=2), Letters(), list[float]()
    batch = [record(1), record(2, value=b""), record(3)]
    await consumer(handler, letters, sleeps).process_batch(batch)

    assert handler.batches == [["te_1", "te_3"]] * 3
    assert sleeps == [0.5, 1.0]
    assert [r.offset for r, _, _ in letters.published] == [2]


async def test_replays_for_another_group_are_skipped() -> None:
    handler, letters, sleeps = Handler(), Letters(), list[float]()
    other = record(2)
    other = dataclasses.replace(other, headers={**other.headers, REPLAY_GROUP: "someone-else"})
    await consumer(handler, letters, sleeps).process_batch([record(1), other])

    assert handler.batches == [["te_1"]]
