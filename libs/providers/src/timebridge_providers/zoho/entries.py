"""Zoho Projects task logs written by slot: one Zoho log per source entry (``entry`` granularity).

Zoho keeps no external reference and has no idempotency key, so a create first looks for the
log it would make (same owner, task, date, minutes and notes, :func:`~.translate.same_log`) among
the owner's logs of that day: a create whose answer was lost (``OutcomeUnknownError``) is found
there when the write is decided again, never made twice. A log cannot move to another project or
task (its path names them). An approved log is refused by Zoho: :class:`EntryLockedError`.
"""

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import TimeEntryFields
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


class ZohoEntries:
    """The :class:`~timebridge_providers.kit.ports.entries.EntryStore` of one portal."""

    def __init__(self, client: ZohoClient, zone: str) -> None:
        self._client = client
        self._zone = zone

    async def read(self, slot: Slot) -> Observed | None:
        if slot.target_id is None:
            return None
        project, task, log_id = parse_record_id(slot.target_id)
        # A log is read from its task's logs (its id names no day to read a period around).
        for log in await self._client.task_logs(project, task):
            if log.id == log_id:
                fields = entry_fields(log, project, zone=self._zone)
                return Observed(target_id=slot.target_id, fields=fields)
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

    async def _create(self, desired: TimeEntryFields) -> str:
        project, task = _place(desired)
        params = log_params(desired)
        day = await self._client.logs(
            project, desired.date, view="day", user=desired.user.external_id
        )
        for log in day:
            if same_log(log, desired):
                return record_id(project, task, log.id)
        made = await self._client.add_log(project, task, params)
        return record_id(project, task, made.id)


def _place(desired: TimeEntryFields) -> tuple[str, str]:
    """The project and task a log is made under: Zoho logs time only on a task."""
    project, task = desired.project_external_id, desired.task_external_id
    if not project or not task:
        raise InvalidMessageError("a Zoho Projects task log needs its project and task")
    return project, task
