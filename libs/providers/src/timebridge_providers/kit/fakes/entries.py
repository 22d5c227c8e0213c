"""An in-memory :class:`~timebridge_providers.kit.ports.entries.EntryStore`.

It keeps records by slot key, as a provider would after each write, so a handler's whole write
path (read, write, read back) runs in a unit test. Tests reach in to play the other people
working in the provider: :meth:`FakeEntryStore.put` is someone's own edit, ``locked`` keys refuse
writes like an invoiced record, ``refusals`` answer the next writes with a provider error, and
``after_write`` lands someone's change between a write and its read-back.
"""

import datetime as dt
import itertools
from collections.abc import Callable

from timebridge_common.events import TimeEntryFields
from timebridge_common.outbound.http import ProviderError
from timebridge_providers.kit.ports.entries import EntryLockedError, Observed, Slot, Write

EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


class FakeEntryStore:
    """Records by key; every write is kept in ``writes`` in order."""

    def __init__(self, provider: str = "fake") -> None:
        self.provider = provider
        self.records: dict[str, Observed] = {}
        self.writes: list[tuple[Slot, Write]] = []
        self.reads = 0
        self.locked: set[str] = set()
        self.refusals: list[ProviderError] = []
        self.after_write: Callable[[], None] | None = None
        self._ids = itertools.count(1)
        self._ticks = itertools.count(1)

    def _now(self) -> dt.datetime:
        return EPOCH + dt.timedelta(seconds=next(self._ticks))

    def put(self, key: str, fields: TimeEntryFields, target_id: str | None = None) -> Observed:
        """Someone's own record (or edit of one) in the provider."""
        before = self.records.get(key)
        record_id = target_id or (before.target_id if before else f"r{next(self._ids)}")
        version = (before.version or 0) + 1 if before else 1
        record = Observed(record_id, fields, self._now(), version)
        self.records[key] = record
        return record

    def remove(self, key: str) -> None:
        """Someone deleted the record in the provider."""
        self.records.pop(key, None)

    async def read(self, slot: Slot) -> Observed | None:
        self.reads += 1
        return self.records.get(slot.key)

    async def write(self, slot: Slot, write: Write) -> str | None:
        self.writes.append((slot, write))
        path = f"/records/{slot.key}"
        if self.refusals:
            raise self.refusals.pop(0)
        if slot.key in self.locked:
            raise EntryLockedError(self.provider, "PUT", path, 423, '{"error": "locked"}')
        made = None
        if write.operation == "delete":
            self.records.pop(slot.key, None)
        else:
            assert write.desired is not None
            made = self.put(slot.key, write.desired).target_id
        if self.after_write is not None:
            self.after_write()
        return made if write.operation == "create" else None
