"""ClickUp entries written by slot: one ClickUp entry per source entry (``entry`` granularity).

ClickUp keeps no external reference on a time entry (tags would be one, but unlimited tags are a
Business Plus feature), so a slot without an id, and a create decided again after its answer was
lost, are looked up by what the entry is: the same user, task, start (to the millisecond) and
duration. A match is the earlier create applied; two identical entries are never made.

Where a batch's writers read together (``kit.writes.ReadGroup``), their look-ups and read-backs
are answered by one listing of the users' days (``kit.listed``: ``GET /team/{id}/time_entries?
start_date&end_date&assignee``, entries starting in the window, not paged): at 100 requests a
minute per token each request saved is an entry more. A record the listing does not show is read
by id. The token's user and the workspace's members (whose zones dates are read in) are read once
per credential (``kit.listed.kept``), not once per change.
"""

import datetime as dt
from collections.abc import AsyncIterator

from timebridge_common.events import TimeEntryFields
from timebridge_providers.clickup.client import ClickUpClient
from timebridge_providers.clickup.translate import create_body, entry_fields, update_body
from timebridge_providers.clickup.wire import TimeEntry
from timebridge_providers.clickup.zones import Zones
from timebridge_providers.kit.listed import PAD, ListedDays, around, days_of, picked
from timebridge_providers.kit.ports.entries import Observed, Slot, Write
from timebridge_providers.kit.writes import carry_out


def _ms(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp() * 1000)


class ClickUpEntries(ListedDays):
    """The :class:`~timebridge_providers.kit.ports.entries.EntryStore` of one workspace."""

    _client: ClickUpClient

    def __init__(self, client: ClickUpClient) -> None:
        self._client = client
        self._zones = Zones(client, per_credential=True)
        self._days = days_of(client.budget)

    async def _window(self, user: str, first: dt.date, last: dt.date) -> AsyncIterator[TimeEntry]:
        """The user's entries starting from a day before ``first`` to a day after ``last`` (its
        dates are the user's own), in milliseconds as ClickUp takes them."""
        end = _ms(last + 2 * PAD) - 1
        for entry in await self._client.time_entries(_ms(first - PAD), end, [int(user)]):
            yield entry

    async def read(self, slot: Slot) -> Observed | None:
        if slot.target_id is None:
            return None  # never created: a lost create is looked up by the write
        target = slot.target_id
        entry = await picked(
            self,
            target,
            self._days.get(target),
            id_of=lambda listed: str(listed.id),
            by_id=lambda: self._client.time_entry(target),
        )
        if entry is None or entry.running:
            return None
        observed = Observed(
            target_id=entry.id,
            fields=entry_fields(entry, await self._zones.of(entry.user.id)),
            changed_at=None
            if entry.at is None
            else dt.datetime.fromtimestamp(entry.at / 1000, dt.UTC),
        )
        self._days.put(entry.id, (str(entry.user.id), observed.fields.date))
        return observed

    async def write(self, slot: Slot, write: Write) -> str | None:
        return await carry_out(
            slot,
            write,
            delete=self._client.delete_time_entry,
            update=self._update,
            create=self._create,
        )

    async def _update(self, target: str, desired: TimeEntryFields, _: Observed | None) -> None:
        zone = await self._zones.of(int(desired.user.external_id))
        await self._client.update_time_entry(target, update_body(desired, zone))
        self._days.put(target, (desired.user.external_id, desired.date))

    async def _create(self, desired: TimeEntryFields) -> str:
        zone = await self._zones.of(int(desired.user.external_id))
        body = create_body(desired, zone)
        start = int(body["start"])
        day = (desired.user.external_id, desired.date)
        alone = lambda: self._client.time_entries(start, start, [int(body["assignee"])])  # noqa: E731
        for entry in await around(self, day, alone):
            task = None if entry.task is None else entry.task.id
            if (
                entry.start == start
                and entry.duration == body["duration"]
                and task == body.get("tid")
                and entry.user.id == body["assignee"]
            ):
                self._days.put(entry.id, day)
                return entry.id
        created = await self._client.create_time_entry(body)
        self._days.put(created, day)
        return created
