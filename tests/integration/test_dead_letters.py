"""Dead-letter topics and replay on the real broker, with mapping as the consumer.

Mapping's pool reaches PostgreSQL through a :class:`Gate` (a TCP proxy the tests can shut), so
a database outage here is a real one: connections cut, new ones refused.
"""

import asyncio
import contextlib
import json
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from timebridge_common.config import DlqLimitConfig, RetryConfig
from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import ConnectionChanged, Envelope, TimeEntryLogged
from timebridge_common.events.base import Event
from timebridge_common.events.codec import encode
from timebridge_common.kafka.broker import make_broker
from timebridge_common.kafka.consumer import subscribe
from timebridge_common.kafka.dlt import decode_headers, dlt_topic
from timebridge_common.kafka.replay import replay
from timebridge_common.kafka.topics import ensure_topics
from timebridge_common.testing import (
    end_offsets,
    in_memory_tracing,
    position_group_at_end,
    read_topic,
    sample_time_entry_logged,
    wait_for,
)
from timebridge_mapping.adapters.postgres import PostgresMappingStore
from timebridge_mapping.bootstrap import Mapping, bootstrap
from timebridge_mapping.config import Settings
from timebridge_mapping.domain.entries import EntryKey
from timebridge_mapping.handlers.ports import BatchTx, MappingTx

from .conftest import KAFKA, kafka_config, unique
from .credential_owner import OWNER_SETTINGS


class FaultyStore:
    """The real Postgres store, refusing (as invalid) the workspaces in ``refused``."""

    def __init__(self, inner: PostgresMappingStore) -> None:
        self.inner = inner
        self.refused: set[str] = set()

    def batch(
        self, consumer: str, envelopes: Sequence[Envelope]
    ) -> AbstractAsyncContextManager[BatchTx]:
        for envelope in envelopes:
            if envelope.workspace_id in self.refused:
                raise InvalidMessageError(f"injected refusal for {envelope.workspace_id}")
        return self.inner.batch(consumer, envelopes)

    def transaction(self) -> AbstractAsyncContextManager[MappingTx]:
        return self.inner.transaction()

    async def get(self, key: EntryKey) -> Any:
        return await self.inner.get(key)


class Gate:
    """A TCP proxy in front of PostgreSQL: ``shut`` cuts every connection and refuses new ones
    (what a database outage looks like to a client), ``open`` lets them through again."""

    def __init__(self, dsn: str) -> None:
        self.target = urlsplit(dsn)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.streams: set[asyncio.StreamWriter] = set()

    def dsn(self) -> str:
        netloc = self.target.netloc.rsplit("@", 1)[0] + f"@127.0.0.1:{self.port}"
        return urlunsplit(self.target._replace(netloc=netloc))

    async def open(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def shut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.streams):
            writer.transport.abort()
        self.streams.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(
                self.target.hostname, self.target.port
            )
        except OSError:
            writer.transport.abort()
            return
        self.streams |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.fixture(scope="module")
async def gate(create_database: Callable[[str], Awaitable[str]]) -> AsyncIterator[Gate]:
    gate = Gate(await create_database("mapping-dlt"))
    await gate.open()
    yield gate
    await gate.shut()


@pytest.fixture(scope="module")
async def mapping(
    topics: list[str], gate: Gate, make_pool: Callable[[str], Awaitable[asyncpg.Pool]]
) -> AsyncIterator[tuple[Mapping, FaultyStore]]:
    kafka = kafka_config().model_copy(update={"group_prefix": f"{kafka_config().group_prefix}-dlt"})
    # Connection copies from the start, as in test_conflict_resolver (other runs' records).
    now_on = [t for t in topics if not t.startswith(ConnectionChanged.topic())]
    await position_group_at_end(KAFKA, f"{kafka.group_prefix}-mapping", now_on)
    pool = await make_pool(gate.dsn())
    store = FaultyStore(PostgresMappingStore(pool))
    provider, _ = in_memory_tracing("mapping")
    service = bootstrap(
        Settings(
            kafka=kafka,
            retry=RetryConfig(max_attempts=2, initial_backoff_s=0.05, max_backoff_s=0.5),
            dlq_limit=DlqLimitConfig(max_invalid_ratio=1, max_consecutive=10**9),
            **OWNER_SETTINGS,  # required; these entries reach no provider
        ),
        pool=pool,
        store=store,
        tracer_provider=provider,
    )
    await service.runtime.start()
    yield service, store
    await service.runtime.stop()


async def produce(service: Mapping, value: bytes, headers: dict[str, str], key: bytes) -> None:
    await service.runtime.broker.publish(value, TimeEntryLogged.topic(), key=key, headers=headers)


GROUP = f"{kafka_config().group_prefix}-dlt-mapping"


def mine(record: Any, workspace: str) -> bool:
    """A dead letter of ``workspace`` written by this module's mapping (other runs' services
    consuming the same shared topic dead-letter the record too, under their own group)."""
    headers = decode_headers(record.headers)
    return (
        headers.get("ce_workspaceid") == workspace
        and headers.get("kafka_dlt-original-consumer-group") == GROUP
    )


def ours(workspace: str) -> Callable[[list[Any]], bool]:
    return lambda records: any(mine(r, workspace) for r in records)


async def test_invalid_record_is_dead_lettered_with_spring_headers(mapping: Any) -> None:
    service, _ = mapping
    workspace = unique("ws")
    event = sample_time_entry_logged(workspace_id=workspace)
    envelope = Envelope.for_event(event, producer="test")
    bad = json.loads(encode(event, envelope).value)
    bad["entry"]["duration_seconds"] = -1
    before = await end_offsets(KAFKA, dlt_topic(TimeEntryLogged.topic()))
    await produce(service, json.dumps(bad).encode(), envelope.to_headers(), b"k-invalid")

    records = await read_topic(KAFKA, before, until=ours(workspace), timeout_s=60)
    [record] = [r for r in records if mine(r, workspace)]
    headers = decode_headers(record.headers)
    assert record.key == b"k-invalid"
    assert json.loads(record.value) == bad
    assert headers["kafka_dlt-original-topic"] == TimeEntryLogged.topic()
    assert headers["kafka_dlt-original-consumer-group"] == GROUP
    assert int(headers["kafka_dlt-original-offset"]) >= 0
    assert headers["timebridge_dlt-error-class"] == "invalid"
    assert "entry.duration_seconds" in headers["kafka_dlt-exception-message"]
    assert await service.store.get(EntryKey(workspace, "core", "te_1")) is None


async def records_until_now(topic: str, start: dict[Any, int]) -> list[Any]:
    """Every record of ``topic`` from ``start`` up to its current end."""
    end = await end_offsets(KAFKA, topic)
    total = sum(end[tp] - start.get(tp, 0) for tp in end)
    if not total:
        return []
    return await read_topic(KAFKA, start, until=lambda rs: len(rs) >= total)


async def stall_of(service: Mapping) -> str | None:
    return (await service.runtime.readiness()).get(f"consumer {TimeEntryLogged.topic()}")


async def test_a_database_outage_longer_than_the_retry_budget_is_waited_out(
    mapping: Any, gate: Gate
) -> None:
    """Was: after TB_RETRY__MAX_ATTEMPTS (2 here, ~0.2 s) the event went to the DLT."""
    service, store = mapping
    workspace = unique("ws")
    event = sample_time_entry_logged(workspace_id=workspace)
    envelope = Envelope.for_event(event, producer="test")
    encoded = encode(event, envelope)
    dlt_from = await end_offsets(KAFKA, dlt_topic(TimeEntryLogged.topic()))
    await gate.shut()
    try:
        await produce(service, encoded.value, encoded.headers, encoded.key)
        stall = await wait_for(lambda: stall_of(service), timeout_s=30)
        assert stall.startswith("stalled: handler of timebridge.time-entry-logged.v1@")
        assert "transient failure" in stall
        await asyncio.sleep(3)  # many times the old retry budget
    finally:
        await gate.open()
    key = EntryKey(workspace, "core", "te_1")
    stored = await wait_for(lambda: store.get(key), timeout_s=60)
    assert stored.last_event_id == envelope.event_id

    async def recovered() -> bool:
        return await stall_of(service) is None

    await wait_for(recovered)
    letters = await records_until_now(dlt_topic(TimeEntryLogged.topic()), dlt_from)
    assert not ours(workspace)(letters)


async def test_replay_reaches_only_the_group_that_dead_lettered_and_holds_back_invalid(
    mapping: Any,
) -> None:
    service, store = mapping
    group = f"{kafka_config().group_prefix}-dlt-other"
    await position_group_at_end(KAFKA, group, [TimeEntryLogged.topic()])
    workspace = unique("ws")
    seen_by_other: list[str] = []

    async def other(envelope: Envelope, event: TimeEntryLogged) -> None:
        if event.workspace_id == workspace:
            seen_by_other.append(str(envelope.event_id))

    broker = make_broker(kafka_config(), client_id="it-dlt-other")
    subscribe(
        broker,
        TimeEntryLogged,
        other,
        group_id=group,
        tracer=in_memory_tracing("other")[0].get_tracer("other"),
        retry=RetryConfig(),
        dlq_limit=DlqLimitConfig(),
        on_fatal=lambda _: None,
    )
    await broker.start()
    try:
        store.refused.add(workspace)  # mapping refuses it: dead-lettered as invalid
        event = sample_time_entry_logged(workspace_id=workspace)
        envelope = Envelope.for_event(event, producer="test")
        event_id = str(envelope.event_id)
        encoded = encode(event, envelope)
        dlt = dlt_topic(TimeEntryLogged.topic())
        dlt_from = await end_offsets(KAFKA, dlt)
        await produce(service, encoded.value, encoded.headers, encoded.key)
        letters = await read_topic(KAFKA, dlt_from, until=ours(workspace), timeout_s=60)
        [letter] = [decode_headers(r.headers) for r in letters if mine(r, workspace)]
        assert letter["timebridge_dlt-error-class"] == "invalid"
        await wait_for(lambda: asyncio.sleep(0, seen_by_other), timeout_s=60)

        # An invalid letter would only fail again: held back unless asked for.
        assert await replay(KAFKA, dlt, event_ids=[event_id]) == []
        store.refused.discard(workspace)  # the cause is fixed
        for _ in range(2):  # replaying twice is harmless: the inbox drops the second
            replayed = await replay(KAFKA, dlt, event_ids=[event_id], include_invalid=True)
            assert [r.event_id for r in replayed] == [event_id]
        key = EntryKey(workspace, "core", "te_1")
        stored = await wait_for(lambda: store.get(key), timeout_s=60)
        assert stored.last_event_id == envelope.event_id

        # The other group read past the replays (a later record of the same key, so the same
        # partition, reached it) without handling them again.
        later = sample_time_entry_logged(workspace_id=workspace)
        later_envelope = Envelope.for_event(later, producer="test")
        later_encoded = encode(later, later_envelope)
        await produce(service, later_encoded.value, later_encoded.headers, later_encoded.key)
        await wait_for(lambda: asyncio.sleep(0, len(seen_by_other) >= 2), timeout_s=60)
        assert seen_by_other == [event_id, str(later_envelope.event_id)]
    finally:
        await broker.stop()


async def test_replay_filters_by_event_id(mapping: Any) -> None:
    letters = await replay(
        KAFKA, dlt_topic(TimeEntryLogged.topic()), event_ids=[str(uuid.uuid4())], dry_run=True
    )
    assert letters == []


async def test_undecodable_records_are_dead_lettered_and_the_partition_moves_on(
    mapping: Any,
) -> None:
    """Values that are not JSON under ``content-type: application/json``, empty values, no
    headers, headers that are not UTF-8: each goes to the DLT, and a later valid record of the
    same key (same partition) is still consumed."""
    service, _ = mapping
    workspace = unique("ws")
    key = f"{workspace}:undecodable".encode()
    event = sample_time_entry_logged(workspace_id=workspace)
    envelope = Envelope.for_event(event, producer="test")
    encoded = encode(event, envelope)
    ce = [(k, v.encode()) for k, v in encoded.headers.items()]
    json_ct = [("content-type", b"application/json")]
    bad = [
        (b"not json at all", [*ce, *json_ct]),
        (b"", [*ce, *json_ct]),
        (b'{"half": ', []),
        (encoded.value, [*ce, ("ce_source", b"\xff\xfe bad bytes")]),
        (None, json_ct),
    ]
    dlt_from = await end_offsets(KAFKA, dlt_topic(TimeEntryLogged.topic()))

    def by_us(r: Any) -> bool:
        return (
            r.key == key and decode_headers(r.headers)["kafka_dlt-original-consumer-group"] == GROUP
        )

    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all")
    await producer.start()
    try:
        for value, headers in bad:
            await producer.send_and_wait(TimeEntryLogged.topic(), value, key=key, headers=headers)
        await producer.send_and_wait(
            TimeEntryLogged.topic(), encoded.value, key=key, headers=[*ce, *json_ct]
        )
    finally:
        await producer.stop()

    stored = await wait_for(
        lambda: service.store.get(EntryKey(workspace, "core", "te_1")), timeout_s=60
    )
    assert stored.last_event_id == envelope.event_id
    letters = await read_topic(
        KAFKA, dlt_from, until=lambda rs: sum(by_us(r) for r in rs) >= len(bad), timeout_s=60
    )
    ours = [r for r in letters if by_us(r)]
    assert [r.value or b"" for r in ours] == [v or b"" for v, _ in bad]
    reasons = [decode_headers(r.headers)["kafka_dlt-exception-message"] for r in ours]
    assert "value is not JSON" in reasons[0]
    assert "no value" in reasons[1] or "not JSON" in reasons[1]
    assert "missing CloudEvents headers" in reasons[2]
    assert "not UTF-8" in reasons[3]
    assert all(decode_headers(r.headers)["timebridge_dlt-error-class"] == "invalid" for r in ours)


class DlqProbe(Event):
    """A test-only event on a topic of its own: no other run's records reach the probe group."""

    name = "DlqLimitProbe"
    version = 1
    n: int

    def partition_key(self) -> str:
        return f"{self.workspace_id}:probe"


async def test_the_dead_letter_limit_stops_says_why_and_a_restart_goes_on(
    topics: list[str],
) -> None:
    topic = DlqProbe.topic()
    await ensure_topics(kafka_config(), [topic, dlt_topic(topic)])
    group = f"{kafka_config().group_prefix}-dlq-probe"
    await position_group_at_end(KAFKA, group, [topic])
    handled: list[int] = []

    async def handler(envelope: Envelope, event: DlqProbe) -> None:
        handled.append(event.n)

    async def start(fatal: list[BaseException]) -> Any:
        broker = make_broker(kafka_config(), client_id="it-dlq-probe")
        subscribe(
            broker,
            DlqProbe,
            handler,
            group_id=group,
            tracer=in_memory_tracing("probe")[0].get_tracer("probe"),
            retry=RetryConfig(initial_backoff_s=0.05),
            dlq_limit=DlqLimitConfig(max_consecutive=2, min_samples=1000),
            on_fatal=fatal.append,
        )
        await broker.start()
        return broker

    good = DlqProbe(workspace_id=unique("ws"), n=1)
    encoded = encode(good, Envelope.for_event(good, producer="test"))
    ce = [(k, v.encode()) for k, v in encoded.headers.items()]
    dlt_from = await end_offsets(KAFKA, dlt_topic(topic))
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all")
    await producer.start()
    try:
        for n in range(3):  # one more than the limit allows in a row
            await producer.send_and_wait(topic, b"not json %d" % n, key=encoded.key, headers=ce)
        await producer.send_and_wait(topic, encoded.value, key=encoded.key, headers=ce)
    finally:
        await producer.stop()

    fatal: list[BaseException] = []
    broker = await start(fatal)
    try:
        await wait_for(lambda: asyncio.sleep(0, fatal))
        await asyncio.sleep(1)
        assert len(fatal) == 1  # held: not redelivered and tripped again in a loop
        assert handled == []
    finally:
        await broker.stop()
    why = str(fatal[0])
    assert f"consumer group {group} on {topic}" in why
    assert "3 consecutive messages failed (TB_DLQ_LIMIT__MAX_CONSECUTIVE=2)" in why
    assert "uncommitted" in why

    # Restarted as is (no offset surgery): the limit starts afresh, the record that tripped it
    # is dead-lettered, and the valid record behind it is handled.
    again: list[BaseException] = []
    broker = await start(again)
    try:
        await wait_for(lambda: asyncio.sleep(0, handled))
    finally:
        await broker.stop()
    assert (handled, again) == ([1], [])
    letters = await read_topic(
        KAFKA, dlt_from, until=lambda rs: sum(r.key == encoded.key for r in rs) >= 3
    )
    assert [r.value for r in letters if r.key == encoded.key] == [
        b"not json 0",
        b"not json 1",
        b"not json 2",
    ]

    # timebridge-dlt holds invalid letters back unless told to include them.
    async def dlt_cli(*args: str) -> str:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "timebridge_common.kafka.dlt_cli",
            "replay",
            f"--topic={dlt_topic(topic)}",
            f"--event-id={encoded.headers['ce_id']}",
            f"--bootstrap-servers={KAFKA}",
            "--dry-run",
            *args,
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await process.communicate()
        assert process.returncode == 0
        return out.decode()

    held = await dlt_cli()
    assert "0 dead letter(s) matched" in held
    assert "3 invalid dead letter(s) held back (--include-invalid replays them)" in held
    included = await dlt_cli("--include-invalid")
    assert "3 dead letter(s) matched" in included
    assert f"group={group} class=invalid" in included
