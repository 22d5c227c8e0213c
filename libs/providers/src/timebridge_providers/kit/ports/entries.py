"""Writing entries: read a target record, create/update/delete it, with read-back.

A *slot* names one target record: its key (``task|user|date`` for a provider keeping one record
per task, user and day; ``<source>:<source id>`` for one keeping one record per entry) and, once
known, its id. Writes are decided from a fresh read (``Write.current``); an answer that means the
record changed between read and write raises ``TransientError`` so the change is decided again.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Literal, Protocol

from timebridge_common.events import TimeEntryFields
from timebridge_common.outbound.http import ProviderError

Operation = Literal["create", "update", "delete", "none"]


@dataclass(frozen=True, slots=True)
class Slot:
    """One target record: its system, its key and, once known, its id in that system."""

    system: str
    key: str
    target_id: str | None = None


@dataclass(frozen=True, slots=True)
class Observed:
    """A target record as its system answered it."""

    target_id: str
    fields: TimeEntryFields
    changed_at: dt.datetime | None = None
    """The record's own last change (a history entry, ``updated_at``)."""
    version: int | None = None
    """An optimistic-concurrency version (the ``If-Match`` of an update), if the system has one."""


@dataclass(frozen=True, slots=True)
class Write:
    """One planned change of a target record, decided from ``current`` (as read before)."""

    operation: Operation
    desired: TimeEntryFields | None
    current: Observed | None
    idempotency_key: str


class EntryLockedError(ProviderError):
    """The provider refused the write because the record is locked (invoiced, approved, closed
    period): a conflict with this reason, never retried."""


class EntryStore(Protocol):
    """A provider's time records, read and written by slot."""

    async def read(self, slot: Slot) -> Observed | None: ...

    async def write(self, slot: Slot, write: Write) -> str | None:
        """Apply ``write``; the new record's id after a create, else ``None``.

        A create whose answer was lost is looked up before it is retried, never sent twice.
        """
        ...
