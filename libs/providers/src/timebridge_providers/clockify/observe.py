"""Clockify's changes by polling: a re-listing of the window compared with the previous one.

Clockify's time-entry list filters by start, not by change, and keeps no tombstones in it (its
experimental "entity changes" endpoints are not relied on). So each poll lists the entries
starting in the window (``lookback`` before now, up to tomorrow) and compares them with
the previous poll's fingerprints (every member's entries with an admin's key, one listing
each; a member's key sees its own): a new or changed fingerprint is a change, an id gone from the
window is a deletion (one older than the window is not seen). The cursor is JSON: per id, its
fingerprint and the user, project, task and date a deletion is reported with. A running timer is
not listed until it stops.
"""

import datetime as dt
from collections.abc import Sequence
from typing import Any

from timebridge_common.outbound.http import AuthenticationError
from timebridge_providers.clockify.client import ClockifyClient
from timebridge_providers.clockify.people import People
from timebridge_providers.clockify.translate import entry_fields
from timebridge_providers.clockify.webhooks import ClockifyHooks
from timebridge_providers.clockify.wire import TimeEntry
from timebridge_providers.kit.ports.observe import Change, ChangePage, Hint, HookAdmin
from timebridge_providers.kit.relisting import WindowPoll, deletion, digest


def _fingerprint(entry: TimeEntry) -> str:
    return digest(entry.model_dump_json(by_alias=True, exclude={"is_locked"}))


class ClockifyObserver:
    """The :class:`~timebridge_providers.kit.ports.observe.Observer` of one Clockify key."""

    def __init__(self, client: ClockifyClient, people: People) -> None:
        self._client = client
        self._people = people

    @property
    def hooks(self) -> HookAdmin | None:
        """The workspace's time-entry webhooks (:mod:`.webhooks`)."""
        return ClockifyHooks(self._client)

    async def changes(
        self, cursor: str | None, *, now: dt.datetime, lookback: dt.timedelta
    ) -> ChangePage:
        poll = WindowPoll(cursor, provider="Clockify")
        start, end = now - lookback, now + dt.timedelta(days=1)
        listed: list[TimeEntry] = []
        for user in await self._members():
            async for entry in self._client.time_entries(user, start, end):
                if not entry.running:
                    listed.append(entry)
        seen: dict[str, list[Any]] = {}
        changes: list[Change] = []
        for entry in listed:
            person = await self._people.person(entry.user_id)
            fields = entry_fields(entry, zone=person.zone, email=person.email, name=person.name)
            mark = _fingerprint(entry)
            seen[entry.id] = [
                mark,
                entry.user_id,
                entry.project_id,
                entry.task_id,
                str(fields.date),
            ]
            if poll.is_change(entry.id, mark):
                changes.append(Change(entry.id, fields, now))
        gone = poll.gone(seen, start.date())
        changes.extend(_deletion(entry_id, brief, now) for entry_id, brief in gone)
        return ChangePage(changes, poll.cursor(seen))

    async def _members(self) -> list[str]:
        """Every member's id with an admin's key; a member's key sees only its own time."""
        try:
            return [u.id async for u in self._client.users()]
        except AuthenticationError:
            return [(await self._people.me()).id]

    async def reread(self, hints: Sequence[Hint], *, now: dt.datetime) -> list[Change]:
        changes: list[Change] = []
        for hint in hints:
            entry = await self._client.time_entry(hint.external_id)
            if entry is None:
                brief = ["", hint.user_id, None, hint.task_id, hint.date.isoformat()]
                changes.append(_deletion(hint.external_id, brief, now))
            elif not entry.running:
                person = await self._people.person(entry.user_id)
                fields = entry_fields(entry, zone=person.zone, email=person.email)
                changes.append(Change(entry.id, fields, now))
        return changes


def _deletion(entry_id: str, brief: list[Any], now: dt.datetime) -> Change:
    _, user, project, task, date = brief
    return deletion(entry_id, now, user=user, project=project, task=task, date=date)
