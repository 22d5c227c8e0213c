"""Harvest's changes by polling: ``updated_since`` for what changed, a re-listing for deletions.

Harvest has no webhooks and keeps no tombstones: a deleted entry simply stops being listed. So
each poll (1) lists the entries updated since the newest ``updated_at`` seen so far, minus an
overlap (Harvest's own clock, never ours, so clock skew loses nothing; the overlap catches an
entry committed late; a change seen twice carries the same ``updated_at`` and is recognised
downstream), and (2) re-lists the ids of every entry whose spent date lies in the
deletion window (``lookback`` before now, up to tomorrow). An id the previous poll listed in
that window and this one does not is reported deleted. A deletion of an entry older than the
window is not seen. The cursor is JSON: the next ``updated_since``, the window's ids (each with
the user, project, task and date a deletion is reported with), and the versions of the entries
the overlap will list again, so an unchanged entry is not reported twice.
"""

import datetime as dt
from collections.abc import Sequence
from typing import Any

from timebridge_common.outbound.http import AuthenticationError
from timebridge_providers.harvest.client import HarvestClient
from timebridge_providers.harvest.translate import entry_fields
from timebridge_providers.harvest.wire import TimeEntry, User
from timebridge_providers.kit.ports.observe import Change, ChangePage, Hint, HookAdmin
from timebridge_providers.kit.relisting import SincePoll, deletion, stamped


def _version(entry: TimeEntry) -> str:
    """``updated_at`` (whole seconds at Harvest) and a digest of the synced content, so an edit
    within the same second as the version reported is still a new version."""
    content = entry.model_dump_json(
        include={"spent_date", "user", "project", "task", "hours", "notes", "billable"}
        | {"started_time", "ended_time", "is_running"}
    )
    return stamped(entry.updated_at, content)


class HarvestObserver:
    """The :class:`~timebridge_providers.kit.ports.observe.Observer` of one Harvest account."""

    def __init__(self, client: HarvestClient) -> None:
        self._client = client

    hooks: HookAdmin | None = None
    """Harvest has no webhooks."""

    async def changes(
        self, cursor: str | None, *, now: dt.datetime, lookback: dt.timedelta
    ) -> ChangePage:
        poll = SincePoll(
            cursor, provider="Harvest", now=now, lookback=lookback,
            key=_key, version=_version, updated_at=lambda e: e.updated_at,
        )  # fmt: skip
        users = await self._users()
        changed = [e async for e in self._client.time_entries(updated_since=poll.since)]
        window = self._client.time_entries(start=poll.start, end=poll.end)
        listed = {_key(e): _brief(e) async for e in window}
        return poll.page(
            changed,
            listed,
            change=lambda e: _change(e, users.get(e.user.id)),
            deletion=lambda entry_id, brief: _deletion(entry_id, brief, now),
        )

    async def _users(self) -> dict[int, User]:
        """Everyone's email and time zone; a member's token may list only its own user (and
        sees only its own time), so a refusal falls back to ``/users/me``."""
        try:
            return {u.id: u async for u in self._client.users()}
        except AuthenticationError:
            me = await self._client.me()
            return {me.id: me}

    async def reread(self, hints: Sequence[Hint], *, now: dt.datetime) -> list[Change]:
        """Each named entry as it is now; one gone is reported deleted with what the hint knew."""
        changes: list[Change] = []
        for hint in hints:
            entry = await self._client.time_entry(int(hint.external_id))
            if entry is None:
                brief = [hint.user_id, None, hint.task_id, hint.date.isoformat()]
                changes.append(_deletion(hint.external_id, brief, now))
            else:
                changes.append(_change(entry, await self._client.user(entry.user.id)))
        return changes


def _key(entry: TimeEntry) -> str:
    return str(entry.id)


def _brief(entry: TimeEntry) -> list[Any]:
    return [entry.user.id, entry.project.id, entry.task.id, entry.spent_date.isoformat()]


def _change(entry: TimeEntry, user: User | None) -> Change:
    return Change(
        external_id=str(entry.id),
        fields=entry_fields(entry, user),
        updated_at=entry.updated_at or entry.created_at or dt.datetime.now(dt.UTC),
    )


def _deletion(entry_id: str, brief: list[Any], now: dt.datetime) -> Change:
    user, project, task, date = brief
    return deletion(entry_id, now, user=user, project=project, task=task, date=date)
