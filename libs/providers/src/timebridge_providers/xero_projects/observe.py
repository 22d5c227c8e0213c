"""Xero Projects' changes by polling windows: Xero has no change cursor and no webhooks for
projects, and keeps no tombstones.

Each poll lists, project by project, every entry logged in the window (``lookback`` before now
up to a day after it, by ``dateUtc``) and compares it with the previous poll's listing, which the
cursor carries: an entry not listed before, or listed with other content (a digest of user, task,
moment, minutes, description and status), is a change; an id listed before and gone now is a
deletion, reported with the user, project, task and date it was last seen with. Xero keeps no
``updated`` time on an entry, so a change is dated by the poll that saw it. What the window does
not reach is not seen (an entry edited or deleted after it left the window), and an entry moved
out of the window by an edit of its date is reported deleted (and found again if it moves back).
"""

import datetime as dt
from collections.abc import Sequence
from typing import Any

from timebridge_providers.kit.ports.observe import Change, ChangePage, Hint, HookAdmin
from timebridge_providers.kit.relisting import AHEAD, WindowPoll, deletion, digest
from timebridge_providers.xero_projects.people import Lookups
from timebridge_providers.xero_projects.translate import (
    entry_fields,
    parse_record_id,
    record_id,
    work_date,
)
from timebridge_providers.xero_projects.wire import TimeEntry


def _version(entry: TimeEntry) -> str:
    content = entry.model_dump_json(
        include={"user_id", "task_id", "date_utc", "duration", "description", "status"}
    )
    return digest(content)


class XeroProjectsObserver:
    """The :class:`~timebridge_providers.kit.ports.observe.Observer` of one organisation."""

    hooks: HookAdmin | None = None
    """Xero sends no webhooks for projects (only contacts, invoices and subscriptions)."""

    def __init__(self, lookups: Lookups) -> None:
        self._lookups = lookups
        self._client = lookups.client

    async def changes(
        self, cursor: str | None, *, now: dt.datetime, lookback: dt.timedelta
    ) -> ChangePage:
        poll = WindowPoll(cursor, provider="Xero Projects")
        start, end = now - lookback, now + AHEAD
        listed: dict[str, TimeEntry] = {}
        async for project in self._client.projects():
            async for entry in self._client.time_entries(
                project.project_id, after=start, before=end
            ):
                listed[record_id(entry.project_id, entry.time_entry_id)] = entry
        changes = [
            await self._change(entry, now)
            for record, entry in listed.items()
            if poll.is_change(record, _version(entry))
        ]
        zone = self._lookups.zone
        seen = {
            record: [
                _version(e), e.user_id, e.project_id, e.task_id,
                work_date(e.date_utc, zone).isoformat(),
            ]
            for record, e in listed.items()
        }  # fmt: skip
        gone = poll.gone(seen, work_date(start, zone))
        changes.extend(_deletion(record, brief, now) for record, brief in gone)
        return ChangePage(changes, poll.cursor(seen))

    async def reread(self, hints: Sequence[Hint], *, now: dt.datetime) -> list[Change]:
        """Each named entry as it is now; one gone is reported deleted with what the hint knew."""
        changes: list[Change] = []
        for hint in hints:
            project, entry_id = parse_record_id(hint.external_id)
            entry = await self._client.time_entry(project, entry_id)
            if entry is None:
                brief = ["", hint.user_id, project, hint.task_id, hint.date.isoformat()]
                changes.append(_deletion(hint.external_id, brief, now))
            else:
                changes.append(await self._change(entry, now))
        return changes

    async def _change(self, entry: TimeEntry, now: dt.datetime) -> Change:
        user = await self._lookups.user(entry.user_id)
        fields = entry_fields(
            entry,
            zone=self._lookups.zone,
            billable=await self._lookups.billable(entry.project_id, entry.task_id),
            email=user.email if user else None,
            name=user.name if user else None,
        )
        return Change(record_id(entry.project_id, entry.time_entry_id), fields, now)


def _deletion(record: str, brief: list[Any], now: dt.datetime) -> Change:
    _, user, project, task, date = brief
    return deletion(record, now, user=user, project=project, task=task, date=date)
