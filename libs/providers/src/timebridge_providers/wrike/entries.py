"""Wrike timelogs written by slot: one timelog per source entry (``entry`` granularity).

Wrike logs time as the token's user, so a slot of another user cannot be written
(:class:`UnwritableEntryError`, never retried): connect each member's own token to write theirs.
A timelog keeps no external reference, so a create first looks for the timelog it would make
(:func:`~.translate.same_timelog`) among the task's timelogs of that date: a create whose answer
was lost is found there, never sent twice.

Where a batch's writers read together (``kit.writes.ReadGroup``), their look-ups and read-backs
are answered by one listing of the days (``kit.listed``: ``GET /timelogs?trackedDate={start,
end}``, unpaged), the token user's timelogs picked from it; the token's user is read once per
credential (``kit.listed.kept``).
"""

import datetime as dt
from collections.abc import AsyncIterator

from timebridge_common.events import TimeEntryFields
from timebridge_providers.kit.listed import (
    PAD,
    ListedDays,
    around,
    days_of,
    kept,
    picked,
)
from timebridge_providers.kit.ports.entries import (
    Observed,
    Slot,
    UnwritableEntryError,
    Write,
)
from timebridge_providers.kit.writes import carry_out
from timebridge_providers.wrike.client import WrikeClient
from timebridge_providers.wrike.translate import entry_fields, same_timelog, timelog_params
from timebridge_providers.wrike.wire import Timelog


class WrikeEntries(ListedDays):
    """The :class:`~timebridge_providers.kit.ports.entries.EntryStore` of one Wrike token."""

    _client: WrikeClient

    def __init__(self, client: WrikeClient) -> None:
        self._client = client
        self._days = days_of(client.budget)

    async def _window(self, user: str, first: dt.date, last: dt.date) -> AsyncIterator[Timelog]:
        """The user's timelogs of each day (``trackedDate`` from a day before to a day after)."""
        for timelog in await self._client.tracked(first - PAD, last + PAD):
            if timelog.userId == user:
                yield timelog

    async def read(self, slot: Slot) -> Observed | None:
        if slot.target_id is None:
            return None
        target = slot.target_id
        timelog = await picked(
            self,
            target,
            self._days.get(target),
            id_of=lambda listed: str(listed.id),
            by_id=lambda: self._client.timelog(target),
        )
        if timelog is None:
            return None
        self._days.put(timelog.id, (timelog.userId, timelog.trackedDate))
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
        self._days.put(target, (desired.user.external_id, desired.date))

    async def _create(self, desired: TimeEntryFields) -> str:
        await self._mine(desired)
        params = timelog_params(desired)
        task = desired.task_external_id
        if not task:
            raise UnwritableEntryError("a Wrike timelog needs a task")
        day = (desired.user.external_id, desired.date)
        alone = lambda: self._client.task_timelogs(task, desired.date)  # noqa: E731
        for timelog in await around(self, day, alone):
            if same_timelog(timelog, desired):
                self._days.put(timelog.id, day)
                return str(timelog.id)
        created = await self._client.create(task, params)
        self._days.put(created.id, day)
        return created.id

    async def _mine(self, desired: TimeEntryFields) -> None:
        if desired.user.external_id != await self._my_id():
            raise UnwritableEntryError("Wrike logs time only as the token's own user")

    async def _my_id(self) -> str:
        me = await kept(self.budget, ("me", self._client.identity), self._client.me)
        return me.id
