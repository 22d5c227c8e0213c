"""Hubstaff's changes by polling ``activities/daily/updates`` (Hubstaff's own change cursor).

Each poll asks for the daily activities updated since the newest ``updated_at`` seen so far,
minus an overlap (Hubstaff's clock, never ours; the overlap catches a record committed late).
A daily activity whose time was all deleted keeps its record with ``tracked`` 0: it is reported
deleted. The cursor is JSON: the next ``updated[start]`` and the versions already reported of the
records the overlap lists again, so an unchanged one is not reported twice.
"""

import datetime as dt
import json
from collections.abc import Sequence

from timebridge_common.errors import InvalidMessageError
from timebridge_common.outbound.http import AuthenticationError
from timebridge_providers.hubstaff.client import HubstaffClient
from timebridge_providers.hubstaff.translate import activity_fields
from timebridge_providers.hubstaff.wire import DailyActivity, User
from timebridge_providers.kit.ports.observe import Change, ChangePage, Hint, HookAdmin

OVERLAP = dt.timedelta(minutes=1)


def _version(activity: DailyActivity) -> str:
    return f"{activity.updated_at.isoformat()}#{activity.tracked}#{activity.billable}"


def _parse_cursor(cursor: str | None) -> tuple[dt.datetime | None, dict[str, str]]:
    if not cursor:
        return None, {}
    try:
        data = json.loads(cursor)
        return dt.datetime.fromisoformat(data["since"]), dict(data.get("reported", {}))
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidMessageError(f"not a Hubstaff poll cursor: {exc}") from exc


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
        since, reported = _parse_cursor(cursor)
        start = since or now - lookback
        users = await self._users()
        listed = [a async for a in self._client.daily_updates(start)]
        changes = [
            Change(
                external_id=str(a.id),
                fields=activity_fields(a, users.get(a.user_id)),
                updated_at=a.updated_at,
                deleted=a.tracked <= 0,
            )
            for a in listed
            if reported.get(str(a.id)) != _version(a)
        ]
        newest = max((a.updated_at for a in listed), default=None)
        following = newest - OVERLAP if newest else start
        again = {str(a.id): _version(a) for a in listed if a.updated_at >= following}
        state = {"since": following.isoformat(), "reported": again}
        return ChangePage(changes, json.dumps(state, separators=(",", ":")))

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
