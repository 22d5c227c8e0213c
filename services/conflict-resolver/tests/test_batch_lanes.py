"""A batch of changes handled in concurrent lanes (issue 12): per-record order and outcome
exactly as one change at a time, an invalid record reported without holding its lane, a
transient failure retried with the batch without writing anything twice."""

import asyncio
import dataclasses
from collections import Counter
from typing import Any

import pytest
from test_sync_handlers import INTEGRATION, world
from timebridge_providers.kit.fakes.entries import FakeEntryStore
from timebridge_providers.kit.ports.entries import Observed, Slot, Write, day_key

from timebridge_common.errors import InvalidMessageError, TransientError
from timebridge_common.events import EntryMapped, EntrySynced, Envelope
from timebridge_common.testing import sample_entry_mapped
from timebridge_conflict_resolver.handlers.lanes import lanes_of
from timebridge_conflict_resolver.handlers.sync import Syncer

ENTRIES, RECORDS, CONCURRENCY = 100, 50, 8
BASE = sample_entry_mapped(integration_id=INTEGRATION)


class SlowStore(FakeEntryStore):
    """Yields at every provider call, as a real one does, so that lanes interleave; raises a
    transient failure at the first write of each key in ``fail_once``."""

    def __init__(self) -> None:
        super().__init__("everhour")
        self.fail_once: set[str] = set()

    async def read(self, slot: Slot) -> Observed | None:
        await asyncio.sleep(0)
        return await super().read(slot)

    async def write(self, slot: Slot, write: Write) -> str | None:
        await asyncio.sleep(0)
        if slot.key in self.fail_once:
            self.fail_once.discard(slot.key)
            raise TransientError("provider restarting")
        return await super().write(slot, write)


@dataclasses.dataclass
class Watched(Syncer):
    """Counts the changes in flight, in all and per target record."""

    in_flight: Counter[str] = dataclasses.field(default_factory=Counter)
    most: int = 0
    overlapped: list[str] = dataclasses.field(default_factory=list)

    async def on_entry_mapped(self, envelope: Envelope, event: EntryMapped) -> EntrySynced | None:
        record = _record(event)
        if self.in_flight[record]:
            self.overlapped.append(record)
        self.in_flight[record] += 1
        self.most = max(self.most, sum(self.in_flight.values()))
        try:
            await asyncio.sleep(0)
            return await super().on_entry_mapped(envelope, event)
        finally:
            self.in_flight[record] -= 1


def _task(n: int) -> str:
    """Entries te_2k and te_2k+1 land in record k: neighbours in the batch, so that lanes
    keyed by the entry alone would write one record at once."""
    return f"ev:70000{n // 2 % RECORDS:05d}"


def _record(event: EntryMapped) -> str:
    assert event.entry.task_external_id is not None
    return day_key(event.entry.task_external_id, "1001", event.entry.date)


def _change(n: int, version: int, **overrides: Any) -> tuple[Envelope, EntryMapped]:
    event = sample_entry_mapped(
        integration_id=INTEGRATION,
        source_external_id=f"te_{n}",
        entry=BASE.entry.model_copy(
            update={"task_external_id": _task(n), "duration_seconds": 600 * version + n}
        ),
        source_updated_at=BASE.source_updated_at.replace(minute=version),
        **overrides,
    )
    return Envelope.for_event(event, producer="t"), event


def _batch() -> list[tuple[Envelope, EntryMapped]]:
    """Every entry's first version, then an invalid change of te_0, then every second one."""
    first = [_change(n, 1) for n in range(ENTRIES)]
    second = [_change(n, 2) for n in range(ENTRIES)]
    invalid = _change(0, 3, workspace_id="elsewhere")  # not the integration's workspace
    return [*first, invalid, *second]


def _watched(store: SlowStore) -> Watched:
    plain = world(records=store).syncer
    fields = {f.name: getattr(plain, f.name) for f in dataclasses.fields(Syncer)}
    return Watched(**(fields | {"concurrency": CONCURRENCY}))


async def test_a_batch_over_50_records_is_written_once_per_change_in_order_at_concurrency_8() -> (
    None
):
    store = SlowStore()
    syncer = _watched(store)
    batch = _batch()

    results = await syncer.on_batch(batch)

    invalid = [i for i, r in enumerate(results) if r is not None]
    assert invalid == [ENTRIES]  # reported for its position only, te_0's lane went on
    assert isinstance(results[ENTRIES], InvalidMessageError)
    assert 1 < syncer.most <= CONCURRENCY
    assert syncer.overlapped == []  # never two changes of one record at once
    assert len(store.writes) == 2 * ENTRIES  # each change written exactly once
    assert len(store.records) == RECORDS
    for k in range(RECORDS):  # the last version of both entries of each record won
        key = day_key(_task(2 * k), "1001", BASE.entry.date)
        assert store.records[key].fields.duration_seconds == (1200 + 2 * k) + (1200 + 2 * k + 1)

    again = await syncer.on_batch(batch)  # redelivered: nothing is written twice

    assert [r is None for r in again] == [r is None for r in results]
    assert len(store.writes) == 2 * ENTRIES


async def test_a_transient_failure_lets_the_other_lanes_finish_and_the_retry_writes_once() -> None:
    store = SlowStore()
    syncer = _watched(store)
    batch = _batch()
    failing = day_key(_task(7), "1001", BASE.entry.date)
    store.fail_once.add(failing)

    with pytest.raises(TransientError):
        await syncer.on_batch(batch)
    done = len(store.writes)
    assert done == 2 * ENTRIES - 4  # only the failing record's lane stopped (its 4 changes)
    assert failing not in store.records

    results = await syncer.on_batch(batch)  # the consumer retries the whole batch

    assert [i for i, r in enumerate(results) if r is not None] == [ENTRIES]
    assert len(store.writes) == 2 * ENTRIES
    assert store.records[failing].fields.duration_seconds == 1206 + 1207


def test_lanes_join_keys_transitively_and_keep_the_batch_order() -> None:
    keys = [("e1", "day-a"), ("e2", "day-b"), ("e1", "day-b"), ("e3", "day-c"), ("e2",)]
    assert lanes_of(keys) == [[0, 1, 2, 4], [3]]


async def test_a_batch_reads_its_integration_s_connection_copy_once() -> None:
    syncer = _watched(SlowStore())
    connections = syncer.connections
    reads: list[str] = []
    read = connections.get

    async def counted(connection_id: str) -> Any:
        reads.append(connection_id)
        await asyncio.sleep(0)  # as a database read does: the other lanes start meanwhile
        return await read(connection_id)

    connections.get = counted  # type: ignore[method-assign]
    batch = [_change(n, 1) for n in range(20)]

    await syncer.on_batch(batch)
    assert reads == [INTEGRATION]  # not once per change
    await syncer.on_batch([_change(n, 2) for n in range(20)])
    assert reads == [INTEGRATION, INTEGRATION]  # read again by the next batch
