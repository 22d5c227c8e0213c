"""Wrike timelogs written by slot: one timelog per source entry (``entry`` granularity).

Wrike logs time as the token's user, so a slot of another user cannot be written
(:class:`UnwritableEntryError`, never retried): connect each member's own token to write theirs.
A timelog keeps no external reference, so a create first looks for the timelog it would make
(:func:`~.translate.same_timelog`) among the task's timelogs of that date: a create whose answer
was lost is found there, never sent twice.
"""

from timebridge_common.events import TimeEntryFields
from timebridge_providers.kit.ports.entries import (
    Observed,
    Slot,
    UnwritableEntryError,
    Write,
)
from timebridge_providers.kit.writes import carry_out
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
        return await carry_out(
            slot, write, delete=self._client.delete, update=self._update, create=self._create
        )

    async def _update(self, target: str, desired: TimeEntryFields, was: Observed | None) -> None:
        await self._mine(desired)
        current = was.fields.task_external_id if was else None
        if current is not None and current != desired.task_external_id:
            raise UnwritableEntryError("Wrike cannot move a timelog to another task")
        await self._client.update(target, timelog_params(desired))

    async def _create(self, desired: TimeEntryFields) -> str:
        await self._mine(desired)
        params = timelog_params(desired)
        task = desired.task_external_id
        if not task:
            raise UnwritableEntryError("a Wrike timelog needs a task")
        for timelog in await self._client.task_timelogs(task, desired.date):
            if same_timelog(timelog, desired):
                return timelog.id
        return (await self._client.create(task, params)).id

    async def _mine(self, desired: TimeEntryFields) -> None:
        if desired.user.external_id != await self._my_id():
            raise UnwritableEntryError("Wrike logs time only as the token's own user")

    async def _my_id(self) -> str:
        if self._me is None:
            self._me = (await self._client.me()).id
        return self._me
