"""Hubstaff's changes by polling ``activities/daily/updates`` (Hubstaff's own change cursor).

Each poll asks for the daily activities updated since the newest ``updated_at`` seen so far,
minus an overlap (Hubstaff's clock, never ours; the overlap catches a record committed late).
A daily activity whose time was all deleted keeps its record with ``tracked`` 0: it is reported
deleted. The cursor is JSON: the next ``updated[start]`` and the versions already reported of the
records the overlap lists again, so an unchanged one is not reported twice.

Webhooks (:mod:`.webhooks`) name a user's day on a task, not a record: :meth:`reread` lists that
day's daily activities (a day either side) and renders each as the poll does, so a delivery and a
poll of the same change are one event. :class:`HubstaffHooks` registers the organization's hook
and activates it with the secret the receiver kept from Hubstaff's verification request.
"""

import datetime as dt
from collections.abc import Sequence

from timebridge_common.outbound.http import AuthenticationError
from timebridge_providers.hubstaff.client import HubstaffClient
from timebridge_providers.hubstaff.translate import activity_fields
from timebridge_providers.hubstaff.webhooks import EVENTS, parse_day_key
from timebridge_providers.hubstaff.wire import DailyActivity, User
from timebridge_providers.kit.ports.observe import Change, ChangePage, Hint, HookAdmin, HookState
from timebridge_providers.kit.relisting import SincePoll


def _version(activity: DailyActivity) -> str:
    return f"{activity.updated_at.isoformat()}#{activity.tracked}#{activity.billable}"


class HubstaffObserver:
    """The :class:`~timebridge_providers.kit.ports.observe.Observer` of one organization."""

    def __init__(self, client: HubstaffClient) -> None:
        self._client = client

    @property
    def hooks(self) -> HookAdmin | None:
        return HubstaffHooks(self._client)

    async def changes(
        self, cursor: str | None, *, now: dt.datetime, lookback: dt.timedelta
    ) -> ChangePage:
        poll = SincePoll(
            cursor, provider="Hubstaff", now=now, lookback=lookback,
            key=lambda a: str(a.id), version=_version, updated_at=lambda a: a.updated_at,
        )  # fmt: skip
        users = await self._users()
        listed = [a async for a in self._client.daily_updates(poll.since)]
        return poll.page(listed, {}, change=lambda activity: _change(activity, users))

    async def _users(self) -> dict[int, User]:
        """Members' emails; a token that may not list members sees only its own user."""
        try:
            return {m.user_id: u async for m, u in self._client.members() if u is not None}
        except AuthenticationError:
            me = await self._client.me()
            return {me.id: me}

    async def reread(self, hints: Sequence[Hint], *, now: dt.datetime) -> list[Change]:
        """The daily activities of each hinted user's day on a task, as the poll renders them
        (a day whose time was deleted answers ``tracked`` 0: deleted)."""
        del now
        days = [day for day in (parse_day_key(h.external_id) for h in hints) if day is not None]
        if not days:
            return []
        users = await self._users()
        found: dict[int, Change] = {}
        for user, project, task, date in days:
            one = dt.timedelta(days=1)
            async for activity in self._client.daily(
                date - one, date + one, user_ids=user, project_ids=project
            ):
                if activity.user_id == user and activity.task_id == task:
                    found[activity.id] = _change(activity, users)
        return list(found.values())


def _change(activity: DailyActivity, users: dict[int, User]) -> Change:
    return Change(
        external_id=str(activity.id),
        fields=activity_fields(activity, users.get(activity.user_id)),
        updated_at=activity.updated_at,
        deleted=activity.tracked <= 0,
    )


class HubstaffHooks:
    """The organization's hook for time events. Hubstaff picks its secret and sends it in the
    verification request (the receiver keeps it); the hook delivers once :meth:`activate` hands
    it back. A hook no longer ``active`` is activated again by the receiver with that secret."""

    def __init__(self, client: HubstaffClient) -> None:
        self._client = client

    async def register(self, target_url: str, secret: str | None = None) -> HookState:
        del secret  # Hubstaff chooses it
        return _state(await self._client.create_webhook(target_url, list(EVENTS)))

    async def activate(self, hook_id: str, secret: str) -> HookState:
        return _state(await self._client.activate_webhook(hook_id, secret))

    async def delete(self, hook_id: str) -> None:
        await self._client.delete_webhook(hook_id)

    async def ensure_active(self, hook_id: str) -> HookState | None:
        found = await self._client.webhook(hook_id)
        return None if found is None else _state(found)


def _state(hook: dict[str, object]) -> HookState:
    url = hook.get("target_url")
    return HookState(
        str(hook.get("id")),
        hook.get("status") == "active",
        None,
        url if isinstance(url, str) else None,
    )
