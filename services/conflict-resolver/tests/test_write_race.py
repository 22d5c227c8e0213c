"""An observation of a record while the resolver is still writing it (issue 8's duplicate).

The resolver commits a record as its own (id, confirmed state) only with the outcome, after the
write and its read-back. A poll or webhook of the tracker landing in between used to find no
managed record, so the resolver's own create was copied back to Core as someone's new entry, and
the next Core edit created a second tracker record. The interleaving is played here with a
tracker fake that delivers the observation in the middle of the write.
"""

import dataclasses
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable

import pytest
from test_sync_handlers import INTEGRATION, MAPPED, NOW, World, _tally_registry, later, world
from timebridge_providers.kit.fakes.credentials import FakeCredentialSource
from timebridge_providers.kit.fakes.entries import FakeEntryStore
from timebridge_providers.kit.ports.entries import Observed, Slot, Write, entry_key

from timebridge_common.errors import TransientError
from timebridge_common.events import EntryMapped

KEY = entry_key("core", "te_1")
TO_TALLY = MAPPED.model_copy(update={"integration_id": INTEGRATION, "target": "tally"})


def owner() -> FakeCredentialSource:
    """The credential owner every access comes from (required since issue 7)."""
    source = FakeCredentialSource()
    source.put("acme", INTEGRATION, "tracker-key", base_url="https://tally")
    source.put("acme", "core_acme", "core-token", base_url="https://core")
    return source


class RacingStore(FakeEntryStore):
    """A tracker whose poll sees a record the moment it is written (``during``) or read back."""

    def __init__(self) -> None:
        super().__init__("tally")
        self.during: Callable[[Observed], Awaitable[None]] | None = None
        self.at_read_back: Callable[[Observed], Awaitable[None]] | None = None
        self._written = False

    async def write(self, slot: Slot, write: Write) -> str | None:
        made = await super().write(slot, write)
        self._written = True
        if self.during is not None and slot.key in self.records:
            await self.during(self.records[slot.key])
        return made

    async def read(self, slot: Slot) -> Observed | None:
        found = await super().read(slot)
        if self._written and found is not None and self.at_read_back is not None:
            self._written = False
            await self.at_read_back(found)
        return found


def racing_world() -> tuple[World, RacingStore]:
    w = world(tracker="tally", providers=_tally_registry(), owner=owner())
    store = RacingStore()
    w.syncer.entries.stores["tally"] = store  # type: ignore[attr-defined]
    w.records = store
    return w, store


def observed(record: Observed, minutes: int) -> EntryMapped:
    """The tracker's record as ingest and mapping hand it to the resolver."""
    return TO_TALLY.model_copy(
        update={
            "source": "tally",
            "source_external_id": record.target_id,
            "target": "core",
            "entry": MAPPED.source_entry,
            "source_entry": record.fields,
            "source_updated_at": MAPPED.source_updated_at + dt.timedelta(minutes=minutes),
        }
    )


@dataclasses.dataclass
class Observer:
    """Delivers the observation mid-write and keeps what happened to it."""

    w: World
    minutes: int
    event: EntryMapped | None = None
    retried: list[str] = dataclasses.field(default_factory=list)

    async def __call__(self, record: Observed) -> None:
        self.event = observed(record, self.minutes)
        with pytest.raises(TransientError) as raised:
            await self.w.sync(self.event)
        self.retried.append(raised.value.reason)


@pytest.mark.parametrize("moment", ["during", "at_read_back"])
async def test_a_record_seen_while_the_resolver_creates_it_waits_then_is_its_echo(
    moment: str,
) -> None:
    w, store = racing_world()
    observer = Observer(w, minutes=1)
    setattr(store, moment, observer)

    synced = await w.sync(TO_TALLY)
    assert observer.event is not None
    again = await w.sync(observer.event)  # the consumer's retry, once the write committed

    assert (synced.status, synced.operation) == ("synced", "create")
    assert observer.retried
    assert "being written by another change" in observer.retried[0]
    assert again.status == "skipped"
    assert "echo of Timebridge's own write" in again.reason
    assert w.home.writes == []  # nothing copied back into Core
    await w.sync(later(TO_TALLY, 5, duration_seconds=7200))  # the next Core edit
    assert list(store.records) == [KEY]  # one record, updated
    assert len(store.writes) == 2


async def test_a_record_seen_while_the_resolver_updates_it_waits_then_is_its_echo() -> None:
    w, store = racing_world()
    await w.sync(TO_TALLY)
    observer = Observer(w, minutes=6)
    store.during = observer

    edited = await w.sync(later(TO_TALLY, 5, duration_seconds=7200))
    assert observer.event is not None
    again = await w.sync(observer.event)

    assert (edited.status, edited.operation) == ("synced", "update")
    assert observer.retried
    assert again.status == "skipped"
    assert "echo of Timebridge's own write" in again.reason
    assert w.home.writes == []


async def test_an_abandoned_create_holds_observations_back_only_until_its_lease_expires() -> None:
    """A create not yet answered with an id may be any record of that person: their new
    entries wait for it, but a lease older than ``lease_s`` (its attempt never came back) no
    longer counts, so someone's own entry is then copied to Core as usual."""
    w, store = racing_world()
    now = NOW
    w.store.clock = lambda: now
    abandoned, slot = uuid.uuid4(), Slot("tally", KEY)
    await w.store.take_leases(abandoned, INTEGRATION, [slot], 60)
    await w.store.plan_write(
        abandoned, INTEGRATION, slot, Write("create", TO_TALLY.entry, None, "k")
    )
    someone = store.put(entry_key("tally", "own"), TO_TALLY.entry)

    with pytest.raises(TransientError):
        await w.sync(observed(someone, 1))
    now += dt.timedelta(seconds=61)
    copied = await w.sync(observed(someone, 1))

    assert (copied.status, copied.operation) == ("synced", "create")
    assert len(w.home.writes) == 1
