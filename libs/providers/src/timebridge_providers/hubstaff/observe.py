"""Hubstaff's changes by polling ``activities/daily/updates`` (Hubstaff's own change cursor).

Each poll asks for the daily activities updated since the newest ``updated_at`` seen so far,
minus an overlap (Hubstaff's clock, never ours; the overlap catches a record committed late).
A daily activity whose time was all deleted keeps its record with ``tracked`` 0: it is reported
deleted. The cursor is JSON: the next ``updated[start]`` and the versions already reported of the
records the overlap lists again, so an unchanged one is not reported twice.
"""

import datetime as dt
from collections.abc import Sequence

from timebridge_common.outbound.http import AuthenticationError
from timebridge_providers.hubstaff.client import HubstaffClient
from timebridge_providers.hubstaff.translate import activity_fields
from timebridge_providers.hubstaff.wire import DailyActivity, User
from timebridge_providers.kit.ports.observe import Change, ChangePage, Hint, HookAdmin
from timebridge_providers.kit.relisting import SincePoll


def _version(activity: DailyActivity) -> str:
    return f"{activity.updated_at.isoformat()}#{activity.tracked}#{activity.billable}"


class HubstaffObserver:
    """The :class:`~timebridge_providers.kit.ports.observe.Observer` of one organization."""

    def __init__(self, client: HubstaffClient) -> None:
        self._client = client

    @property
    def hooks(self) -> HookAdmin | None:
        """Polled: Hubstaff's webhooks are not used yet (see the provider matrix)."""
        return None

    async def changes(
        self, cursor: str | None, *, now: dt.datetime, lookback: dt.timedelta
    ) -> ChangePage:
        poll = SincePoll(
            cursor, provider="Hubstaff", now=now, lookback=lookback,
            key=lambda a: str(a.id), version=_version, updated_at=lambda a: a.updated_at,
        )  # fmt: skip
        users = await self._users()
        listed = [a async for a in self._client.daily_updates(poll.since)]

        def change(activity: DailyActivity) -> Change:
            return Change(
                external_id=str(activity.id),
                fields=activity_fields(activity, users.get(activity.user_id)),
                updated_at=activity.updated_at,
                deleted=activity.tracked <= 0,
            )

        return poll.page(listed, {}, change=change)

    async def _users(self) -> dict[int, User]:
        """Members' emails; a token that may not list members sees only its own user."""
        try:
            return {m.user_id: u async for m, u in self._client.members() if u is not None}
        except AuthenticationError:
            me = await self._client.me()
            return {me.id: me}

    async def reread(self, hints: Sequence[Hint], *, now: dt.datetime) -> list[Change]:
        """Hubstaff sends no hints (it is polled): nothing to re-read."""
        del hints, now
        return []
