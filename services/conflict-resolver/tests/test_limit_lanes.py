"""Syncing at a provider's documented limit (issue 12), on in-memory fakes: the budget's grant is
taken before the write lease, a credential's lanes are capped at what its budget keeps busy, and
where the provider lists its records a batch's writers share their look-ups and read-backs while
each write is still confirmed by a read sent after it."""

import asyncio
import dataclasses
import uuid
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence

import pytest
from test_sync_handlers import INTEGRATION, world
from timebridge_providers.kit.fakes.entries import FakeEntryStore
from timebridge_providers.kit.ports.entries import Observed, Slot, Write, day_key
from timebridge_providers.kit.writes import shared_read

from timebridge_common.events import EntryMapped, EntrySynced, Envelope
from timebridge_common.outbound.http import RequestBudget
from timebridge_common.testing import sample_entry_mapped
from timebridge_conflict_resolver.domain.state import Leases
from timebridge_conflict_resolver.handlers.lanes import PerCredential, in_lanes
from timebridge_sandboxes.testing import FakeTime

BASE = sample_entry_mapped(integration_id=INTEGRATION)


class Budgeted(FakeEntryStore):
    """Every read and write is a request through the credential's budget, logged in order."""

    def __init__(self, budget: RequestBudget, log: list[str]) -> None:
        super().__init__("everhour")
        self.budget = budget
        self.log = log

    async def read(self, slot: Slot) -> Observed | None:
        await self.budget.acquire()
        self.log.append("read")
        return await super().read(slot)

    async def write(self, slot: Slot, write: Write) -> str | None:
        await self.budget.acquire()
        self.log.append("write")
        return await super().write(slot, write)


class Listing(FakeEntryStore):
    """A store whose records one listing reads (``kit.writes.Lists``), as Everhour's are."""

    listing_key: Hashable = "account"

    def __init__(self) -> None:
        super().__init__("everhour")
        self.listed: list[int] = []

    async def read(self, slot: Slot) -> Observed | None:
        group = shared_read(self)
        if group is not None:
            return await group.read(self, slot)
        return await super().read(slot)

    async def read_listed(self, slots: Sequence[Slot]) -> Mapping[str, Observed | None]:
        await asyncio.sleep(0)  # a request: the others go on meanwhile
        self.listed.append(len(slots))
        return {slot.key: self.records.get(slot.key) for slot in slots}

    async def write(self, slot: Slot, write: Write) -> str | None:
        await asyncio.sleep(0)
        return await super().write(slot, write)


def _new_entry(n: int, **overrides: object) -> tuple[Envelope, EntryMapped]:
    """Entry te_<n> in a record of its own (task n)."""
    event = sample_entry_mapped(
        integration_id=overrides.pop("integration_id", INTEGRATION),
        source_external_id=f"te_{n}",
        entry=BASE.entry.model_copy(
            update={"task_external_id": f"ev:8{n:09d}", "duration_seconds": 600 + n}
        ),
    )
    return Envelope.for_event(event, producer="t"), event


async def test_the_budgets_grant_is_taken_before_the_write_lease() -> None:
    fake, log = FakeTime(), list[str]()
    budget = RequestBudget(2, 10.0, clock=fake.clock, sleep=fake.sleep)
    w = world(records=Budgeted(budget, log))
    take_leases = w.store.take_leases

    async def leasing(
        owner: uuid.UUID, integration_id: str, slots: list[Slot], lease_s: float
    ) -> Leases:
        log.append(f"lease at {fake.now:g}s")
        return await take_leases(owner, integration_id, slots, lease_s)

    w.store.take_leases = leasing  # type: ignore[method-assign]
    for n in range(3):
        envelope, event = _new_entry(n)
        outcome = await w.syncer.on_entry_mapped(envelope, event)
        assert outcome is not None
        assert outcome.status == "synced"

    # 2 requests per 10 s, 3 per change: each change's lease is taken once its look-up may go
    # (before, the third change took its lease at 21 s, then waited 10 s holding it).
    leases = [line for line in log if line.startswith("lease")]
    assert leases == ["lease at 0s", "lease at 10.5s", "lease at 31.5s"]


async def test_a_credentials_lanes_are_capped_at_what_its_budget_keeps_busy() -> None:
    busy: Counter[str] = Counter()
    most: Counter[str] = Counter()
    items = [("a", n) for n in range(20)] + [("b", n) for n in range(20)]

    async def handle(item: tuple[str, int]) -> None:
        busy[item[0]] += 1
        most[item[0]] = max(most[item[0]], busy[item[0]])
        await asyncio.sleep(0.001)
        busy[item[0]] -= 1

    per = PerCredential[tuple[str, int]](
        lambda item: item[0], lambda c: 2 if c == "a" else 8, lambda *_: False
    )
    results = await in_lanes(items, lambda item: [item], handle, concurrency=8, credentials=per)

    assert results == [None] * 40
    assert most["a"] == 2  # 20 lanes of credential a, never more than 2 at once
    assert most["b"] > 2  # another credential's lanes are not held back by a's cap


def test_the_cap_is_rate_times_latency_plus_one_or_the_sharing_writers() -> None:
    w = world(tracker="everhour")
    syncer = dataclasses.replace(w.syncer, request_rate=lambda _: 2.0, request_latency_s=0.3)
    every = syncer._credential((Envelope.for_event(BASE, producer="t"), BASE))
    assert syncer._shares(every)  # Everhour lists its records: its lanes share their reads
    assert syncer._cap(every) == syncer.shared_writers
    home = syncer._credential(
        (Envelope.for_event(BASE, producer="t"), BASE.model_copy(update={"target": "core"}))
    )
    assert not syncer._shares(home)
    assert syncer._cap(home) == 2  # ceil(2/s x 0.3 s) + 1
    lifted = dataclasses.replace(syncer, request_rate=lambda _: 100_000.0)
    assert lifted._shares(every, 8)  # lifted too, in a backlog: a listing costs less than N reads
    assert not lifted._shares(every, 7)  # a few lanes go on their own (no waiting for listings)
    assert lifted._cap(every) == lifted.shared_writers
    lifted_home = lifted._cap(home)
    assert not lifted._shares(home)
    assert lifted_home == lifted.concurrency  # no listing: the lanes its budget keeps busy


@pytest.mark.parametrize("rate", [None, 100_000.0], ids=["documented limit", "limit lifted"])
async def test_a_batchs_writers_share_their_look_ups_and_each_write_is_read_back(
    rate: float | None,
) -> None:
    """At the documented limit and with the limit lifted alike (until issue 12's next cuts,
    lanes with a lifted limit read one by one: 3 requests per entry instead of ~1.1)."""
    store = Listing()
    syncer = dataclasses.replace(
        world(records=store).syncer,
        shared_writers=16,
        request_rate=None if rate is None else (lambda _: rate),
    )
    batch = [_new_entry(n) for n in range(40)]
    other = day_key("ev:8000000007", "1001", BASE.entry.date)
    writes = [0]

    def someone_edits_te_7_after_our_write() -> None:
        writes[0] += 1
        if other in store.records and store.records[other].fields.notes != "theirs":
            store.put(other, store.records[other].fields.model_copy(update={"notes": "theirs"}))

    store.after_write = someone_edits_te_7_after_our_write

    outcomes: dict[str, str] = {}
    original = syncer.on_entry_mapped

    async def kept(envelope: Envelope, event: EntryMapped) -> EntrySynced | None:
        outcome = await original(envelope, event)
        assert outcome is not None
        outcomes[event.source_external_id] = outcome.status
        return outcome

    syncer.on_entry_mapped = kept  # type: ignore[method-assign]
    results = await syncer.on_batch(batch)

    assert results == [None] * 40
    assert writes[0] == 40
    assert store.reads == 0  # no record read on its own
    assert sum(store.listed) == 80  # each entry looked up once and read back once...
    assert len(store.listed) <= 8  # ...in a few shared listings (80 reads without them)
    # Each write is confirmed by a listing sent after it: the edit landing after te_7's write
    # is seen by its read-back, which differs from what was written (not taken as synced).
    assert outcomes.pop("te_7") != "synced"
    assert set(outcomes.values()) == {"synced"}
    third = store.records[day_key("ev:8000000003", "1001", BASE.entry.date)]
    assert third.fields.duration_seconds == 603


async def test_with_the_limit_lifted_a_few_lanes_go_on_their_own() -> None:
    """Below ``shared_from`` lanes (a low rate, no backlog) nobody waits for a listing."""
    store = Listing()
    syncer = dataclasses.replace(
        world(records=store).syncer, request_rate=lambda _: 100_000.0, shared_from=8
    )
    results = await syncer.on_batch([_new_entry(n) for n in range(3)])

    assert results == [None] * 3
    assert store.listed == []  # no shared listing...
    assert store.reads == 6  # ...each looked up and read back on its own
