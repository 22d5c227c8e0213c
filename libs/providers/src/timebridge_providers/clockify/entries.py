"""Clockify entries written by slot: one Clockify entry per source entry.

Clockify keeps no external reference: a create first looks among the user's entries starting at
that second for the one it would make (same start, duration, description), so a create whose
answer was lost is found, never sent twice. ``PUT`` replaces an entry (all fields sent); it
cannot move an entry to another user. A locked entry's write raises ``EntryLockedError``.

Where a batch's writers read together (``kit.writes.ReadGroup``: where the key's budget is the
bound), their look-ups and read-backs are answered by one listing of each user's days
(``kit.listed``: ``GET /workspaces/{ws}/user/{id}/time-entries?start&end``, every page until
``Last-Page: true``).
"""

import datetime as dt
from collections.abc import AsyncIterator

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import TimeEntryFields
from timebridge_providers.clockify.client import ClockifyClient
from timebridge_providers.clockify.people import People
from timebridge_providers.clockify.translate import entry_body, entry_fields, same_entry, start_of
from timebridge_providers.clockify.wire import TimeEntry
from timebridge_providers.kit.listed import PAD, ListedDays, around, days_of, picked
from timebridge_providers.kit.ports.entries import Observed, Slot, Write
from timebridge_providers.kit.writes import carry_out


class ClockifyEntries(ListedDays):
    """The :class:`~timebridge_providers.kit.ports.entries.EntryStore` of one workspace."""

    _client: ClockifyClient

    def __init__(self, client: ClockifyClient, people: People) -> None:
        self._client = client
        self._people = people
        self._days = days_of(client.budget)

    def _window(self, user: str, first: dt.date, last: dt.date) -> AsyncIterator[TimeEntry]:
        """Each user's entries starting within its days, padded a day either side (a date is
        its user's own; ``start``/``end`` are instants)."""
        start = dt.datetime.combine(first - PAD, dt.time(), tzinfo=dt.UTC)
        end = dt.datetime.combine(last + 2 * PAD, dt.time(), tzinfo=dt.UTC)
        return self._client.time_entries(user, start, end)

    async def read(self, slot: Slot) -> Observed | None:
        if slot.target_id is None:
            return None
        entry = await picked(
            self,
            slot.target_id,
            self._days.get(slot.target_id),
            id_of=lambda listed: str(listed.id),
            by_id=lambda: self._client.time_entry(slot.target_id or ""),
        )
        if entry is None or entry.running:
            return None
        person = await self._people.person(entry.user_id)
        fields = entry_fields(entry, zone=person.zone, email=person.email, name=person.name)
        self._days.put(entry.id, (entry.user_id, fields.date))
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
        self._days.put(target, (desired.user.external_id, desired.date))

    async def _create(self, desired: TimeEntryFields) -> str:
        zone = (await self._people.person(desired.user.external_id)).zone
        start = start_of(desired, zone)
        user = desired.user.external_id
        day = (user, desired.date)

        async def alone() -> list[TimeEntry]:
            after = start + dt.timedelta(seconds=1)
            return [entry async for entry in self._client.time_entries(user, start, after)]

        for entry in await around(self, day, alone):
            if same_entry(entry, desired, zone):
                self._days.put(entry.id, day)
                return entry.id
        me = await self._people.me()
        created = await self._client.create_time_entry(
            None if user == me.id else user, entry_body(desired, zone=zone)
        )
        self._days.put(created.id, day)
        return created.id
