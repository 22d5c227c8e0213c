"""The reads a chunk of entries shares, made once per transaction (issue 12).

Mapping one entry asked the database five times (the user directory twice over, the ticket's
lock, its task link, and deleting a hold that is almost never there): a slot of 10,000 entries
released at ~300 entries/s, waiting on round trips. Within one transaction whose entries are
locked, these answers cannot change except through the transaction itself, so
:class:`ChunkReads` answers them from what it read first:

* **The user directory** of an integration is read once, and read again when the same entry asks
  a second time (the mapper re-reads only after it refreshed the users; ``next_entry`` marks
  where each entry's mapping begins).
* **A ticket's lock** is transaction-scoped: once held, taking it again is a no-op. **Its task
  link**, read under that lock, only changes through this transaction (``put_task_link`` and
  ``delete_task_link`` keep the copy current).
* **Which entries are held** is read once for the chunk (``held_keys``); a hold made in the
  transaction counts. Releasing an entry that is not held costs no statement.

Everything else goes straight to the transaction.
"""

from collections.abc import Iterable
from typing import Any

from timebridge_mapping.domain.entries import EntryKey
from timebridge_mapping.domain.mappings import HeldEntry, TaskLink
from timebridge_mapping.domain.users import UserDirectory
from timebridge_mapping.handlers.ports import BatchTx


class ChunkReads:
    """A ``MappingTx`` over ``tx`` answering the reads above once (see the module docstring)."""

    def __init__(self, tx: BatchTx, held: Iterable[tuple[str, EntryKey]]) -> None:
        self._tx = tx
        self._held = set(held)
        self._directories: dict[str, UserDirectory] = {}
        self._asked: set[str] = set()
        self._locked: set[tuple[str, str]] = set()
        self._links: dict[tuple[str, str], TaskLink | None] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)

    def next_entry(self) -> None:
        """The mapping of another entry begins."""
        self._asked.clear()

    async def directory(self, integration_id: str) -> UserDirectory:
        if integration_id in self._asked or integration_id not in self._directories:
            self._directories[integration_id] = await self._tx.directory(integration_id)
        self._asked.add(integration_id)
        return self._directories[integration_id]

    async def lock_ticket(self, integration_id: str, ticket_id: str) -> None:
        if (integration_id, ticket_id) not in self._locked:
            await self._tx.lock_ticket(integration_id, ticket_id)
            self._locked.add((integration_id, ticket_id))

    async def link_for_ticket(self, integration_id: str, ticket_id: str) -> TaskLink | None:
        key = (integration_id, ticket_id)
        if key not in self._links or key not in self._locked:
            self._links[key] = await self._tx.link_for_ticket(integration_id, ticket_id)
        return self._links[key]

    async def put_task_link(self, integration_id: str, link: TaskLink) -> None:
        await self._tx.put_task_link(integration_id, link)
        self._links[(integration_id, link.core_ticket_id)] = link

    async def delete_task_link(self, integration_id: str, ticket_id: str) -> bool:
        self._links.pop((integration_id, ticket_id), None)
        return await self._tx.delete_task_link(integration_id, ticket_id)

    async def hold(self, held: HeldEntry) -> None:
        await self._tx.hold(held)
        self._held.add((held.integration_id, held.entry.key))

    async def unhold(self, integration_id: str, key: EntryKey) -> bool:
        if (integration_id, key) not in self._held:
            return False
        self._held.discard((integration_id, key))
        return await self._tx.unhold(integration_id, key)
