"""Harvest entries written by slot: one Harvest entry per source entry (``entry`` granularity).

A created entry carries the slot's key as its ``external_reference.id``; Harvest filters entries
by it, so a slot without a known id is found again, and a create looks the key up first unless
this capability's read just did (and sent nothing since): a create whose answer was lost is found
there and never sent twice. ``PATCH`` cannot change an entry's user: such an update is refused as
invalid (the entry stays with its user).

Where a batch's writers read together (``kit.writes.ReadGroup``), a read by id (a read-back) is
answered by one listing of the users' days (``kit.listed``: ``GET /v2/time_entries?from&to&
user_id``, every page by ``links.next``); a record the listing does not show is read by id. The
look-up by reference is one request per new entry (Harvest filters one reference at a time, and
a slot without an id names no date to list), so it is skipped where the caller knows no write to
the slot was ever planned (``Slot.never_written``: no create of it can have been lost). The users
and the account's settings are read once per credential (``kit.listed.kept``), not once per
change.
"""

import datetime as dt
from collections.abc import AsyncIterator

from timebridge_common.errors import InvalidMessageError
from timebridge_providers.harvest.client import HarvestClient
from timebridge_providers.harvest.translate import entry_body, entry_fields
from timebridge_providers.harvest.wire import TimeEntry, User
from timebridge_providers.harvest.zones import iana_zone
from timebridge_providers.kit.listed import PAD, ListedDays, days_of, kept, picked
from timebridge_providers.kit.ports.entries import Observed, Slot, Write


class HarvestEntries(ListedDays):
    """The :class:`~timebridge_providers.kit.ports.entries.EntryStore` of one Harvest account."""

    _client: HarvestClient

    def __init__(self, client: HarvestClient) -> None:
        self._client = client
        self._days = days_of(client.budget)
        self._absent: set[str] = set()
        """Slot keys this capability looked up by reference and found nothing under, with no
        create sent since (the create need not look again)."""

    def _window(self, user: str, first: dt.date, last: dt.date) -> AsyncIterator[TimeEntry]:
        """The entries of each user's days (``spent_date`` from a day before to a day after)."""
        return self._client.time_entries(start=first - PAD, end=last + PAD, user_id=int(user))

    async def read(self, slot: Slot) -> Observed | None:
        if slot.target_id is None and slot.never_written:
            self._absent.add(slot.key)  # no create can have been lost: nothing to look up
            return None
        entry = await self._find(slot)
        if entry is None:
            if slot.target_id is None:
                self._absent.add(slot.key)
            return None
        self._days.put(str(entry.id), (str(entry.user.id), entry.spent_date))
        return await self._observed(entry)

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
        day = (desired.user.external_id, desired.date)
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
                self._days.put(target, day)
                return None
        if slot.key not in self._absent:
            existing = await self._by_reference(slot.key)
            if existing is not None:
                return str(existing.id)
        body = entry_body(desired, timestamps=timestamps, zone=zone, reference=slot.key)
        self._absent.discard(slot.key)  # sent: its answer may be lost, look again next time
        created = await self._client.create_time_entry(body)
        self._days.put(str(created.id), day)
        return str(created.id)

    async def _find(self, slot: Slot) -> TimeEntry | None:
        if slot.target_id is not None:
            target = int(slot.target_id)
            return await picked(
                self,
                slot.target_id,
                self._days.get(slot.target_id),
                id_of=lambda listed: str(listed.id),
                by_id=lambda: self._client.time_entry(target),
            )
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
        return await kept(self.budget, ("user", user_id), lambda: self._client.user(user_id))

    async def _zone(self, user_id: str) -> str:
        return iana_zone((await self._user(int(user_id))).timezone) if user_id.isdigit() else "UTC"

    async def _timestamp_account(self) -> bool:
        company = await kept(self.budget, "company", self._client.company)
        return company.wants_timestamp_timers
