"""Harvest entries written by slot: one Harvest entry per source entry (``entry`` granularity).

A created entry carries the slot's key as its ``external_reference.id``; Harvest filters entries
by it, so a slot without a known id is found again, and a create always looks the key up first:
a create whose answer was lost is found there and never sent twice. ``PATCH`` cannot change an
entry's user: such an update is refused as invalid (the entry stays with its user).
"""

from timebridge_common.errors import InvalidMessageError
from timebridge_providers.harvest.client import HarvestClient
from timebridge_providers.harvest.translate import entry_body, entry_fields
from timebridge_providers.harvest.wire import TimeEntry, User
from timebridge_providers.harvest.zones import iana_zone
from timebridge_providers.kit.ports.entries import Observed, Slot, Write


class HarvestEntries:
    """The :class:`~timebridge_providers.kit.ports.entries.EntryStore` of one Harvest account."""

    def __init__(self, client: HarvestClient) -> None:
        self._client = client
        self._timestamps: bool | None = None
        self._users: dict[int, User] = {}

    async def read(self, slot: Slot) -> Observed | None:
        entry = await self._find(slot)
        return None if entry is None else await self._observed(entry)

    async def write(self, slot: Slot, write: Write) -> str | None:
        if write.operation == "none":
            return None
        if write.operation == "delete":
            target = slot.target_id or (write.current.target_id if write.current else None)
            if target is None:
                found = await self._by_reference(slot.key)
                target = None if found is None else str(found.id)
            if target is not None:
                await self._client.delete_time_entry(int(target))
            return None
        assert write.desired is not None, "a create or update has desired fields"
        desired = write.desired
        zone = await self._zone(desired.user.external_id)
        timestamps = await self._timestamp_account()
        if write.operation == "update":
            target = slot.target_id or (write.current.target_id if write.current else None)
            current = write.current.fields.user.external_id if write.current else None
            if current is not None and current != desired.user.external_id:
                raise InvalidMessageError(
                    "Harvest cannot move a time entry to another user (PATCH has no user_id)"
                )
            if target is not None:
                body = entry_body(desired, timestamps=timestamps, zone=zone, with_user=False)
                await self._client.update_time_entry(int(target), body)
                return None
        existing = await self._by_reference(slot.key)
        if existing is not None:
            return str(existing.id)
        body = entry_body(desired, timestamps=timestamps, zone=zone, reference=slot.key)
        created = await self._client.create_time_entry(body)
        return str(created.id)

    async def _find(self, slot: Slot) -> TimeEntry | None:
        if slot.target_id is not None:
            return await self._client.time_entry(int(slot.target_id))
        return await self._by_reference(slot.key)

    async def _by_reference(self, key: str) -> TimeEntry | None:
        async for entry in self._client.time_entries(external_reference_id=key):
            if entry.external_reference is not None and entry.external_reference.id == key:
                return entry
        return None

    async def _observed(self, entry: TimeEntry) -> Observed:
        user = await self._user(entry.user.id)
        return Observed(
            target_id=str(entry.id),
            fields=entry_fields(entry, user),
            changed_at=entry.updated_at,
            billable_by="task",
        )

    async def _user(self, user_id: int) -> User:
        user = self._users.get(user_id)
        if user is None:
            user = self._users[user_id] = await self._client.user(user_id)
        return user

    async def _zone(self, user_id: str) -> str:
        return iana_zone((await self._user(int(user_id))).timezone) if user_id.isdigit() else "UTC"

    async def _timestamp_account(self) -> bool:
        if self._timestamps is None:
            self._timestamps = (await self._client.company()).wants_timestamp_timers
        return self._timestamps
