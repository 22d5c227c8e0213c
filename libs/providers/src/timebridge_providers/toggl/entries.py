"""Toggl entries written by slot: one Toggl entry per source entry (``entry`` granularity).

Toggl keeps no external reference, so a create first looks for the entry it would make (same
user, start, duration and description, :func:`~.translate.same_entry`) among the entries starting
then: the token user's through ``/me/time_entries``, another member's (an admin token logging for
them) through Reports API v3's search; a create whose answer was lost is found there, never sent
twice. ``/me`` shows only the token user's entries, so another member's is read through the search
too. An update cannot move an entry to another user.
"""

import datetime as dt

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import TimeEntryFields
from timebridge_providers.kit.ports.entries import Observed, Slot, Write
from timebridge_providers.kit.writes import carry_out
from timebridge_providers.toggl.client import TogglClient
from timebridge_providers.toggl.people import People
from timebridge_providers.toggl.translate import entry_body, entry_fields, same_entry, start_of
from timebridge_providers.toggl.wire import TimeEntry

SEARCH_BACK = dt.timedelta(days=365)
"""How far back another member's entry is searched for by id (the reports span a year)."""


class TogglEntries:
    """The :class:`~timebridge_providers.kit.ports.entries.EntryStore` of one Toggl workspace."""

    def __init__(self, client: TogglClient, people: People) -> None:
        self._client = client
        self._people = people

    async def read(self, slot: Slot) -> Observed | None:
        if slot.target_id is None:
            return None  # nothing but the id names a Toggl entry
        entry = await self._client.time_entry(int(slot.target_id))
        if entry is None:  # another member's entry: /me does not show it, the reports do
            today = dt.datetime.now(dt.UTC).date()
            found = await self._client.search(
                today - SEARCH_BACK,
                today + dt.timedelta(days=1),
                time_entry_ids=[int(slot.target_id)],
            )
            entry = next((e for e in found if str(e.id) == slot.target_id), None)
        return None if entry is None or entry.running else await self._observed(entry)

    async def write(self, slot: Slot, write: Write) -> str | None:
        return await carry_out(
            slot,
            write,
            delete=lambda target: self._client.delete_time_entry(int(target)),
            update=self._update,
            create=self._create,
        )

    async def _update(self, target: str, desired: TimeEntryFields, was: Observed | None) -> None:
        zone = await self._zone(desired.user.external_id)
        current = was.fields.user.external_id if was else None
        if current is not None and current != desired.user.external_id:
            raise InvalidMessageError("Toggl cannot move a time entry to another user")
        body = entry_body(desired, zone=zone, with_user=False)
        await self._client.update_time_entry(int(target), body)

    async def _create(self, desired: TimeEntryFields) -> str:
        zone = await self._zone(desired.user.external_id)
        for entry in await self._around(desired, zone):
            if same_entry(entry, desired, zone):
                return str(entry.id)
        created = await self._client.create_time_entry(entry_body(desired, zone=zone))
        return str(created.id)

    async def _around(self, desired: TimeEntryFields, zone: str) -> list[TimeEntry]:
        """The entries starting when ``desired`` does: the token user's through ``/me``, another
        member's through the reports' search (a day either side: its dates are the user's)."""
        start = start_of(desired, zone)
        user = desired.user.external_id
        if not user.isdigit() or int(user) == (await self._people.me()).id:
            return await self._client.started_between(start, start + dt.timedelta(seconds=1))
        day = start.date()
        one = dt.timedelta(days=1)
        return await self._client.search(day - one, day + one, user_ids=[int(user)])

    async def _observed(self, entry: TimeEntry) -> Observed:
        person = await self._people.person(entry.user_id)
        fields = entry_fields(entry, zone=person.zone, email=person.email, name=person.name)
        return Observed(target_id=str(entry.id), fields=fields, changed_at=entry.at)

    async def _zone(self, user_id: str) -> str:
        if not user_id.isdigit():
            return await self._people.default_zone()
        return (await self._people.person(int(user_id))).zone
