"""Tempo worklogs written by slot: one worklog per source entry (``entry`` granularity).

A worklog keeps no external reference, so a create first looks for the worklog it would make
(same author, issue, local start, seconds and description, :func:`~.translate.same_worklog`)
among the issue's worklogs of that date: a create whose answer was lost is found there, never
sent twice. ``PUT`` replaces the whole worklog, so an update sends every field.

Where a batch's writers read together (``kit.writes.ReadGroup``), their look-ups and read-backs
are answered by one listing of the days (``kit.listed``: ``GET /worklogs?from&to``, every page by
``metadata.next``), the author's worklogs picked from it; a worklog the listing does not show is
read by id.
"""

import datetime as dt
from collections.abc import AsyncIterator

from timebridge_common.events import TimeEntryFields
from timebridge_providers.kit.listed import PAD, ListedDays, around, days_of, picked
from timebridge_providers.kit.ports.entries import Observed, Slot, Write
from timebridge_providers.kit.writes import carry_out
from timebridge_providers.tempo.client import TempoClient
from timebridge_providers.tempo.translate import (
    entry_fields,
    local_start,
    same_worklog,
    worklog_body,
)
from timebridge_providers.tempo.wire import Worklog


class TempoEntries(ListedDays):
    """The :class:`~timebridge_providers.kit.ports.entries.EntryStore` of one Tempo connection."""

    _client: TempoClient

    def __init__(self, client: TempoClient, zone: str) -> None:
        self._client = client
        self._zone = zone
        self._days = days_of(client.budget)

    async def _window(self, user: str, first: dt.date, last: dt.date) -> AsyncIterator[Worklog]:
        """The author's worklogs of each date (``from``/``to`` a day either side), all pages."""
        async for worklog in self._client.dated(first - PAD, last + PAD):
            if worklog.author.accountId == user:
                yield worklog

    async def read(self, slot: Slot) -> Observed | None:
        if slot.target_id is None or not slot.target_id.isdigit():
            return None  # nothing but the id names a worklog
        target = slot.target_id
        worklog = await picked(
            self,
            target,
            self._days.get(target),
            id_of=lambda listed: str(listed.tempoWorklogId),
            by_id=lambda: self._client.worklog(int(target)),
        )
        if worklog is None:
            return None
        self._days.put(target, (worklog.author.accountId, worklog.startDate))
        fields = entry_fields(worklog, zone=self._zone)
        return Observed(
            target_id=str(worklog.tempoWorklogId), fields=fields, changed_at=worklog.updatedAt
        )

    async def write(self, slot: Slot, write: Write) -> str | None:
        return await carry_out(
            slot,
            write,
            delete=lambda target: self._client.delete(int(target)),
            update=self._update,
            create=self._create,
        )

    def _day(self, desired: TimeEntryFields) -> tuple[str, dt.date]:
        """The author and the worklog's date (the start's local date in the connection's zone)."""
        return desired.user.external_id, local_start(desired, self._zone)[0]

    async def _update(self, target: str, desired: TimeEntryFields, _: Observed | None) -> None:
        await self._client.update(int(target), worklog_body(desired, zone=self._zone))
        self._days.put(target, self._day(desired))

    async def _create(self, desired: TimeEntryFields) -> str:
        body = worklog_body(desired, zone=self._zone)
        day = self._day(desired)

        async def alone() -> list[Worklog]:
            return [w async for w in self._client.dated(day[1], day[1], issueId=body["issueId"])]

        for worklog in await around(self, day, alone):
            if same_worklog(worklog, desired, self._zone):
                self._days.put(str(worklog.tempoWorklogId), day)
                return str(worklog.tempoWorklogId)
        created = await self._client.create(body)
        self._days.put(str(created.tempoWorklogId), day)
        return str(created.tempoWorklogId)
