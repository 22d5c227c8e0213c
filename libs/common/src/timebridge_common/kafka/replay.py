"""Reading and replaying dead-letter topics.

Replay re-publishes a dead letter to its original topic with its original key, value and
envelope (so the same event id), plus a ``timebridge_replay-group`` header naming the consumer
group that dead-lettered it (``kafka_dlt-original-consumer-group``). Only that group handles the
record again; every other group's consumer acks it unread (``kafka.consumer``), so a replay
neither re-runs services that had processed the event nor feeds their dead-letter limit.

Why a header on the shared topic rather than a retry topic per group: the record goes back to
the partition of its key, so a group sees the replay in that partition's order after everything
published since (a per-group topic would be read concurrently with the main one, with no order
between them); handlers already decide between versions of an entity by the source's time, so
a replayed older change never overwrites a newer one. No topic has to be created per group, and
the cost, other groups skipping the record, is a header comparison.

Letters whose error class is ``invalid`` are not replayed unless asked (``include_invalid``):
they fail the same way again until the code or the data behind them changed. (Transient
failures are retried in place and no longer dead-lettered; older ``transient`` letters replay.)

Replaying twice is harmless (the group's inbox drops the second), which is why replay keeps no
position of its own: it always reads the dead-letter topic from the start up to the end offsets
it saw when it began, and filters by consumer group or event id.
"""

from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from timebridge_common.kafka.dlt import (
    DELIVERY_ATTEMPT,
    DLT_HEADERS,
    ERROR_CLASS,
    EXCEPTION_MESSAGE,
    ORIGINAL_CONSUMER_GROUP,
    ORIGINAL_TOPIC,
    REPLAY_GROUP,
    REPLAYED_FROM,
    SourceRecord,
)
from timebridge_common.kafka.topics import partitions_of


@dataclass(frozen=True, slots=True)
class DeadLetter:
    record: SourceRecord

    @property
    def original_topic(self) -> str:
        return self.record.headers.get(ORIGINAL_TOPIC, "")

    @property
    def group(self) -> str:
        return self.record.headers.get(ORIGINAL_CONSUMER_GROUP, "")

    @property
    def event_id(self) -> str:
        return self.record.headers.get("ce_id", "")

    @property
    def reason(self) -> str:
        return self.record.headers.get(EXCEPTION_MESSAGE, "")

    @property
    def error_class(self) -> str:
        return self.record.headers.get(ERROR_CLASS, "")

    @property
    def attempts(self) -> str:
        return self.record.headers.get(DELIVERY_ATTEMPT, "")


async def read_dead_letters(bootstrap_servers: str, topic: str) -> AsyncIterator[DeadLetter]:
    """Every record of ``topic`` from the start to the end offsets seen at call time."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, group_id=None
    )
    partitions = await partitions_of(bootstrap_servers, [topic])
    await consumer.start()
    try:
        if not partitions:
            return
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if end[tp] > await consumer.position(tp)}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    if record.offset < end[tp]:
                        yield DeadLetter(SourceRecord.from_consumer_record(record))
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()


def matches(
    letter: DeadLetter, *, group: str | None = None, event_ids: Collection[str] = ()
) -> bool:
    return (group is None or letter.group == group) and (
        not event_ids or letter.event_id in event_ids
    )


async def choose(
    bootstrap_servers: str,
    topic: str,
    *,
    group: str | None = None,
    event_ids: Collection[str] = (),
    include_invalid: bool = False,
) -> tuple[list[DeadLetter], list[DeadLetter]]:
    """The matching dead letters of ``topic``: those to replay, and the invalid ones held back.

    A letter without a consumer group cannot be aimed at one and is never replayed.
    """
    chosen: list[DeadLetter] = []
    held_back: list[DeadLetter] = []
    async for letter in read_dead_letters(bootstrap_servers, topic):
        if not letter.group or not matches(letter, group=group, event_ids=event_ids):
            continue
        if letter.error_class == "invalid" and not include_invalid:
            held_back.append(letter)
        else:
            chosen.append(letter)
    return chosen, held_back


async def send(bootstrap_servers: str, topic: str, letters: list[DeadLetter]) -> None:
    """Re-publish ``letters`` (read from ``topic``), each addressed to its own consumer group."""
    if not letters:
        return
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        for letter in letters:
            record = letter.record
            headers = [
                (k, v.encode())
                for k, v in record.headers.items()
                if k not in DLT_HEADERS and k != REPLAYED_FROM
            ]
            headers.append((REPLAYED_FROM, f"{topic}@{record.partition}:{record.offset}".encode()))
            headers.append((REPLAY_GROUP, letter.group.encode()))
            await producer.send_and_wait(
                letter.original_topic, record.value, key=record.key, headers=headers
            )
    finally:
        await producer.stop()


async def replay(
    bootstrap_servers: str,
    topic: str,
    *,
    group: str | None = None,
    event_ids: Collection[str] = (),
    include_invalid: bool = False,
    dry_run: bool = False,
) -> list[DeadLetter]:
    """Re-publish the matching dead letters of ``topic`` to their groups; return them."""
    chosen, _ = await choose(
        bootstrap_servers,
        topic,
        group=group,
        event_ids=event_ids,
        include_invalid=include_invalid,
    )
    if not dry_run:
        await send(bootstrap_servers, topic, chosen)
    return chosen
