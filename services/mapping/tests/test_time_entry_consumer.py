"""The mapping consumer on TestKafkaBroker with an in-memory store."""

import copy
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage

from timebridge_common.crypto import SecretBox
from timebridge_common.events import Envelope, TimeEntryFields, TimeEntryLogged, UserRef
from timebridge_common.events.codec import encode
from timebridge_common.kafka.dlt import decode_headers, dlt_topic
from timebridge_common.testing import in_memory_tracing
from timebridge_mapping.bootstrap import Mapping, bootstrap
from timebridge_mapping.config import Settings
from timebridge_mapping.domain.entries import EntryKey, StoredEntry


class MemoryTx:
    def __init__(self, rows: dict[EntryKey, StoredEntry]) -> None:
        self.rows = rows

    async def get(self, key: EntryKey) -> StoredEntry | None:
        return self.rows.get(key)

    async def save(self, entry: StoredEntry) -> None:
        self.rows[entry.key] = entry


class MemoryStore:
    """Transactions are all-or-nothing: work is applied to a copy and swapped in on success."""

    def __init__(self) -> None:
        self.rows: dict[EntryKey, StoredEntry] = {}
        self.inbox: set[tuple[str, uuid.UUID]] = set()
        self.fail_next = 0

    @asynccontextmanager
    async def once(self, consumer: str, envelope: Envelope) -> AsyncIterator[MemoryTx | None]:
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("database went away")
        if (consumer, envelope.event_id) in self.inbox:
            yield None
            return
        tx = MemoryTx(copy.copy(self.rows))
        yield tx
        self.rows = tx.rows
        self.inbox.add((consumer, envelope.event_id))

    async def get(self, key: EntryKey) -> StoredEntry | None:
        return self.rows.get(key)


def logged(updated_minute: int = 0, *, duration: int = 3600) -> TimeEntryLogged:
    return TimeEntryLogged(
        workspace_id="acme",
        source="core",
        external_id="te_1",
        entry=TimeEntryFields(
            user=UserRef(external_id="u_1", email="ann@acme.test"),
            date=dt.date(2026, 11, 21),
            duration_seconds=duration,
            billable=True,
        ),
        updated_at=dt.datetime(2026, 11, 21, 10, updated_minute, tzinfo=dt.UTC),
        observed_via="webhook",
    )


@pytest.fixture
async def mapping() -> AsyncIterator[tuple[Mapping, MemoryStore, list[Any]]]:
    store = MemoryStore()
    provider, _ = in_memory_tracing("mapping")
    service = bootstrap(
        Settings(
            retry={"max_attempts": 3, "initial_backoff_s": 0.001},
            encryption_key=SecretBox.generate_key(),
        ),
        broker=KafkaBroker(),
        store=store,
        tracer_provider=provider,
    )
    dead: list[Any] = []

    @service.runtime.broker.subscriber(dlt_topic(TimeEntryLogged.topic()))
    async def capture(msg: KafkaMessage) -> None:
        dead.append(msg.raw_message)

    async with TestKafkaBroker(service.runtime.broker):
        yield service, store, dead


async def publish(
    service: Mapping, event: TimeEntryLogged, event_id: uuid.UUID | None = None
) -> Envelope:
    envelope = Envelope.for_event(event, producer="test", event_id=event_id)
    encoded = encode(event, envelope)
    await service.runtime.broker.publish(
        encoded.value, encoded.topic, key=encoded.key, headers=encoded.headers
    )
    return envelope


async def test_entry_is_stored(mapping: Any) -> None:
    service, store, dead = mapping
    envelope = await publish(service, logged())
    stored = await store.get(EntryKey("acme", "core", "te_1"))
    assert stored is not None
    assert stored.fields.duration_seconds == 3600
    assert stored.last_event_id == envelope.event_id
    assert dead == []


async def test_redelivered_event_is_processed_once(mapping: Any) -> None:
    service, store, _ = mapping
    event_id = uuid.uuid4()
    await publish(service, logged(), event_id)
    await publish(service, logged(), event_id)
    assert len(store.inbox) == 1


async def test_older_change_never_overwrites_a_newer_one(mapping: Any) -> None:
    service, store, _ = mapping
    await publish(service, logged(5, duration=7200))
    await publish(service, logged(1, duration=60))
    stored = await store.get(EntryKey("acme", "core", "te_1"))
    assert stored is not None
    assert stored.fields.duration_seconds == 7200


async def test_invalid_record_goes_to_the_dead_letter_topic_with_the_reason(mapping: Any) -> None:
    service, store, dead = mapping
    envelope = Envelope.for_event(logged(), producer="test")
    await service.runtime.broker.publish(
        b'{"workspace_id": "acme"}',
        TimeEntryLogged.topic(),
        key=b"acme:core:te_1",
        headers=envelope.to_headers(),
    )
    assert store.rows == {}
    assert len(dead) == 1
    headers = decode_headers(dead[0].headers)
    assert dead[0].key == b"acme:core:te_1"
    assert dead[0].value == b'{"workspace_id": "acme"}'
    assert headers["kafka_dlt-original-topic"] == TimeEntryLogged.topic()
    assert headers["kafka_dlt-original-partition"] == "0"
    assert headers["kafka_dlt-original-offset"] == "0"
    assert headers["kafka_dlt-original-consumer-group"] == "timebridge-mapping"
    assert headers["kafka_dlt-exception-fqcn"] == "timebridge_common.errors.InvalidMessageError"
    assert "failed validation" in headers["kafka_dlt-exception-message"]
    assert headers["kafka_deliveryAttempt"] == "1"
    assert headers["timebridge_dlt-error-class"] == "invalid"
    assert headers["ce_id"] == str(envelope.event_id)


async def test_record_without_envelope_is_dead_lettered(mapping: Any) -> None:
    service, _, dead = mapping
    await service.runtime.broker.publish(b"{}", TimeEntryLogged.topic())
    assert (
        "missing CloudEvents headers"
        in decode_headers(dead[0].headers)["kafka_dlt-exception-message"]
    )


async def test_transient_failure_is_retried_then_succeeds(mapping: Any) -> None:
    service, store, dead = mapping
    store.fail_next = 2
    await publish(service, logged())
    assert await store.get(EntryKey("acme", "core", "te_1")) is not None
    assert dead == []


async def test_persistent_failure_is_dead_lettered_after_max_attempts(mapping: Any) -> None:
    service, store, dead = mapping
    store.fail_next = 3
    await publish(service, logged())
    assert store.rows == {}
    headers = decode_headers(dead[0].headers)
    assert headers["timebridge_dlt-error-class"] == "transient"
    assert headers["kafka_deliveryAttempt"] == "3"
    assert "database went away" in headers["kafka_dlt-exception-message"]
