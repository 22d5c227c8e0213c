"""Clockify entries written by slot: one Clockify entry per source entry.

Clockify keeps no external reference: a create first looks among the user's entries starting at
that second for the one it would make (same start, duration, description), so a create whose
answer was lost is found, never sent twice. ``PUT`` replaces an entry (all fields sent); it
cannot move an entry to another user. A locked entry's write raises ``EntryLockedError``.
"""

import datetime as dt

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import TimeEntryFields
from timebridge_providers.clockify.client import ClockifyClient
from timebridge_providers.clockify.people import People
from timebridge_providers.clockify.translate import entry_body, entry_fields, same_entry, start_of
from timebridge_providers.kit.ports.entries import Observed, Slot, Write
from timebridge_providers.kit.writes import carry_out


class ClockifyEntries:
    """The :class:`~timebridge_providers.kit.ports.entries.EntryStore` of one workspace."""

    def __init__(self, client: ClockifyClient, people: People) -> None:
        self._client = client
        self._people = people

    async def read(self, slot: Slot) -> Observed | None:
        if slot.target_id is None:
            return None
        entry = await self._client.time_entry(slot.target_id)
        if entry is None or entry.running:
            return None
        person = await self._people.person(entry.user_id)
        fields = entry_fields(entry, zone=person.zone, email=person.email, name=person.name)
        return Observed(target_id=entry.id, fields=fields)

    async def write(self, slot: Slot, write: Write) -> str | None:
        return await carry_out(
            slot,
            write,
            delete=self._client.delete_time_entry,
            update=self._update,
            create=self._create,
        )

    async def _update(self, target: str, desired: TimeEntryFields, was: Observed | None) -> None:
        zone = (await self._people.person(desired.user.external_id)).zone
        current = was.fields.user.external_id if was else None
        if current is not None and current != desired.user.external_id:
            raise InvalidMessageError("Clockify cannot move a time entry to another user")
        await self._client.update_time_entry(target, entry_body(desired, zone=zone))

    async def _create(self, desired: TimeEntryFields) -> str:
        zone = (await self._people.person(desired.user.external_id)).zone
        start = start_of(desired, zone)
        user = desired.user.external_id
        async for entry in self._client.time_entries(user, start, start + dt.timedelta(seconds=1)):
            if same_entry(entry, desired, zone):
                return entry.id
        me = await self._people.me()
        created = await self._client.create_time_entry(
            None if user == me.id else user, entry_body(desired, zone=zone)
        )
        return created.id
