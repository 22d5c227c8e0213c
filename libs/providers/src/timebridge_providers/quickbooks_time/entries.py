"""QuickBooks Time timesheets written by slot: one timesheet per source entry.

A timesheet keeps no external reference, so a create first looks for the timesheet it would
make (:func:`~.translate.same_timesheet`) among the user's timesheets of that date: a create whose
answer was lost is found there, never sent twice. A timesheet that is locked, or whose user's
time is approved or submitted up to its date, is refused: :class:`EntryLockedError`.
"""

from timebridge_common.events import TimeEntryFields
from timebridge_providers.kit.ports.entries import Observed, Slot, Write
from timebridge_providers.kit.writes import carry_out
from timebridge_providers.quickbooks_time.client import QuickBooksTimeClient
from timebridge_providers.quickbooks_time.translate import (
    entry_fields,
    same_timesheet,
    timesheet_body,
)


class QuickBooksTimeEntries:
    """The :class:`~timebridge_providers.kit.ports.entries.EntryStore` of one connection."""

    def __init__(self, client: QuickBooksTimeClient, zone: str) -> None:
        self._client = client
        self._zone = zone

    async def read(self, slot: Slot) -> Observed | None:
        if slot.target_id is None or not slot.target_id.isdigit():
            return None
        timesheet = await self._client.timesheet(int(slot.target_id))
        if timesheet is None:
            return None
        return Observed(
            target_id=str(timesheet.id),
            fields=entry_fields(
                timesheet, zone=self._zone, billable=self._client.billable(timesheet.jobcode_id)
            ),
            changed_at=timesheet.last_modified,
            billable_by="task",
        )

    async def write(self, slot: Slot, write: Write) -> str | None:
        return await carry_out(
            slot,
            write,
            delete=lambda target: self._client.delete(int(target)),
            update=self._update,
            create=self._create,
        )

    async def _update(self, target: str, desired: TimeEntryFields, _: Observed | None) -> None:
        body = timesheet_body(desired, zone=self._zone)
        await self._client.update({"id": int(target), **body})

    async def _create(self, desired: TimeEntryFields) -> str:
        body = timesheet_body(desired, zone=self._zone)
        day = desired.date.isoformat()
        found = self._client.timesheets(start_date=day, end_date=day, user_ids=str(body["user_id"]))
        async for timesheet in found:
            if same_timesheet(timesheet, desired):
                return str(timesheet.id)
        return str((await self._client.create(body)).id)
