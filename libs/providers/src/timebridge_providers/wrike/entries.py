"""Wrike timelogs written by slot: one timelog per source entry (``entry`` granularity).

Wrike logs time as the token's user, so a slot of another user cannot be written
(:class:`UnwritableEntryError`, never retried): connect each member's own token to write theirs.
A timelog keeps no external reference, so a create first looks for the timelog it would make
(:func:`~.translate.same_timelog`) among the task's timelogs of that date: a create whose answer
was lost is found there, never sent twice.
"""

from timebridge_providers.kit.ports.entries import (
    Observed,
    Slot,
    UnwritableEntryError,
    Write,
)
from timebridge_providers.wrike.client import WrikeClient
from timebridge_providers.wrike.translate import entry_fields, same_timelog, timelog_params


class WrikeEntries:
    """The :class:`~timebridge_providers.kit.ports.entries.EntryStore` of one Wrike token."""

    def __init__(self, client: WrikeClient) -> None:
        self._client = client
        self._me: str | None = None

    async def read(self, slot: Slot) -> Observed | None:
        if slot.target_id is None:
            return None
        timelog = await self._client.timelog(slot.target_id)
        if timelog is None:
            return None
        return Observed(timelog.id, entry_fields(timelog), changed_at=timelog.updatedDate)

    async def write(self, slot: Slot, write: Write) -> str | None:
        if write.operation == "none":
            return None
        target = slot.target_id or (write.current.target_id if write.current else None)
        if write.operation == "delete":
            if target is not None:
                await self._client.delete(target)
            return None
        assert write.desired is not None, "a create or update has desired fields"
        desired = write.desired
        if desired.user.external_id != await self._my_id():
            raise UnwritableEntryError("Wrike logs time only as the token's own user")
        params = timelog_params(desired)
        if write.operation == "update" and target is not None:
            current = write.current.fields.task_external_id if write.current else None
            if current is not None and current != desired.task_external_id:
                raise UnwritableEntryError("Wrike cannot move a timelog to another task")
            await self._client.update(target, params)
            return None
        task = desired.task_external_id
        if not task:
            raise UnwritableEntryError("a Wrike timelog needs a task")
        for timelog in await self._client.task_timelogs(task, desired.date):
            if same_timelog(timelog, desired):
                return timelog.id
        return (await self._client.create(task, params)).id

    async def _my_id(self) -> str:
        if self._me is None:
            self._me = (await self._client.me()).id
        return self._me
