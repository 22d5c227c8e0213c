"""ClickUp entries written by slot: one ClickUp entry per source entry (``entry`` granularity).

ClickUp keeps no external reference on a time entry (tags would be one, but unlimited tags are a
Business Plus feature), so a slot without an id, and a create decided again after its answer was
lost, are looked up by what the entry is: the same user, task, start (to the millisecond) and
duration. A match is the earlier create applied; two identical entries are never made.
"""

import datetime as dt

from timebridge_common.events import TimeEntryFields
from timebridge_providers.clickup.client import ClickUpClient
from timebridge_providers.clickup.translate import create_body, entry_fields, update_body
from timebridge_providers.clickup.wire import TimeEntry
from timebridge_providers.clickup.zones import Zones
from timebridge_providers.kit.ports.entries import Observed, Slot, Write
from timebridge_providers.kit.writes import carry_out


class ClickUpEntries:
    """The :class:`~timebridge_providers.kit.ports.entries.EntryStore` of one workspace."""

    def __init__(self, client: ClickUpClient) -> None:
        self._client = client
        self._zones = Zones(client)

    async def read(self, slot: Slot) -> Observed | None:
        if slot.target_id is None:
            return None  # never created: a lost create is looked up by the write
        entry = await self._client.time_entry(slot.target_id)
        if entry is None or entry.running:
            return None
        return Observed(
            target_id=entry.id,
            fields=entry_fields(entry, await self._zones.of(entry.user.id)),
            changed_at=None
            if entry.at is None
            else dt.datetime.fromtimestamp(entry.at / 1000, dt.UTC),
        )

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

    async def _create(self, desired: TimeEntryFields) -> str:
        zone = await self._zones.of(int(desired.user.external_id))
        existing = await self._same(desired, zone)
        if existing is not None:
            return existing.id
        return await self._client.create_time_entry(create_body(desired, zone))

    async def _same(self, fields: TimeEntryFields, zone: str) -> TimeEntry | None:
        body = create_body(fields, zone)
        start = int(body["start"])
        found = await self._client.time_entries(start, start, [int(body["assignee"])])
        for entry in found:
            task = None if entry.task is None else entry.task.id
            if (
                entry.start == start
                and entry.duration == body["duration"]
                and task == body.get("tid")
                and entry.user.id == body["assignee"]
            ):
                return entry
        return None
