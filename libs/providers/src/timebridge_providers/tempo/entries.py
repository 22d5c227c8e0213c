"""Tempo worklogs written by slot: one worklog per source entry (``entry`` granularity).

A worklog keeps no external reference, so a create first looks for the worklog it would make
(same author, issue, local start, seconds and description, :func:`~.translate.same_worklog`)
among the issue's worklogs of that date: a create whose answer was lost is found there, never
sent twice. ``PUT`` replaces the whole worklog, so an update sends every field.
"""

from timebridge_providers.kit.ports.entries import Observed, Slot, Write
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
        if write.operation == "none":
            return None
        target = slot.target_id or (write.current.target_id if write.current else None)
        if write.operation == "delete":
            if target is not None:
                await self._client.delete(int(target))
            return None
        assert write.desired is not None, "a create or update has desired fields"
        body = worklog_body(write.desired, zone=self._zone)
        if write.operation == "update" and target is not None:
            await self._client.update(int(target), body)
            return None
        day = write.desired.date
        async for worklog in self._client.dated(day, day, issueId=body["issueId"]):
            if same_worklog(worklog, write.desired, self._zone):
                return str(worklog.tempoWorklogId)
        return str((await self._client.create(body)).tempoWorklogId)
