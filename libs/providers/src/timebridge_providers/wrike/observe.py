"""Wrike's changes by polling: ``updatedDate`` for what changed, a re-listing for deletions.

Wrike lists timelogs changed in an ``updatedDate`` range but keeps no tombstone of a deleted one,
so each poll (1) lists the timelogs updated since the newest ``updatedDate`` seen so far, minus an
overlap (Wrike's clock, never ours), and (2) re-lists by ``trackedDate`` the window from
``lookback`` before now to tomorrow. An id the previous poll listed in that window and this one
does not is reported deleted; a deletion older than the window is not seen. The cursor is JSON:
the next ``since``, the window's ids (each with the user, task and date a deletion is reported
with), and the versions (``updatedDate`` and a content digest) of the timelogs the overlap lists
again, so an unchanged timelog is not reported twice. (Wrike's webhooks, ``X-Hook-Secret``
signed, carry only ids; the kit's signed scheme expects the change itself: see the matrix.)
"""

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_providers.kit.ports.observe import Change, ChangePage, Hint, HookAdmin
from timebridge_providers.wrike.client import WrikeClient
from timebridge_providers.wrike.translate import entry_fields
from timebridge_providers.wrike.wire import Timelog

OVERLAP = dt.timedelta(minutes=1)

Cursor = tuple[dt.datetime | None, dict[str, list[str]], dict[str, str]]


def _parse_cursor(cursor: str | None) -> Cursor:
    if not cursor:
        return None, {}, {}
    try:
        data = json.loads(cursor)
        since = dt.datetime.fromisoformat(data["since"])
        return since, dict(data["ids"]), dict(data.get("reported", {}))
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidMessageError(f"not a Wrike poll cursor: {exc}") from exc


def _version(timelog: Timelog) -> str:
    content = timelog.model_dump_json(exclude={"createdDate", "updatedDate"})
    digest = hashlib.sha256(content.encode()).hexdigest()[:16]
    return f"{timelog.updatedDate.isoformat() if timelog.updatedDate else ''}#{digest}"


class WrikeObserver:
    """The :class:`~timebridge_providers.kit.ports.observe.Observer` of one Wrike token."""

    def __init__(self, client: WrikeClient) -> None:
        self._client = client

    @property
    def hooks(self) -> HookAdmin | None:
        return None

    async def changes(
        self, cursor: str | None, *, now: dt.datetime, lookback: dt.timedelta
    ) -> ChangePage:
        since, known, reported = _parse_cursor(cursor)
        since = since or now - lookback
        start, end = (now - lookback).date(), (now + dt.timedelta(days=1)).date()
        changed = await self._client.updated_since(since)
        listed = {t.id: _brief(t) for t in await self._client.tracked(start, end)}
        changes = [_change(t) for t in changed if reported.get(t.id) != _version(t)]
        seen = {t.id for t in changed}
        for timelog_id, brief in known.items():
            if timelog_id in listed or timelog_id in seen:
                continue
            if dt.date.fromisoformat(brief[2]) < start:
                continue  # left the window by age, not deleted
            changes.append(_deletion(timelog_id, brief, now))
        newest = max((t.updatedDate for t in changed if t.updatedDate), default=None)
        following = max(since, newest - OVERLAP) if newest else since
        again = {t.id: _version(t) for t in changed if t.updatedDate and t.updatedDate >= following}
        state = {"since": following.isoformat(), "ids": listed, "reported": again}
        return ChangePage(changes=changes, cursor=json.dumps(state, separators=(",", ":")))

    async def reread(self, hints: Sequence[Hint], *, now: dt.datetime) -> list[Change]:
        changes: list[Change] = []
        for hint in hints:
            timelog = await self._client.timelog(hint.external_id)
            if timelog is None:
                brief = [hint.user_id, hint.task_id or "", hint.date.isoformat()]
                changes.append(_deletion(hint.external_id, brief, now))
            else:
                changes.append(_change(timelog))
        return changes


def _brief(timelog: Timelog) -> list[Any]:
    return [timelog.userId, timelog.taskId, timelog.trackedDate.isoformat()]


def _change(timelog: Timelog) -> Change:
    updated = timelog.updatedDate or timelog.createdDate or dt.datetime.now(dt.UTC)
    return Change(timelog.id, entry_fields(timelog), updated)


def _deletion(timelog_id: str, brief: list[Any], now: dt.datetime) -> Change:
    user, task, date = brief
    fields = TimeEntryFields(
        user=UserRef(external_id=str(user)),
        task_external_id=str(task) or None,
        date=dt.date.fromisoformat(date),
        duration_seconds=0,
        billable=False,
    )
    return Change(external_id=timelog_id, fields=fields, updated_at=now, deleted=True)
