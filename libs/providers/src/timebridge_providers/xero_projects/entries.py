"""Xero Projects entries written by slot: one Xero entry per source entry (``entry`` granularity).

Xero keeps no external reference, so a create first looks for the entry it would make (same
user, task, start, minutes and description, :func:`~.translate.same_entry`) among the project's
entries of that user logged around that moment, and then sends the create with an
``Idempotency-Key`` derived from the write's own key: a create whose answer was lost is repeated
under the same key (Xero answers the entry it made), or found by the look-up when the write is
decided again, never made twice. An entry cannot move to another project (its path names it).
An invoiced or locked entry is refused by Xero: :class:`EntryLockedError`.
"""

import datetime as dt

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import TimeEntryFields
from timebridge_providers.kit.ports.entries import Observed, Slot, Write
from timebridge_providers.kit.writes import carry_out
from timebridge_providers.xero_projects.people import Lookups
from timebridge_providers.xero_projects.translate import (
    entry_body,
    entry_fields,
    parse_record_id,
    record_id,
    same_entry,
    start_of,
)
from timebridge_providers.xero_projects.wire import TimeEntry

_AROUND = dt.timedelta(minutes=1)


class XeroProjectsEntries:
    """The :class:`~timebridge_providers.kit.ports.entries.EntryStore` of one organisation."""

    def __init__(self, lookups: Lookups) -> None:
        self._lookups = lookups
        self._client = lookups.client

    async def read(self, slot: Slot) -> Observed | None:
        if slot.target_id is None:
            return None  # nothing but the ids names a Xero entry
        project, entry_id = parse_record_id(slot.target_id)
        entry = await self._client.time_entry(project, entry_id)
        return None if entry is None else await self._observed(entry)

    async def write(self, slot: Slot, write: Write) -> str | None:
        key = write.idempotency_key  # sent with the update or create: a retry is not doubled
        return await carry_out(
            slot,
            write,
            delete=lambda target: self._client.delete_time_entry(*parse_record_id(target)),
            update=lambda target, desired, _: self._update(target, desired, key),
            create=lambda desired: self._create(desired, key),
        )

    async def _update(self, target: str, desired: TimeEntryFields, key: str) -> None:
        project, body = self._project(desired), entry_body(desired, zone=self._lookups.zone)
        current_project, entry_id = parse_record_id(target)
        if current_project.lower() != project.lower():
            raise InvalidMessageError("Xero cannot move a time entry to another project")
        await self._client.update_time_entry(project, entry_id, body, key)

    @staticmethod
    def _project(desired: TimeEntryFields) -> str:
        project = desired.project_external_id
        if not project:
            raise InvalidMessageError("a Xero Projects time entry belongs to a project")
        return project

    async def _create(self, desired: TimeEntryFields, key: str) -> str:
        project, zone = self._project(desired), self._lookups.zone
        body = entry_body(desired, zone=zone)
        start = start_of(desired, zone)
        around = self._client.time_entries(
            project, after=start - _AROUND, before=start + _AROUND, user_id=desired.user.external_id
        )
        async for entry in around:
            if same_entry(entry, desired, zone):
                return record_id(entry.project_id, entry.time_entry_id)
        made = await self._client.create_time_entry(project, body, key)
        return record_id(made.project_id, made.time_entry_id)

    async def _observed(self, entry: TimeEntry) -> Observed:
        user = await self._lookups.user(entry.user_id)
        billable = await self._lookups.billable(entry.project_id, entry.task_id)
        fields = entry_fields(
            entry,
            zone=self._lookups.zone,
            billable=billable,
            email=user.email if user else None,
            name=user.name if user else None,
        )
        return Observed(
            target_id=record_id(entry.project_id, entry.time_entry_id),
            fields=fields,
            changed_at=None,
            billable_by="task",
        )
