"""Zoho Projects task logs written by slot: one Zoho log per source entry (``entry`` granularity).

Zoho keeps no external reference and has no idempotency key, so a create first looks for the
log it would make (same owner, task, date, minutes and notes, :func:`~.translate.same_log`) among
the owner's logs of that day: a create whose answer was lost (``OutcomeUnknownError``) is found
there when the write is decided again, never made twice. A log cannot move to another project or
task (its path names them). An approved log is refused by Zoho: :class:`EntryLockedError`.

Where a batch's writers read together (``kit.writes.ReadGroup``), their look-ups and read-backs
are answered by one listing of each project's owner's days (``kit.listed``: ``GET /projects/{id}/
logs/?users_list&view_type=month&date``, a month per request: a log's date is its owner's own,
no padding needed), a log picked by its record id; a log the listing does not show is read from
its task's logs. At 100 requests per two minutes (then blocked for 30), each request saved is an
entry more.
"""

import datetime as dt
from collections.abc import AsyncIterator, Iterator

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import TimeEntryFields
from timebridge_providers.kit.listed import ListedDays, around, days_of, picked
from timebridge_providers.kit.ports.entries import Observed, Slot, Write
from timebridge_providers.kit.writes import carry_out
from timebridge_providers.zoho.client import ZohoClient
from timebridge_providers.zoho.translate import (
    entry_fields,
    log_params,
    parse_record_id,
    record_id,
    same_log,
)
from timebridge_providers.zoho.wire import TimeLog

Placed = tuple[str, TimeLog]
"""A log with the project it was listed under (its record id names both)."""


def _months(first: dt.date, last: dt.date) -> Iterator[dt.date]:
    month = first.replace(day=1)
    while month <= last:
        yield month
        month = (month + dt.timedelta(days=32)).replace(day=1)


def _id(placed: Placed) -> str:
    project, log = placed
    return record_id(project, log.task.id if log.task else "", log.id)


class ZohoEntries(ListedDays):
    """The :class:`~timebridge_providers.kit.ports.entries.EntryStore` of one portal."""

    _client: ZohoClient

    def __init__(self, client: ZohoClient, zone: str) -> None:
        self._client = client
        self._zone = zone
        self._days = days_of(client.budget)

    async def _window(self, who: str, first: dt.date, last: dt.date) -> AsyncIterator[Placed]:
        """``who`` is a project and an owner (``project|owner``): the owner's logs in that
        project, a calendar month per request."""
        project, owner = who.split("|", 1)
        for month in _months(first, last):
            for log in await self._client.logs(project, month, view="month", user=owner):
                yield project, log

    async def read(self, slot: Slot) -> Observed | None:
        if slot.target_id is None:
            return None
        project, task, log_id = parse_record_id(slot.target_id)
        found = await picked(
            self,
            slot.target_id,
            self._days.get(slot.target_id),
            id_of=_id,
            by_id=lambda: self._by_id(project, task, log_id),
        )
        if found is None:
            return None
        log = found[1]
        self._days.put(slot.target_id, (f"{project}|{log.owner_id}", log.date))
        fields = entry_fields(log, project, zone=self._zone)
        return Observed(target_id=slot.target_id, fields=fields)

    async def _by_id(self, project: str, task: str, log_id: str) -> Placed | None:
        """A log read from its task's logs (its id names no day to read a period around)."""
        for log in await self._client.task_logs(project, task):
            if log.id == log_id:
                return project, log
        return None

    async def write(self, slot: Slot, write: Write) -> str | None:
        return await carry_out(
            slot,
            write,
            delete=lambda target: self._client.delete_log(*parse_record_id(target)),
            update=self._update,
            create=self._create,
        )

    async def _update(self, target: str, desired: TimeEntryFields, _: Observed | None) -> None:
        project, task = _place(desired)
        current_project, current_task, log_id = parse_record_id(target)
        if (current_project, current_task) != (project, task):
            raise InvalidMessageError("Zoho cannot move a time log to another task")
        await self._client.update_log(project, task, log_id, log_params(desired))
        self._days.put(target, (f"{project}|{desired.user.external_id}", desired.date))

    async def _create(self, desired: TimeEntryFields) -> str:
        project, task = _place(desired)
        params = log_params(desired)
        owner = desired.user.external_id
        day = (f"{project}|{owner}", desired.date)

        async def alone() -> list[Placed]:
            logs = await self._client.logs(project, desired.date, view="day", user=owner)
            return [(project, log) for log in logs]

        for _, log in await around(self, day, alone):
            if same_log(log, desired):
                made = record_id(project, task, log.id)
                self._days.put(made, day)
                return made
        created = await self._client.add_log(project, task, params)
        made = record_id(project, task, created.id)
        self._days.put(made, day)
        return made


def _place(desired: TimeEntryFields) -> tuple[str, str]:
    """The project and task a log is made under: Zoho logs time only on a task."""
    project, task = desired.project_external_id, desired.task_external_id
    if not project or not task:
        raise InvalidMessageError("a Zoho Projects task log needs its project and task")
    return project, task
