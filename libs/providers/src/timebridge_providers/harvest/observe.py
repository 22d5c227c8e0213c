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
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_common.outbound.http import AuthenticationError
from timebridge_providers.harvest.client import HarvestClient
from timebridge_providers.harvest.translate import entry_fields
from timebridge_providers.harvest.wire import TimeEntry, User
from timebridge_providers.kit.ports.observe import Change, ChangePage, Hint, HookAdmin

OVERLAP = dt.timedelta(minutes=1)


Cursor = tuple[dt.datetime | None, dict[str, list[Any]], dict[str, str]]


def _parse_cursor(cursor: str | None) -> Cursor:
    """``since``, the window's ids with their briefs, and the versions already reported of the
    entries the overlap lists again."""
    if not cursor:
        return None, {}, {}
    try:
        data = json.loads(cursor)
        since = dt.datetime.fromisoformat(data["since"])
        return since, dict(data["ids"]), dict(data.get("reported", {}))
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidMessageError(f"not a Harvest poll cursor: {exc}") from exc


def _version(entry: TimeEntry) -> str:
    """``updated_at`` (whole seconds at Harvest) and a digest of the synced content, so an edit
    within the same second as the version reported is still a new version."""
    content = entry.model_dump_json(
        include={"spent_date", "user", "project", "task", "hours", "notes", "billable"}
        | {"started_time", "ended_time", "is_running"}
    )
    digest = hashlib.sha256(content.encode()).hexdigest()[:16]
    return f"{entry.updated_at.isoformat() if entry.updated_at else ''}#{digest}"


class HarvestObserver:
    """The :class:`~timebridge_providers.kit.ports.observe.Observer` of one Harvest account."""

    def __init__(self, client: HarvestClient) -> None:
        self._client = client

    @property
    def hooks(self) -> HookAdmin | None:
        """Harvest has no webhooks."""
        return None

    async def changes(
        self, cursor: str | None, *, now: dt.datetime, lookback: dt.timedelta
    ) -> ChangePage:
        since, known, reported = _parse_cursor(cursor)
        users = await self._users()
        start, end = (now - lookback).date(), (now + dt.timedelta(days=1)).date()
        updated = self._client.time_entries(updated_since=since or now - lookback)
        changed = [entry async for entry in updated]
        window = self._client.time_entries(start=start, end=end)
        listed = {str(e.id): _brief(e) async for e in window}
        changes = [
            _change(entry, users.get(entry.user.id))
            for entry in changed
            if reported.get(str(entry.id)) != _version(entry)  # listed again by the overlap
        ]
        seen = {str(entry.id) for entry in changed}
        for entry_id, brief in known.items():
            if entry_id in listed or entry_id in seen:
                continue
            if dt.date.fromisoformat(brief[3]) < start:
                continue  # left the window by age, not deleted
            changes.append(_deletion(entry_id, brief, now))
        newest = max((e.updated_at for e in changed if e.updated_at), default=None)
        following = newest - OVERLAP if newest else since or now - lookback
        again = {
            str(e.id): _version(e) for e in changed if e.updated_at and e.updated_at >= following
        }
        state = {"since": following.isoformat(), "ids": listed, "reported": again}
        cursor_out = json.dumps(state, separators=(",", ":"))
        return ChangePage(changes=changes, cursor=cursor_out)

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
    fields = TimeEntryFields(
        user=UserRef(external_id=str(user)),
        project_external_id=None if project is None else str(project),
        task_external_id=None if task is None else str(task),
        date=dt.date.fromisoformat(date),
        duration_seconds=0,
        billable=False,
    )
    return Change(external_id=entry_id, fields=fields, updated_at=now, deleted=True)
