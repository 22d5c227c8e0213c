"""Observing Everhour: window polls compared with the last one, records re-read, hooks kept alive.

Everhour has no "changed since" filter, so a poll reads a window of recent days (``GET /team/time``)
and compares each record's fingerprint with the previous poll's (the cursor): new or different
records are changes, a record that was in the window before and is gone now was deleted. A
webhook delivery is a hint: the pending records of one day are re-read with one ``GET /team/time``
for that day. Everhour disables a hook after sustained failed deliveries (``isActive: false``)
and never re-enables it: :meth:`EverhourHooks.ensure_active` registers it again at the same URL.
"""

import contextlib
import datetime as dt
import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import structlog

from timebridge_common.errors import InvalidMessageError
from timebridge_common.outbound.http import NotFoundError
from timebridge_providers.everhour.client import (
    EverhourClient,
    Task,
    TimeRecord,
    User,
    handshake_reply,
    parse_delivery,
)
from timebridge_providers.everhour.translate import (
    deleted_record_event,
    record_fields,
    record_version,
)
from timebridge_providers.kit.ports.observe import (
    Change,
    ChangePage,
    Hint,
    HookState,
    RefusedError,
    Signed,
)

log = structlog.get_logger(__name__)

_MAX_ID = 2**63 - 1
_MAX_TASK_ID = 200


@dataclass(frozen=True, slots=True)
class Seen:
    """What a poll saw of one record: enough to tell a change, and to report it deleted."""

    date: dt.date
    fingerprint: str
    user_id: int
    task_id: str | None


def _task_id(record: TimeRecord) -> str | None:
    return record.task.id if record.task else None


def fingerprint(record: TimeRecord) -> str:
    parts = (
        record.time,
        record.user,
        record.date.isoformat(),
        _task_id(record),
        record.comment or "",
        record.is_locked,
        record.is_invoiced,
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Diff:
    changed: list[TimeRecord]
    deleted: list[str]
    now_seen: dict[str, Seen]


def diff_window(
    previous: Mapping[str, Seen], current: Iterable[TimeRecord], start: dt.date, end: dt.date
) -> Diff:
    """Compare a window's records with the previous poll's (records outside it are kept)."""
    now_seen = {k: v for k, v in previous.items() if not start <= v.date <= end}
    changed = []
    for record in current:
        key = str(record.id)
        seen = Seen(record.date, fingerprint(record), record.user, _task_id(record))
        now_seen[key] = seen
        if previous.get(key) != seen:
            changed.append(record)
    deleted = [
        key for key, seen in previous.items() if start <= seen.date <= end and key not in now_seen
    ]
    return Diff(changed, deleted, now_seen)


def dump_cursor(seen: Mapping[str, Seen]) -> str:
    return json.dumps(
        {k: [v.date.isoformat(), v.fingerprint, v.user_id, v.task_id] for k, v in seen.items()},
        separators=(",", ":"),
    )


def load_cursor(cursor: str | None) -> dict[str, Seen]:
    """The previous poll's records; an unreadable cursor counts as a first poll."""
    if not cursor:
        return {}
    try:
        raw = json.loads(cursor)
        return {
            k: Seen(dt.date.fromisoformat(d), str(f), int(u), None if t is None else str(t))
            for k, (d, f, u, t) in raw.items()
        }
    except (ValueError, TypeError, AttributeError):
        log.warning("everhour poll cursor unreadable: polling as the first time")
        return {}


@dataclass
class TeamUsers:
    """An Everhour account's user list, read at most every ``ttl_s``.

    Every record names its user by id; the list gives the email and time zone. A record whose
    user is not in the list re-reads it, at most every ``refresh_s`` (a user just added).
    """

    ttl_s: float = 600.0
    refresh_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _cached: tuple[float, dict[int, User]] | None = None

    async def user(self, everhour: EverhourClient, user_id: int) -> User | None:
        now = self.clock()
        cached = self._cached
        if (
            cached is None
            or now - cached[0] >= self.ttl_s
            or (user_id not in cached[1] and now - cached[0] >= self.refresh_s)
        ):
            users = {u.id: u for u in await everhour.team_users()}
            cached = self._cached = (now, users)
        return cached[1].get(user_id)


def _change(record: TimeRecord, task: Task, user: User | None, now: dt.datetime) -> Change:
    return Change(
        external_id=str(record.id),
        fields=record_fields(record, task=task, user=user),
        updated_at=record_version(record, now),
        deleted=record.time == 0,
    )


def _gone(
    hint_id: str, user_id: int, task_id: str | None, date: dt.date, now: dt.datetime
) -> Change:
    event = deleted_record_event(
        workspace_id="-",
        integration_id="-",
        record_id=hint_id,
        user_id=user_id,
        task_id=task_id,
        date=date,
        observed_at=now,
        observed_via="poll",
    )
    return Change(hint_id, event.entry, now, deleted=True)


class EverhourObserver:
    """One Everhour account's changes; it caches the account's user list, so a caller keeps one
    observer per connection across webhook rounds."""

    def __init__(self, client: EverhourClient, users: TeamUsers | None = None) -> None:
        self._client = client
        self._users = users or TeamUsers()
        self.hooks: EverhourHooks | None = EverhourHooks(client)

    async def changes(
        self, cursor: str | None, *, now: dt.datetime, lookback: dt.timedelta
    ) -> ChangePage:
        start = now.date() - dt.timedelta(days=lookback.days)
        end = now.date() + dt.timedelta(days=1)
        previous = load_cursor(cursor)
        records = [r async for r in self._client.team_time(start, end)]
        diff = diff_window(previous, records, start, end)
        users = {u.id: u for u in await self._client.team_users()} if diff.changed else {}
        tasks: dict[str, Task] = {}
        changes: list[Change] = []
        for record in diff.changed:
            task = await self._task(record, tasks)
            if task is not None:
                changes.append(_change(record, task, users.get(record.user), now))
        for record_id in diff.deleted:
            gone = previous[record_id]
            changes.append(_gone(record_id, gone.user_id, gone.task_id, gone.date, now))
        return ChangePage(changes, dump_cursor(diff.now_seen))

    async def reread(self, hints: Sequence[Hint], *, now: dt.datetime) -> list[Change]:
        """One ``GET /team/time`` per day (paged) for every hinted record of that day."""
        by_day: dict[dt.date, list[Hint]] = defaultdict(list)
        for hint in hints:
            by_day[hint.date].append(hint)
        changes: list[Change] = []
        tasks: dict[str, Task] = {}
        for day, rows in sorted(by_day.items()):
            wanted = {h.external_id for h in rows}
            found: dict[str, TimeRecord] = {}
            async for record in self._client.team_time(day, day):
                if str(record.id) in wanted:
                    found[str(record.id)] = record
            for hint in rows:
                seen = found.get(hint.external_id)
                if seen is None:
                    changes.append(
                        _gone(hint.external_id, int(hint.user_id), hint.task_id, hint.date, now)
                    )
                    continue
                task = await self._task(seen, tasks)
                if task is None:
                    continue
                user = await self._users.user(self._client, seen.user)
                changes.append(_change(seen, task, user, now))
        return changes

    async def _task(self, record: TimeRecord, tasks: dict[str, Task]) -> Task | None:
        """The record's task: embedded in the record, else read once per round."""
        if record.task is not None and record.task.projects:
            return record.task
        task_id = _task_id(record)
        if task_id is None:
            return None
        if task_id not in tasks:
            try:
                tasks[task_id] = await self._client.task(task_id)
            except NotFoundError:
                log.warning("everhour record on an unknown task skipped", record=record.id)
                return None
        return tasks[task_id]


class EverhourHooks:
    """The account's ``api:time:updated`` webhooks."""

    def __init__(self, client: EverhourClient) -> None:
        self._client = client

    async def register(self, target_url: str, secret: str | None = None) -> HookState:
        """Everhour signs nothing: ``secret`` is not used (the URL is the secret)."""
        del secret
        hook = await self._client.create_hook(target_url)
        return HookState(str(hook.id), hook.is_active)

    async def delete(self, hook_id: str) -> None:
        await self._client.delete_hook(int(hook_id))

    async def ensure_active(self, hook_id: str) -> HookState | None:
        """Everhour offers no way to re-enable a disabled hook: it is deleted and registered
        again at the same URL (whose handshake the gateway still answers)."""
        hooks = {str(h.id): h for h in await self._client.hooks()}
        hook = hooks.get(hook_id)
        if hook is None:
            return None
        if hook.is_active:
            return HookState(hook_id, True)
        log.warning("everhour disabled the webhook: registering it again", hook=hook_id)
        with contextlib.suppress(NotFoundError):  # gone meanwhile: registered again below
            await self._client.delete_hook(hook.id)
        return await self.register(hook.target_url)


class EverhourWebhooks:
    """Everhour's unsigned deliveries: a handshake, then ``api:time:updated`` hints."""

    scheme: Literal["hint"] = "hint"

    def handshake(self, headers: Mapping[str, str]) -> dict[str, str] | None:
        return handshake_reply(headers)

    def authenticate(
        self,
        secret: str | None,
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: dt.datetime,
        tolerance_s: int,
    ) -> Signed | None:
        """Everhour signs nothing: the URL is the secret, the record is re-read."""
        del secret, headers, body, now, tolerance_s
        return None

    def hint(self, body: bytes) -> Hint:
        """Unsigned input: ids must fit 64 bits and a task id must be short printable text, so a
        forged or garbled delivery is refused (422) rather than failing in a store."""
        try:
            record = parse_delivery(body).time_record()
        except InvalidMessageError as exc:
            raise RefusedError(422, exc.reason) from exc
        if not (0 < record.id <= _MAX_ID and 0 < record.user <= _MAX_ID):
            raise RefusedError(
                422, "not an Everhour time record: ids must be positive 64-bit integers"
            )
        task_id = _task_id(record)
        if task_id is not None and (len(task_id) > _MAX_TASK_ID or not task_id.isprintable()):
            raise RefusedError(
                422, "not an Everhour time record: the task id is not short printable text"
            )
        return Hint(str(record.id), record.date, str(record.user), task_id)
