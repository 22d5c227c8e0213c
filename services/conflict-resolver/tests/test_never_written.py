"""``Slot.never_written`` is set only on the first attempt ever to write a slot (issue 12).

A store may then skip its look-up before a create (Harvest's look-up by reference): no create of
the slot can have been sent with its answer lost. Any later attempt (the consumer's retry after
a failure before the commit, a redelivery, another owner taking an abandoned lease over) finds
the slot attempted and gets the look-up as before.
"""

import datetime as dt
import uuid

import pytest
from test_sync_handlers import INTEGRATION, NOW, World, _tally_registry, later, world
from test_write_race import KEY, TO_TALLY, owner
from timebridge_providers.kit.fakes.entries import FakeEntryStore
from timebridge_providers.kit.ports.entries import Observed, Slot, Write

from timebridge_common.errors import TransientError
from timebridge_common.events import Envelope
from timebridge_conflict_resolver.domain.state import TargetRecord


class Recording(FakeEntryStore):
    """Keeps the slots read and written; ``lose`` loses the next create's answer (the record is
    created, the caller hears only a timeout)."""

    def __init__(self) -> None:
        super().__init__("tally")
        self.slots: list[tuple[str, Slot]] = []
        self.lose = False

    async def read(self, slot: Slot) -> Observed | None:
        self.slots.append(("read", slot))
        return await super().read(slot)

    async def write(self, slot: Slot, write: Write) -> str | None:
        self.slots.append((write.operation, slot))
        made = await super().write(slot, write)
        if self.lose:
            self.lose = False
            raise TransientError("the create's answer was lost")
        return made

    def never_written(self) -> list[tuple[str, bool]]:
        seen = [(what, slot.never_written) for what, slot in self.slots]
        self.slots.clear()
        return seen


def recording_world() -> tuple[World, Recording]:
    w = world(tracker="tally", providers=_tally_registry(), owner=owner())
    store = Recording()
    w.syncer.entries.stores["tally"] = store  # type: ignore[attr-defined]
    w.records = store
    return w, store


async def test_only_the_first_attempt_at_a_new_slot_is_never_written() -> None:
    w, store = recording_world()
    store.lose = True

    envelope = Envelope.for_event(TO_TALLY, producer="t")
    with pytest.raises(TransientError):
        await w.syncer.on_entry_mapped(envelope, TO_TALLY)
    assert store.never_written() == [("read", True), ("create", True)]

    synced = await w.syncer.on_entry_mapped(envelope, TO_TALLY)  # the consumer's retry
    assert synced is not None
    assert store.never_written() == [("read", False)]  # looked up, found: nothing to write
    assert (synced.status, synced.operation) == ("synced", "create")
    assert list(store.records) == [KEY]  # created once

    await w.sync(later(TO_TALLY, 5, duration_seconds=7200))  # the next edit: an update by id
    assert [never for _, never in store.never_written()] == [False, False, False]


async def test_a_slot_leased_by_an_abandoned_attempt_is_looked_up() -> None:
    """Another owner took the slot's lease and never came back: once the lease expired, the
    change that takes it over is not the first attempt."""
    w, store = recording_world()
    now = NOW
    w.store.clock = lambda: now
    abandoned = uuid.uuid4()
    await w.store.take_leases(abandoned, INTEGRATION, [Slot("tally", KEY)], 60)
    now += dt.timedelta(seconds=61)

    synced = await w.sync(TO_TALLY)

    assert (synced.status, synced.operation) == ("synced", "create")
    assert store.never_written() == [("read", False), ("create", False), ("read", False)]


async def test_a_slot_kept_before_attempts_were_recorded_is_not_new() -> None:
    """A record or lease left from before ``sync_attempts`` (or by a replica not recording
    attempts) makes its slot not new, though the slot has no attempt row."""
    w, _ = recording_world()
    kept = TargetRecord("tally", "kept", "r1", TO_TALLY.entry, NOW, "written")
    w.store.targets[(INTEGRATION, "tally", "kept")] = kept
    await w.store.take_leases(uuid.uuid4(), INTEGRATION, [Slot("tally", "left")], 60)
    w.store.attempts.clear()

    taken = await w.store.take_leases(
        uuid.uuid4(), INTEGRATION, [Slot("tally", k) for k in ("kept", "left", "new")], 0
    )

    assert taken.first == frozenset({"new"})
    again = await w.store.take_leases(uuid.uuid4(), INTEGRATION, [Slot("tally", "new")], 0)
    assert again.first == frozenset()
