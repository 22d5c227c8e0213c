"""ChunkReads: the reads a chunk's entries share are made once per transaction, and never
answer what the transaction itself changed, or what a refresh of the users changed."""

import datetime as dt
import uuid
from typing import Any, cast

from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_mapping.domain.entries import EntryKey, StoredEntry
from timebridge_mapping.domain.mappings import HeldEntry, TaskLink
from timebridge_mapping.domain.users import UserDirectory
from timebridge_mapping.handlers.chunk_reads import ChunkReads
from timebridge_mapping.handlers.ports import BatchTx

KEY = EntryKey("ws", "core", "te_1")


class _Tx:
    """Records every statement asked for; the directory is a new object at each read."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.link: TaskLink | None = None

    async def directory(self, integration_id: str) -> UserDirectory:
        self.asked.append("directory")
        return cast(UserDirectory, object())

    async def lock_ticket(self, integration_id: str, ticket_id: str) -> None:
        self.asked.append(f"lock {ticket_id}")

    async def link_for_ticket(self, integration_id: str, ticket_id: str) -> TaskLink | None:
        self.asked.append(f"link {ticket_id}")
        return self.link

    async def put_task_link(self, integration_id: str, link: TaskLink) -> None:
        self.asked.append("put link")
        self.link = link

    async def delete_task_link(self, integration_id: str, ticket_id: str) -> bool:
        self.asked.append("delete link")
        self.link = None
        return True

    async def hold(self, held: HeldEntry) -> None:
        self.asked.append("hold")

    async def unhold(self, integration_id: str, key: EntryKey) -> bool:
        self.asked.append(f"unhold {key.external_id}")
        return True

    async def save(self, entry: Any) -> None:
        self.asked.append("save")


def _reads(tx: _Tx, held: tuple[tuple[str, EntryKey], ...] = ()) -> ChunkReads:
    return ChunkReads(cast(BatchTx, tx), held)


async def test_the_directory_is_read_once_per_chunk_and_again_when_an_entry_asks_twice() -> None:
    tx = _Tx()
    reads = _reads(tx)
    first = await reads.directory("int_1")
    for _ in range(3):
        reads.next_entry()
        assert await reads.directory("int_1") is first
    assert tx.asked == ["directory"]
    # The mapper asks twice for one entry only after refreshing the users: read them again.
    refreshed = await reads.directory("int_1")
    assert refreshed is not first
    assert tx.asked == ["directory", "directory"]
    reads.next_entry()
    assert await reads.directory("int_1") is refreshed


async def test_a_tickets_lock_and_link_are_asked_once_and_follow_the_transactions_writes() -> None:
    tx = _Tx()
    reads = _reads(tx)
    for _ in range(3):
        await reads.lock_ticket("int_1", "t1")
        assert await reads.link_for_ticket("int_1", "t1") is None
    assert tx.asked == ["lock t1", "link t1"]
    link = TaskLink("t1", "task_9", "p1", "title")
    await reads.put_task_link("int_1", link)
    assert await reads.link_for_ticket("int_1", "t1") == link
    await reads.delete_task_link("int_1", "t1")
    assert await reads.link_for_ticket("int_1", "t1") is None
    assert tx.asked == ["lock t1", "link t1", "put link", "delete link", "link t1"]


async def test_a_link_read_without_the_lock_is_not_kept() -> None:
    tx = _Tx()
    reads = _reads(tx)
    await reads.link_for_ticket("int_1", "t1")
    await reads.link_for_ticket("int_1", "t1")
    assert tx.asked == ["link t1", "link t1"]


async def test_only_held_entries_are_unheld_including_one_held_in_the_transaction() -> None:
    tx = _Tx()
    other = EntryKey("ws", "core", "te_2")
    reads = _reads(tx, held=(("int_1", other),))
    assert await reads.unhold("int_1", KEY) is False
    assert tx.asked == []
    assert await reads.unhold("int_1", other) is True
    assert await reads.unhold("int_1", other) is False  # gone now
    fields = TimeEntryFields(
        user=UserRef(external_id="u_1"),
        date=dt.date(2026, 11, 20),
        duration_seconds=60,
        billable=True,
    )
    entry = StoredEntry(KEY, fields, dt.datetime(2026, 11, 20, tzinfo=dt.UTC), False, uuid.uuid4())
    await reads.hold(HeldEntry("int_1", entry, "unmapped user", entry.updated_at))
    assert await reads.unhold("int_1", KEY) is True
    await reads.save(entry)  # anything else goes to the transaction
    assert tx.asked == ["unhold te_2", "hold", "unhold te_1", "save"]
