"""Tempo worklogs written by slot: one worklog per source entry (``entry`` granularity).

A worklog keeps no external reference, so a create first looks for the worklog it would make
(same author, issue, local start, seconds and description, :func:`~.translate.same_worklog`)
among the issue's worklogs of that date: a create whose answer was lost is found there, never
sent twice. ``PUT`` replaces the whole worklog, so an update sends every field.
"""

from timebridge_common.events import TimeEntryFields
from timebridge_providers.kit.ports.entries import Observed, Slot, Write
from timebridge_providers.kit.writes import carry_out
from timebridge_providers.tempo.client import TempoClient
from timebridge_providers.tempo.translate import entry_fields, same_worklog, worklog_body


class TempoEntries:
    """The :class:`~timebridge_providers.kit.ports.entries.EntryStore` of one Tempo connection."""

    def __init__(self, client: TempoClient, zone: str) -> None:
        self._client = client
        self._zone = zone

    async def read(self, slot: Slot) -> Observed | None:
        if slot.target_id is None or not slot.target_id.isdigit():
            return None  # nothing but the id names a worklog
        worklog = await self._client.worklog(int(slot.target_id))
        if worklog is None:
            return None
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

    async def _update(self, target: str, desired: TimeEntryFields, _: Observed | None) -> None:
        await self._client.update(int(target), worklog_body(desired, zone=self._zone))

    async def _create(self, desired: TimeEntryFields) -> str:
        body = worklog_body(desired, zone=self._zone)
        day = desired.date
        async for worklog in self._client.dated(day, day, issueId=body["issueId"]):
            if same_worklog(worklog, desired, self._zone):
                return str(worklog.tempoWorklogId)
        return str((await self._client.create(body)).tempoWorklogId)
