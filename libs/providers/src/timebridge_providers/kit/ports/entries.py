"""Writing entries: read a target record, create/update/delete it, with read-back.

A *slot* names one target record: its key (:func:`day_key`, ``task|user|date``, for a provider
keeping one record per task, user and day; :func:`entry_key`, ``<source>:<source id>``, for one
keeping one record per entry, also the external reference the record is created with so it can
be found again) and, once known, its id. Writes are decided from a fresh read (``Write.current``);
an answer that means the record changed between read and write raises ``TransientError`` so the
change is decided again.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Literal, Protocol

from timebridge_common.events import TimeEntryFields
from timebridge_common.outbound.http import ProviderError

Operation = Literal["create", "update", "delete", "none"]


def day_key(task: str, user: str, date: dt.date) -> str:
    """The key of a ``task_user_day`` record: every entry of that task, user and date."""
    return f"{task}|{user}|{date.isoformat()}"


def parse_day_key(key: str) -> tuple[str, str, dt.date]:
    task, user, date = key.rsplit("|", 2)
    return task, user, dt.date.fromisoformat(date)


def entry_key(source: str, source_id: str) -> str:
    """The key of an ``entry`` record: the one entry copied from ``source``."""
    return f"{source}:{source_id}"


def parse_entry_key(key: str) -> tuple[str, str]:
    source, _, source_id = key.partition(":")
    return source, source_id


@dataclass(frozen=True, slots=True)
class Slot:
    """One target record: its system, its key and, once known, its id in that system."""

    system: str
    key: str
    target_id: str | None = None
    never_written: bool = False
    """No attempt ever planned a write to this slot (the resolver's write leases know: a write
    is planned on its lease before it is sent, and the lease outlives an unknown outcome), so no
    create of it can have been lost: a store need not look one up before creating (Harvest's
    look-up by reference, a request per new entry). False unless the caller knows."""


@dataclass(frozen=True, slots=True)
class Observed:
    """A target record as its system answered it."""

    target_id: str
    fields: TimeEntryFields
    changed_at: dt.datetime | None = None
    """The record's own last change (a history entry, ``updated_at``)."""
    version: int | None = None
    """An optimistic-concurrency version (the ``If-Match`` of an update), if the system has one."""
    billable_by: str | None = None
    """What decided ``fields.billable`` where the record itself has no such flag (``task``,
    ``project``): a difference is then reported against that, not written."""


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


class UnwritableEntryError(ValueError):
    """The slot cannot name a record of this provider (an id of a form it does not have): an
    error outcome for the change, never retried."""


class EntryStore(Protocol):
    """A provider's time records, read and written by slot."""

    async def read(self, slot: Slot) -> Observed | None: ...

    async def write(self, slot: Slot, write: Write) -> str | None:
        """Apply ``write``; the new record's id after a create, else ``None``.

        A create whose answer was lost is looked up before it is retried, never sent twice.
        """
        ...
