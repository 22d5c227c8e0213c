"""Xero Projects entries written by slot: one Xero entry per source entry (``entry`` granularity).

Xero keeps no external reference, so a create first looks for the entry it would make (same
user, task, start, minutes and description, :func:`~.translate.same_entry`) among the project's
entries of that user logged around that moment, and then sends the create with an
``Idempotency-Key`` derived from the write's own key: a create whose answer was lost is repeated
under the same key (Xero answers the entry it made), or found by the look-up when the write is
decided again, never made twice. An entry cannot move to another project (its path names it).
An invoiced or locked entry is refused by Xero: :class:`EntryLockedError`.

Where a batch's writers read together (``kit.writes.ReadGroup``), their look-ups and read-backs
are answered by one listing of each project's user's days (``kit.listed``: ``GET /Projects/{id}/
Time?dateAfterUtc&dateBeforeUtc&userId``, a day either side, every page), an entry picked by its
record id; one the listing does not show is read by id. The project users and a project's tasks
are read once per credential (``kit.listed.kept``), not once per change: at 60 requests a minute
each request saved is an entry more.
"""

import datetime as dt
import zoneinfo
from collections.abc import AsyncIterator

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import TimeEntryFields
from timebridge_providers.kit.listed import PAD, ListedDays, around, days_of, picked
from timebridge_providers.kit.ports.entries import Observed, Slot, Write
from timebridge_providers.kit.writes import carry_out
from timebridge_providers.xero_projects.client import XeroProjectsClient
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


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


class XeroProjectsEntries(ListedDays):
    """The :class:`~timebridge_providers.kit.ports.entries.EntryStore` of one organisation."""

    _client: XeroProjectsClient

    def __init__(self, lookups: Lookups) -> None:
        self._lookups = lookups
        self._client = lookups.client
        self._days = days_of(self._client.budget)

    def _day(self, project: str, user: str, at: dt.datetime) -> tuple[str, dt.date]:
        """A project's user and the entry's date in the organisation's zone."""
        local = at.astimezone(zoneinfo.ZoneInfo(self._lookups.zone)).date()
        return f"{project.lower()}|{user.lower()}", local

    async def _window(self, who: str, first: dt.date, last: dt.date) -> AsyncIterator[TimeEntry]:
        """``who`` is a project and a user (``project|user``): the user's entries in that
        project logged from a day before ``first`` to a day after ``last`` (UTC), every page."""
        project, user = who.split("|", 1)
        after, before = _midnight(first - PAD), _midnight(last + 2 * PAD)
        async for entry in self._client.time_entries(
            project, after=after, before=before, user_id=user
        ):
            yield entry

    async def read(self, slot: Slot) -> Observed | None:
        if slot.target_id is None:
            return None  # nothing but the ids names a Xero entry
        project, entry_id = parse_record_id(slot.target_id)
        entry = await picked(
            self,
            slot.target_id,
            self._days.get(slot.target_id),
            id_of=lambda listed: record_id(listed.project_id, listed.time_entry_id),
            by_id=lambda: self._client.time_entry(project, entry_id),
        )
        if entry is None:
            return None
        self._days.put(slot.target_id, self._day(project, entry.user_id, entry.date_utc))
        return await self._observed(entry)

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
        start = start_of(desired, self._lookups.zone)
        self._days.put(target, self._day(project, desired.user.external_id, start))

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
        user = desired.user.external_id
        day = self._day(project, user, start)

        async def alone() -> list[TimeEntry]:
            near = self._client.time_entries(
                project, after=start - _AROUND, before=start + _AROUND, user_id=user
            )
            return [entry async for entry in near]

        for entry in await around(self, day, alone):
            if same_entry(entry, desired, zone):
                made = record_id(entry.project_id, entry.time_entry_id)
                self._days.put(made, day)
                return made
        created = await self._client.create_time_entry(project, body, key)
        made = record_id(created.project_id, created.time_entry_id)
        self._days.put(made, day)
        return made

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
