"""QuickBooks Time timesheets written by slot: one timesheet per source entry.

A timesheet keeps no external reference, so a create first looks for the timesheet it would
make (:func:`~.translate.same_timesheet`) among the user's timesheets of that date: a create whose
answer was lost is found there, never sent twice. A timesheet that is locked, or whose user's
time is approved or submitted up to its date, is refused: :class:`EntryLockedError`.

Where a batch's writers read together (``kit.writes.ReadGroup``), their look-ups and read-backs
are answered by one listing of the users' days (``kit.listed``: ``GET /timesheets?start_date&
end_date&user_ids``, pages while ``more``); a timesheet the listing does not show is read by id.
"""

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

from timebridge_common.events import TimeEntryFields
from timebridge_providers.kit.listed import PAD, ListedDays, around, days_of, picked
from timebridge_providers.kit.ports.entries import Observed, Slot, Write
from timebridge_providers.kit.writes import carry_out
from timebridge_providers.quickbooks_time.client import QuickBooksTimeClient
from timebridge_providers.quickbooks_time.translate import (
    entry_fields,
    same_timesheet,
    timesheet_body,
)
from timebridge_providers.quickbooks_time.wire import Timesheet


def _day(body: dict[str, Any], desired: TimeEntryFields) -> tuple[str, dt.date]:
    """The user and the timesheet's date (a regular one's: its local start's)."""
    start = body.get("start")
    date = dt.date.fromisoformat(start[:10]) if start else desired.date
    return str(body["user_id"]), date


class QuickBooksTimeEntries(ListedDays):
    """The :class:`~timebridge_providers.kit.ports.entries.EntryStore` of one connection."""

    _client: QuickBooksTimeClient

    def __init__(self, client: QuickBooksTimeClient, zone: str) -> None:
        self._client = client
        self._zone = zone
        self._days = days_of(client.budget)

    async def _window(self, user: str, first: dt.date, last: dt.date) -> AsyncIterator[Timesheet]:
        """The user's timesheets dated from a day before ``first`` to a day after ``last``."""
        start, end = (first - PAD).isoformat(), (last + PAD).isoformat()
        async for timesheet in self._client.timesheets(
            start_date=start, end_date=end, user_ids=user
        ):
            yield timesheet

    async def read(self, slot: Slot) -> Observed | None:
        if slot.target_id is None or not slot.target_id.isdigit():
            return None
        target = slot.target_id
        timesheet = await picked(
            self,
            target,
            self._days.get(target),
            id_of=lambda listed: str(listed.id),
            by_id=lambda: self._client.timesheet(int(target)),
        )
        if timesheet is None:
            return None
        self._days.put(target, (str(timesheet.user_id), timesheet.date))
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
        self._days.put(target, _day(body, desired))

    async def _create(self, desired: TimeEntryFields) -> str:
        body = timesheet_body(desired, zone=self._zone)
        day = _day(body, desired)

        async def alone() -> list[Timesheet]:
            on = day[1].isoformat()
            found = self._client.timesheets(start_date=on, end_date=on, user_ids=day[0])
            return [timesheet async for timesheet in found]

        for timesheet in await around(self, day, alone):
            if same_timesheet(timesheet, desired):
                self._days.put(str(timesheet.id), day)
                return str(timesheet.id)
        created = await self._client.create(body)
        self._days.put(str(created.id), day)
        return str(created.id)
