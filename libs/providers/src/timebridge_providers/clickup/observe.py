"""ClickUp's changes by polling a window of start dates, and per-connection webhooks as hints.

ClickUp's time-entry listing filters by start date only (no "changed since") and keeps no
tombstones, so each poll lists every member's entries starting in the window (``lookback`` before
now, up to tomorrow) and compares them with the previous poll's: an entry new or changed (its
``at`` and a digest of its content differ) is reported, one the previous poll listed and this one
does not (and whose start has not simply aged out of the window) is reported deleted. A running
timer is left out until it stops. The cursor is JSON: per id, the version last reported and what
a deletion is reported with (user, list, task, date).
"""

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_common.outbound.http import AuthenticationError
from timebridge_providers.clickup.client import ClickUpClient
from timebridge_providers.clickup.translate import entry_fields, moment_of, ms_of
from timebridge_providers.clickup.wire import TimeEntry
from timebridge_providers.clickup.zones import Zones
from timebridge_providers.kit.ports.observe import Change, ChangePage, Hint, HookAdmin, HookState

EVENTS = ["taskTimeTrackedUpdated"]
"""The webhook event ClickUp sends when time tracked on a task is added, changed or deleted."""


def _version(entry: TimeEntry) -> str:
    content = entry.model_dump_json(
        include={"task", "user", "billable", "start", "duration", "description", "task_location"}
    )
    return f"{entry.at or ''}#{hashlib.sha256(content.encode()).hexdigest()[:16]}"


def _parse_cursor(cursor: str | None) -> dict[str, list[Any]]:
    if not cursor:
        return {}
    try:
        known = json.loads(cursor)["known"]
        if not isinstance(known, dict):
            raise TypeError("known is not an object")
        return {str(k): list(v) for k, v in known.items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidMessageError(f"not a ClickUp poll cursor: {exc}") from exc


class ClickUpObserver:
    """The :class:`~timebridge_providers.kit.ports.observe.Observer` of one workspace."""

    def __init__(self, client: ClickUpClient) -> None:
        self._client = client
        self._zones = Zones(client)

    @property
    def hooks(self) -> HookAdmin | None:
        return ClickUpHooks(self._client)

    async def changes(
        self, cursor: str | None, *, now: dt.datetime, lookback: dt.timedelta
    ) -> ChangePage:
        known = _parse_cursor(cursor)
        start = dt.datetime.combine((now - lookback).date(), dt.time(), dt.UTC)
        end = now + dt.timedelta(days=1)
        listed = [e for e in await self._listing(ms_of(start), ms_of(end)) if not e.running]
        changes: list[Change] = []
        seen: dict[str, list[Any]] = {}
        for entry in listed:
            zone = await self._zones.of(entry.user.id)
            fields = entry_fields(entry, zone)
            version = _version(entry)
            seen[entry.id] = [version, *_brief(fields)]
            if known.get(entry.id, [None])[0] != version:
                changes.append(_change(entry, fields, now))
        for entry_id, (_, user, project, task, date) in known.items():
            if entry_id in seen:
                continue
            if dt.date.fromisoformat(date) < start.date():
                continue  # aged out of the window, not deleted
            changes.append(_deletion(entry_id, [user, project, task, date], now))
        return ChangePage(changes, json.dumps({"known": seen}, separators=(",", ":")))

    async def _listing(self, start_ms: int, end_ms: int) -> list[TimeEntry]:
        """Every member's entries (the ``assignee`` filter is for owners and admins); a member's
        token sees only its own."""
        members = await self._zones.member_ids()
        try:
            return await self._client.time_entries(start_ms, end_ms, members)
        except AuthenticationError:
            return await self._client.time_entries(start_ms, end_ms)

    async def reread(self, hints: Sequence[Hint], *, now: dt.datetime) -> list[Change]:
        changes: list[Change] = []
        for hint in hints:
            entry = await self._client.time_entry(hint.external_id)
            if entry is None:
                brief = [hint.user_id, None, hint.task_id, hint.date.isoformat()]
                changes.append(_deletion(hint.external_id, brief, now))
            elif not entry.running:
                fields = entry_fields(entry, await self._zones.of(entry.user.id))
                changes.append(_change(entry, fields, now))
        return changes


class ClickUpHooks:
    """The workspace's webhooks (``taskTimeTrackedUpdated``); ClickUp suspends one after failed
    deliveries (``health.status`` ``failing``/``suspended``) and ``PUT`` ``status: active``
    revives it under the same id."""

    def __init__(self, client: ClickUpClient) -> None:
        self._client = client

    async def register(self, target_url: str, secret: str | None = None) -> HookState:
        """ClickUp picks the secret and answers it once, at creation (``webhook.secret``)."""
        del secret
        hook = await self._client.create_webhook(target_url, EVENTS)
        active = hook.health is None or hook.health.status == "active"
        return HookState(hook.id, active, hook.secret or None, hook.endpoint)

    async def delete(self, hook_id: str) -> None:
        await self._client.delete_webhook(hook_id)

    async def ensure_active(self, hook_id: str) -> HookState | None:
        hook = next((h for h in await self._client.webhooks() if h.id == hook_id), None)
        if hook is None:
            return None
        if hook.health is not None and hook.health.status != "active":
            hook = await self._client.update_webhook(hook, ",".join(EVENTS), "active")
        active = hook.health is None or hook.health.status == "active"
        return HookState(hook.id, active, hook.secret or None, hook.endpoint)


def _brief(fields: TimeEntryFields) -> list[Any]:
    return [
        fields.user.external_id,
        fields.project_external_id,
        fields.task_external_id,
        fields.date.isoformat(),
    ]


def _change(entry: TimeEntry, fields: TimeEntryFields, now: dt.datetime) -> Change:
    changed = now if entry.at is None else moment_of(entry.at)
    return Change(external_id=entry.id, fields=fields, updated_at=changed)


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
