"""Toggl's changes by polling ``GET /me/time_entries?since=<unix>`` (deletions included).

Toggl's ``since`` lists every entry of the token user changed since then, deleted ones with
``server_deleted_at``, so it is a change cursor: the cursor is the newest ``at`` seen minus an
overlap (Toggl's clock, never ours; a change seen twice carries the same ``at`` and is recognised
downstream). A first poll looks ``lookback`` back. A running timer is not a change until it stops.
The poll sees the token user's time; a workspace's other members are observed through webhooks
(:mod:`.webhooks`), or by connecting each member's own token.
"""

import datetime as dt
import json
from collections.abc import Sequence

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_providers.kit.ports.observe import Change, ChangePage, Hint, HookAdmin
from timebridge_providers.toggl.client import TogglClient
from timebridge_providers.toggl.people import People
from timebridge_providers.toggl.translate import entry_fields
from timebridge_providers.toggl.webhooks import TogglHooks
from timebridge_providers.toggl.wire import TimeEntry

OVERLAP = dt.timedelta(minutes=1)


class TogglObserver:
    """The :class:`~timebridge_providers.kit.ports.observe.Observer` of one Toggl connection."""

    def __init__(self, client: TogglClient, people: People) -> None:
        self._client = client
        self._people = people

    @property
    def hooks(self) -> HookAdmin | None:
        """The connection's subscription (Webhooks API v1, :mod:`.webhooks`)."""
        return TogglHooks(self._client)

    async def changes(
        self, cursor: str | None, *, now: dt.datetime, lookback: dt.timedelta
    ) -> ChangePage:
        since = _parse_cursor(cursor) or now - lookback
        found = await self._client.changed_since(since)
        changes = [await self._change(e) for e in found if not e.running or e.server_deleted_at]
        newest = max((e.at for e in found if e.at is not None), default=None)
        following = max(since, newest - OVERLAP) if newest else since
        return ChangePage(changes=changes, cursor=following.isoformat())

    async def reread(self, hints: Sequence[Hint], *, now: dt.datetime) -> list[Change]:
        """Each named entry as it is now; one gone is reported deleted with what the hint knew."""
        changes: list[Change] = []
        for hint in hints:
            entry = await self._client.time_entry(int(hint.external_id))
            if entry is None:
                changes.append(_gone(hint, now))
            elif not entry.running:
                changes.append(await self._change(entry))
        return changes

    async def delivered(self, body: bytes) -> Change | None:
        """A verified Webhooks API delivery's entry as a poll renders it (the member's zone,
        email and name; the People lists are cached), so both are one event."""
        data = json.loads(body)
        metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
        payload = data.get("payload")
        if metadata.get("model") != "time_entry" or not isinstance(payload, dict):
            return None
        entry = TimeEntry.model_validate(payload)
        if metadata.get("action") == "deleted" and entry.server_deleted_at is None:
            entry = entry.model_copy(update={"server_deleted_at": entry.at or entry.start})
        if entry.running and entry.server_deleted_at is None:
            return None
        return await self._change(entry)

    async def _change(self, entry: TimeEntry) -> Change:
        person = await self._people.person(entry.user_id)
        deleted = entry.server_deleted_at is not None
        if entry.running:  # deleted while running: no time to report
            entry = entry.model_copy(update={"duration": 0})
        fields = entry_fields(entry, zone=person.zone, email=person.email, name=person.name)
        updated = entry.at or entry.server_deleted_at or entry.start
        return Change(str(entry.id), fields, updated, deleted=deleted)


def _parse_cursor(cursor: str | None) -> dt.datetime | None:
    if not cursor:
        return None
    try:
        moment = dt.datetime.fromisoformat(cursor)
    except ValueError as exc:
        raise InvalidMessageError(f"not a Toggl poll cursor: {cursor!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _gone(hint: Hint, now: dt.datetime) -> Change:
    fields = TimeEntryFields(
        user=UserRef(external_id=hint.user_id),
        task_external_id=hint.task_id,
        date=hint.date,
        duration_seconds=0,
        billable=False,
    )
    return Change(hint.external_id, fields, now, deleted=True)
