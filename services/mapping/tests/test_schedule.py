"""Sync slots: when a Core change syncs for each frequency, when a waiting one is due, and a
release round that lets every due entry go."""

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

import pytest

from timebridge_common.events import (
    ConnectionChanged,
    EntrySynced,
    Envelope,
    Event,
    IntegrationSettings,
    TimeEntryFields,
    UserRef,
)
from timebridge_mapping.domain.entries import EntryKey, StoredEntry
from timebridge_mapping.domain.outcomes import NotMapped, not_mapped
from timebridge_mapping.domain.schedule import Frequency, SyncSlots, is_due, next_slot
from timebridge_mapping.handlers.mapper import EntryMapper
from timebridge_mapping.handlers.ports import Connections, MappingStore
from timebridge_mapping.handlers.schedule import ScheduledSync

ELEVEN_PM = dt.time(23, 0)


def utc(hour: int, minute: int = 0, second: int = 0, micro: int = 0, day: int = 20) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, second, micro, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("frequency", "now", "slot"),
    [
        ("every_5_minutes", utc(10, 3, 12), utc(10, 5)),
        ("every_5_minutes", utc(10, 4, 59, 999_999), utc(10, 5)),
        ("every_5_minutes", utc(10, 5), utc(10, 10)),  # strictly after: never "at once"
        ("every_5_minutes", utc(23, 58), utc(0, 0, day=21)),
        ("hourly", utc(10, 0, 0, 1), utc(11)),
        ("hourly", utc(10, 59, 59), utc(11)),
        ("hourly", utc(10), utc(11)),
        ("hourly", utc(23, 30), utc(0, day=21)),
        ("daily", utc(9, 15), utc(23)),
        ("daily", utc(22, 59, 59), utc(23)),
        ("daily", utc(23), utc(23, day=21)),
        ("daily", utc(23, 30), utc(23, day=21)),
    ],
)
def test_the_next_slot_is_the_first_boundary_after_now(
    frequency: Frequency, now: dt.datetime, slot: dt.datetime
) -> None:
    assert next_slot(frequency, now, daily_at=ELEVEN_PM) == slot


def test_realtime_has_no_slot() -> None:
    assert next_slot("realtime", utc(10, 3), daily_at=ELEVEN_PM) is None


def test_slots_are_utc_whatever_zone_now_is_given_in() -> None:
    berlin = dt.timezone(dt.timedelta(hours=1))
    now = dt.datetime(2026, 11, 21, 0, 30, tzinfo=berlin)  # 23:30 UTC on the 20th
    assert next_slot("hourly", now, daily_at=ELEVEN_PM) == utc(0, day=21)
    assert next_slot("daily", now, daily_at=ELEVEN_PM) == utc(23, day=21)


def test_the_daily_slot_is_configurable() -> None:
    assert next_slot("daily", utc(1, 10), daily_at=dt.time(2, 30)) == utc(2, 30)
    assert next_slot("daily", utc(3), daily_at=dt.time(2, 30)) == utc(2, 30, day=21)


def test_a_waiting_change_is_due_at_its_slot_or_at_once_when_switched_to_realtime() -> None:
    due_at = utc(11)
    assert not is_due("hourly", due_at, utc(10, 59, 59))
    assert is_due("hourly", due_at, utc(11))
    assert is_due("daily", due_at, utc(11, 1))  # a promised slot stands after a change
    assert is_due("realtime", due_at, utc(10, 1))


def test_only_core_changes_wait_for_a_slot() -> None:
    hourly = IntegrationSettings(frequency="hourly")
    slots = SyncSlots(daily_at=ELEVEN_PM)
    assert slots.defer_until("core", hourly, utc(10, 20)) == utc(11)
    assert slots.defer_until("everhour", hourly, utc(10, 20)) is None
    assert slots.defer_until("core", IntegrationSettings(), utc(10, 20)) is None


class _FakeTx:
    """The slice of ``MappingTx`` a release round uses, over ``_FakeStore``'s dicts."""

    def __init__(self, store: "_FakeStore") -> None:
        self._store = store
        self._staged: list[Event] = []

    async def scheduled_integrations(self) -> list[tuple[str, dt.datetime]]:
        by_integration: dict[str, dt.datetime] = {}
        for (integration_id, _), due_at in self._store.waiting.items():
            by_integration[integration_id] = min(due_at, by_integration.get(integration_id, due_at))
        return sorted(by_integration.items())

    async def scheduled_keys(
        self, integration_id: str, due_by: dt.datetime | None, after: EntryKey | None, limit: int
    ) -> list[EntryKey]:
        self._store.pages += 1
        due = sorted(
            (
                key
                for (owner, key), due_at in self._store.waiting.items()
                if owner == integration_id and (due_by is None or due_at <= due_by)
            ),
            key=_order,
        )
        return [k for k in due if after is None or _order(k) > _order(after)][:limit]

    async def get_many(self, keys: Sequence[EntryKey]) -> dict[EntryKey, StoredEntry]:
        return {k: self._store.entries[k] for k in keys if k in self._store.entries}

    async def held_keys(self, integration_id: str, keys: Sequence[EntryKey]) -> set[EntryKey]:
        return set()

    async def take_scheduled_many(
        self, integration_id: str, keys: Sequence[EntryKey], due_by: dt.datetime | None
    ) -> set[EntryKey]:
        return {k for k in keys if await self.take_scheduled(integration_id, k, due_by)}

    async def get(self, key: EntryKey) -> StoredEntry | None:
        return self._store.entries.get(key)

    async def take_scheduled(
        self, integration_id: str, key: EntryKey, due_by: dt.datetime | None
    ) -> bool:
        due_at = self._store.waiting.get((integration_id, key))
        if due_at is None or (due_by is not None and due_at > due_by):
            return False
        del self._store.waiting[(integration_id, key)]
        return True

    async def publish(self, events: Sequence[tuple[Event, Envelope]]) -> None:
        self._staged += [event for event, _ in events]


def _order(key: EntryKey) -> tuple[str, str, str]:
    return (key.workspace_id, key.source, key.external_id)


class _FakeStore:
    def __init__(self) -> None:
        self.entries: dict[EntryKey, StoredEntry] = {}
        self.waiting: dict[tuple[str, EntryKey], dt.datetime] = {}
        self.published: list[Event] = []
        self.transactions = 0
        self.pages = 0

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[_FakeTx]:
        """Commits what it staged, or (on an exception) puts the waits it took back."""
        self.transactions += 1
        waiting = dict(self.waiting)
        tx = _FakeTx(self)
        try:
            yield tx
        except BaseException:
            self.waiting = waiting
            raise
        self.published += tx._staged

    def batch(self, consumer: str, envelopes: Sequence[Envelope]) -> Any:
        assert not envelopes  # a release claims no event
        return self.transaction()


class _Connections:
    def __init__(self, integration: ConnectionChanged) -> None:
        self.integration = integration

    async def get(self, connection_id: str) -> ConnectionChanged | None:
        return self.integration if connection_id == self.integration.connection_id else None


class _Mapper:
    """Maps every entry to "skipped" (what is mapped is not the point: that each one is), except
    the ones in ``refused``, for which it raises (a tracker refusing that entry)."""

    def __init__(self, refused: frozenset[str] = frozenset()) -> None:
        self.refused = refused

    async def sync(self, tx: object, integration: ConnectionChanged, entry: StoredEntry) -> Event:
        if entry.key.external_id in self.refused:
            raise RuntimeError(f"the tracker refuses {entry.key.external_id}")
        return not_mapped(entry, integration, NotMapped("skipped", "test"), now=utc(10, 5))


def _slot_of(entries: int, mapper: _Mapper) -> tuple[_FakeStore, ScheduledSync]:
    """A 5-minute integration with ``entries`` Core entries waiting for the 10:05 slot."""
    integration = ConnectionChanged(
        workspace_id="ws",
        connection_id="int_1",
        provider="everhour",
        status="connected",
        base_url="http://everhour.test",
        settings=IntegrationSettings(frequency="every_5_minutes"),
        revision=1,
        changed_at=utc(10),
    )
    store = _FakeStore()
    fields = TimeEntryFields(
        user=UserRef(external_id="u_1"),
        date=dt.date(2026, 11, 20),
        duration_seconds=60,
        billable=True,
    )
    for n in range(entries):
        key = EntryKey("ws", "core", f"te_{n}")
        store.entries[key] = StoredEntry(key, fields, utc(10, 1), False, uuid.uuid4())
        store.waiting[("int_1", key)] = utc(10, 5)
    scheduled = ScheduledSync(
        cast(MappingStore, store),
        cast(Connections, _Connections(integration)),
        cast(EntryMapper, mapper),
        asyncio.Event(),
        clock=lambda: utc(10, 4, 59),
    )
    return store, scheduled


def _released(store: _FakeStore) -> list[str]:
    return sorted(e.source_external_id for e in store.published if isinstance(e, EntrySynced))


async def test_a_slot_holding_thousands_of_entries_releases_them_all_in_one_round() -> None:
    """Regression: the release log line passed ``event=``, structlog's own first argument; the
    TypeError ended every round after its first entry (2,000 entries took hours). And the slot
    is released in chunks (one transaction per 500 entries, read a page at a time), not one
    transaction per entry (issue 12: a slot of 10,000)."""
    store, scheduled = _slot_of(2_000, _Mapper())
    assert await scheduled.release_due() == 0  # not before the slot
    assert store.published == []

    store.transactions = store.pages = 0
    scheduled.clock = lambda: utc(10, 5)
    assert await scheduled.release_due() == 2_000
    assert store.waiting == {}
    assert _released(store) == sorted(f"te_{n}" for n in range(2_000))
    # 1 look at the waiting integrations, 5 pages (the last one empty), 4 chunks.
    assert (store.transactions, store.pages) == (10, 5)
    assert await scheduled.release_due() == 0  # each entry once


async def test_an_entry_the_tracker_refuses_does_not_hold_back_its_chunk() -> None:
    """The chunk is rolled back and released one entry per transaction: every other entry goes,
    the refused one keeps its wait (tried again next round)."""
    store, scheduled = _slot_of(60, _Mapper(refused=frozenset({"te_7", "te_50"})))
    scheduled.chunk = 20
    scheduled.clock = lambda: utc(10, 5)
    assert await scheduled.release_due() == 58
    assert _released(store) == sorted(f"te_{n}" for n in range(60) if n not in (7, 50))
    assert sorted(k.external_id for _, k in store.waiting) == ["te_50", "te_7"]
    assert await scheduled.release_due() == 0  # still refused, still waiting
    assert len(store.waiting) == 2


def test_daily_waits_for_the_end_of_the_workspaces_day_in_its_time_zone() -> None:
    """No override: Berlin's day ends at 23:00 UTC in winter, 22:00 in summer; a 25-hour day
    (25 October 2026) still ends once, at its own midnight."""
    berlin = IntegrationSettings(frequency="daily", timezone="Europe/Berlin")
    slots = SyncSlots()
    assert slots.defer_until("core", berlin, utc(10, 20)) == utc(23)
    summer = dt.datetime(2026, 7, 1, 10, tzinfo=dt.UTC)
    assert slots.defer_until("core", berlin, summer) == dt.datetime(2026, 7, 1, 22, tzinfo=dt.UTC)
    long_day = dt.datetime(2026, 10, 24, 22, 30, tzinfo=dt.UTC)  # 00:30 on the 25th in Berlin
    assert slots.defer_until("core", berlin, long_day) == dt.datetime(
        2026, 10, 25, 23, tzinfo=dt.UTC
    )
    tokyo = IntegrationSettings(frequency="daily", timezone="Asia/Tokyo")
    assert slots.defer_until("core", tokyo, utc(10, 20)) == utc(15)


def test_a_configured_daily_time_overrides_the_workspaces_end_of_day() -> None:
    berlin = IntegrationSettings(frequency="daily", timezone="Europe/Berlin")
    assert SyncSlots(daily_at=dt.time(2, 30)).defer_until("core", berlin, utc(10)) == utc(
        2, 30, day=21
    )
