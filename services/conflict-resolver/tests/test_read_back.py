"""Read-back compares what the tracker keeps of the entry written (issue 8).

Trackers that keep a start time (Toggl, Clockify, ClickUp, QuickBooks Time, Tempo, Xero
Projects) set their own for an entry that has none (a Core entry with only a date and a
duration): the record read back then has a start the entry never had.
"""

import datetime as dt

from test_sync_handlers import INTEGRATION, MAPPED, _tally_registry, later, world
from test_write_race import owner
from timebridge_providers.kit.fakes.entries import FakeEntryStore
from timebridge_providers.kit.ports.entries import Slot, Write, entry_key

from timebridge_common.events import EntryMapped

KEY = entry_key("core", "te_1")


class StartsAtNine(FakeEntryStore):
    """A tracker that starts an entry without a start at 09:00 on its date."""

    async def write(self, slot: Slot, write: Write) -> str | None:
        wanted = write.desired
        if wanted is not None and wanted.started_at is None:
            nine = dt.datetime.combine(wanted.date, dt.time(9), tzinfo=dt.UTC)
            own = {
                "started_at": nine,
                "ended_at": nine + dt.timedelta(seconds=wanted.duration_seconds),
            }
            write = Write(
                write.operation, wanted.model_copy(update=own), write.current, write.idempotency_key
            )
        return await super().write(slot, write)


def startless(event: EntryMapped) -> EntryMapped:
    entry = event.entry.model_copy(update={"started_at": None, "ended_at": None})
    return event.model_copy(
        update={"entry": entry, "integration_id": INTEGRATION, "target": "tally"}
    )


async def test_an_entry_without_a_start_is_synced_where_the_tracker_sets_its_own() -> None:
    w = world(tracker="tally", providers=_tally_registry(), owner=owner())
    store = StartsAtNine("tally")
    w.syncer.entries.stores["tally"] = store  # type: ignore[attr-defined]
    first = startless(MAPPED)

    synced = await w.sync(first)
    unchanged = await w.sync(later(first, 1))  # a newer version with nothing new for the tracker
    edited = await w.sync(later(first, 2, duration_seconds=7200))

    assert (synced.status, synced.operation) == ("synced", "create")
    assert store.records[KEY].fields.started_at is not None  # the tracker's own start
    assert (unchanged.status, unchanged.operation) == ("synced", "none")
    assert (edited.status, edited.operation) == ("synced", "update")
    assert [write.operation for _, write in store.writes] == ["create", "update"]
