"""Wrike's changes by polling: ``updatedDate`` for what changed, a re-listing for deletions.

Wrike lists timelogs changed in an ``updatedDate`` range but keeps no tombstone of a deleted one,
so each poll (1) lists the timelogs updated since the newest ``updatedDate`` seen so far, minus an
overlap (Wrike's clock, never ours), and (2) re-lists by ``trackedDate`` the window from
``lookback`` before now to tomorrow. An id the previous poll listed in that window and this one
does not is reported deleted; a deletion older than the window is not seen. The cursor is JSON:
the next ``since``, the window's ids (each with the user, task and date a deletion is reported
with), and the versions (``updatedDate`` and a content digest) of the timelogs the overlap lists
again, so an unchanged timelog is not reported twice. Wrike's secure webhooks name the timelog
that changed (:mod:`timebridge_providers.wrike.webhooks`): :meth:`WrikeObserver.reread` reads it
as the poll would (same content, same stamp: one event), and :class:`WrikeHooks` keeps the
account's hook registered and active.
"""

import datetime as dt
from collections.abc import Sequence
from typing import Any

from timebridge_providers.kit.ports.observe import Change, ChangePage, Hint, HookAdmin, HookState
from timebridge_providers.kit.relisting import SincePoll, deletion, stamped
from timebridge_providers.wrike.client import WrikeClient
from timebridge_providers.wrike.translate import entry_fields
from timebridge_providers.wrike.webhooks import EVENTS
from timebridge_providers.wrike.wire import Timelog, Webhook


def _version(timelog: Timelog) -> str:
    content = timelog.model_dump_json(exclude={"createdDate", "updatedDate"})
    return stamped(timelog.updatedDate, content)


class WrikeObserver:
    """The :class:`~timebridge_providers.kit.ports.observe.Observer` of one Wrike token."""

    def __init__(self, client: WrikeClient) -> None:
        self._client = client

    @property
    def hooks(self) -> HookAdmin | None:
        return WrikeHooks(self._client)

    async def changes(
        self, cursor: str | None, *, now: dt.datetime, lookback: dt.timedelta
    ) -> ChangePage:
        poll = SincePoll(
            cursor, provider="Wrike", now=now, lookback=lookback,
            key=_key, version=_version, updated_at=lambda t: t.updatedDate,
        )  # fmt: skip
        changed = await self._client.updated_since(poll.since)
        listed = {t.id: _brief(t) for t in await self._client.tracked(poll.start, poll.end)}
        return poll.page(
            changed,
            listed,
            change=_change,
            deletion=lambda timelog_id, brief: _deletion(timelog_id, brief, now),
        )

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


def _key(timelog: Timelog) -> str:
    return timelog.id


def _brief(timelog: Timelog) -> list[Any]:
    return [timelog.userId, timelog.taskId, timelog.trackedDate.isoformat()]


def _change(timelog: Timelog) -> Change:
    updated = timelog.updatedDate or timelog.createdDate or dt.datetime.now(dt.UTC)
    return Change(timelog.id, entry_fields(timelog), updated)


def _deletion(timelog_id: str, brief: list[Any], now: dt.datetime) -> Change:
    user, task, date = brief
    return deletion(timelog_id, now, user=user, task=task, date=date)


class WrikeHooks:
    """The account's hook for ``TimelogChanged``, signed with the secret ingest proposes; a hook
    Wrike suspended (failed deliveries) is set ``Active`` again under the same id."""

    def __init__(self, client: WrikeClient) -> None:
        self._client = client

    async def register(self, target_url: str, secret: str | None = None) -> HookState:
        if not secret:
            raise ValueError("a Wrike hook is registered with the secret it signs with")
        hook = await self._client.create_webhook(target_url, secret, f"[{','.join(EVENTS)}]")
        return _state(hook)

    async def delete(self, hook_id: str) -> None:
        await self._client.delete_webhook(hook_id)

    async def ensure_active(self, hook_id: str) -> HookState | None:
        hook = await self._client.webhook(hook_id)
        if hook is None:
            return None
        if hook.status != "Active":
            hook = await self._client.set_webhook_status(hook_id, "Active")
        return _state(hook)


def _state(hook: Webhook) -> HookState:
    return HookState(hook.id, hook.status == "Active", None, hook.hookUrl)
