"""Reading and replaying dead-letter topics.

Replay re-publishes a dead letter to its original topic with its original key, value and
envelope (so the same event id): every consumer group sees it again, and those that already
processed it drop it in their inbox. Replaying twice is therefore harmless, which is why replay
keeps no position of its own: it always reads the dead-letter topic from the start up to the end
offsets it saw when it began, and filters by consumer group or event id.
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


async def replay(
    bootstrap_servers: str,
    topic: str,
    *,
    group: str | None = None,
    event_ids: Collection[str] = (),
    dry_run: bool = False,
) -> list[DeadLetter]:
    """Re-publish the matching dead letters of ``topic``; return them."""
    chosen = [
        letter
        async for letter in read_dead_letters(bootstrap_servers, topic)
        if matches(letter, group=group, event_ids=event_ids)
    ]
    if dry_run or not chosen:
        return chosen
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        for letter in chosen:
            record = letter.record
            headers = [(k, v.encode()) for k, v in record.headers.items() if k not in DLT_HEADERS]
            headers.append((REPLAYED_FROM, f"{topic}@{record.partition}:{record.offset}".encode()))
            await producer.send_and_wait(
                letter.original_topic, record.value, key=record.key, headers=headers
            )
    finally:
        await producer.stop()
    return chosen
