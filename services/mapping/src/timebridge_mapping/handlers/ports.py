"""What the mapping handlers need from storage (Postgres in production, memory in unit tests)."""

from contextlib import AbstractAsyncContextManager
from typing import Protocol

from timebridge_common.events import Envelope
from timebridge_mapping.domain.entries import EntryKey, StoredEntry


class EntriesTx(Protocol):
    """Reads and writes inside one transaction that also holds the inbox claim."""

    async def get(self, key: EntryKey) -> StoredEntry | None: ...

    async def save(self, entry: StoredEntry) -> None: ...


class MappingStore(Protocol):
    def once(
        self, consumer: str, envelope: Envelope
    ) -> AbstractAsyncContextManager[EntriesTx | None]:
        """A transaction claiming ``envelope`` for ``consumer``; ``None`` if already processed."""
        ...

    async def get(self, key: EntryKey) -> StoredEntry | None: ...
