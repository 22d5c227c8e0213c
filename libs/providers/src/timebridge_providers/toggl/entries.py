"""Toggl entries written by slot: one Toggl entry per source entry (``entry`` granularity).

Toggl keeps no external reference, so a create first looks for the entry it would make (same
user, start, duration and description, :func:`~.translate.same_entry`) among the entries starting
then: the token user's through ``/me/time_entries``, another member's (an admin token logging for
them) through Reports API v3's search; a create whose answer was lost is found there, never sent
twice. ``/me`` shows only the token user's entries, so another member's is read through the search
too. An update cannot move an entry to another user.

Where a batch's writers read together (``kit.writes.ReadGroup``), their look-ups and read-backs
are answered by one listing of the users' days (``kit.listed``: ``/me/time_entries`` with
``start_date``/``end_date``, unpaged; the search, in pages, for another member): at Toggl's
hourly quota each request saved is an entry more.
"""

import datetime as dt
from collections.abc import AsyncIterator

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import TimeEntryFields
from timebridge_providers.kit.listed import PAD, ListedDays, around, days_of, picked
from timebridge_providers.kit.ports.entries import Observed, Slot, Write
from timebridge_providers.kit.writes import carry_out
from timebridge_providers.toggl.client import TogglClient
from timebridge_providers.toggl.people import People
from timebridge_providers.toggl.translate import entry_body, entry_fields, same_entry, start_of
from timebridge_providers.toggl.wire import TimeEntry

SEARCH_BACK = dt.timedelta(days=365)
"""How far back another member's entry is searched for by id (the reports span a year)."""


class TogglEntries(ListedDays):
    """The :class:`~timebridge_providers.kit.ports.entries.EntryStore` of one Toggl workspace."""

    _client: TogglClient

    def __init__(self, client: TogglClient, people: People) -> None:
        self._client = client
        self._people = people
        self._days = days_of(client.budget)

    async def _window(self, user: str, first: dt.date, last: dt.date) -> AsyncIterator[TimeEntry]:
        """The entries of each user's days: the token user's through ``/me/time_entries``
        (start in a window padded a day either side: dates are the users' own), another
        member's through the reports' search."""
        if await self._mine(user):
            start = dt.datetime.combine(first - PAD, dt.time(), tzinfo=dt.UTC)
            end = dt.datetime.combine(last + 2 * PAD, dt.time(), tzinfo=dt.UTC)
            entries = await self._client.started_between(start, end)
        else:
            entries = await self._client.search(first - PAD, last + PAD, user_ids=[int(user)])
        for entry in entries:
            if entry.server_deleted_at is None:
                yield entry

    async def read(self, slot: Slot) -> Observed | None:
        if slot.target_id is None:
            return None  # nothing but the id names a Toggl entry
        entry = await picked(
            self,
            slot.target_id,
            self._days.get(slot.target_id),
            id_of=lambda listed: str(listed.id),
            by_id=lambda: self._by_id(slot.target_id or ""),
        )
        if entry is None or entry.running:
            return None
        observed = await self._observed(entry)
        self._days.put(observed.target_id, (str(entry.user_id), observed.fields.date))
        return observed

    async def _by_id(self, target: str) -> TimeEntry | None:
        entry = await self._client.time_entry(int(target))
        if entry is None:  # another member's entry: /me does not show it, the reports do
            today = dt.datetime.now(dt.UTC).date()
            found = await self._client.search(
                today - SEARCH_BACK, today + dt.timedelta(days=1), time_entry_ids=[int(target)]
            )
            entry = next((e for e in found if str(e.id) == target), None)
        return entry

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
        self._days.put(target, (desired.user.external_id, desired.date))

    async def _create(self, desired: TimeEntryFields) -> str:
        zone = await self._zone(desired.user.external_id)
        day = (desired.user.external_id, desired.date)
        for entry in await around(self, day, lambda: self._around(desired, zone)):
            if same_entry(entry, desired, zone):
                self._days.put(str(entry.id), day)
                return str(entry.id)
        created = await self._client.create_time_entry(entry_body(desired, zone=zone))
        self._days.put(str(created.id), day)
        return str(created.id)

    async def _mine(self, user: str) -> bool:
        return not user.isdigit() or int(user) == (await self._people.me()).id

    async def _around(self, desired: TimeEntryFields, zone: str) -> list[TimeEntry]:
        """The entries starting when ``desired`` does: the token user's through ``/me``, another
        member's through the reports' search (a day either side: its dates are the user's)."""
        start = start_of(desired, zone)
        user = desired.user.external_id
        if await self._mine(user):
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
