"""Zoho Projects' changes by polling windows: the REST API has no change cursor (logs are listed
by day, week or month) and its webhooks are set up per portal in Zoho's UI, unsigned.

Each poll lists, project by project, the month views covering the window (``lookback`` before
now up to a day after it) and compares them with the previous poll's listing, which the cursor
carries: a log not listed before, or listed with another version (``last_modified_time_long`` and
a digest of its content), is a change; an id listed before and gone now is a deletion, reported
with the owner, project, task and date it was last seen with. What the window does not reach is
not seen.
"""

import datetime as dt
from collections.abc import Sequence
from typing import Any

from timebridge_providers.kit.ports.observe import Change, ChangePage, Hint, HookAdmin
from timebridge_providers.kit.relisting import AHEAD, WindowPoll, deletion, digest
from timebridge_providers.zoho.client import ZohoClient
from timebridge_providers.zoho.translate import (
    entry_fields,
    month_starts,
    parse_record_id,
    record_id,
)
from timebridge_providers.zoho.wire import TimeLog


def _version(log: TimeLog) -> str:
    content = log.model_dump_json(
        include={"owner_id", "task", "log_date", "total_minutes", "hours_display"}
        | {"notes", "bill_status", "approval_status", "last_modified_time_long"}
    )
    return digest(content)


class ZohoObserver:
    """The :class:`~timebridge_providers.kit.ports.observe.Observer` of one portal."""

    hooks: HookAdmin | None = None
    """Zoho's webhooks are made in its UI per portal and carry no signature: polled."""

    def __init__(self, client: ZohoClient, zone: str) -> None:
        self._client = client
        self._zone = zone

    async def changes(
        self, cursor: str | None, *, now: dt.datetime, lookback: dt.timedelta
    ) -> ChangePage:
        poll = WindowPoll(cursor, provider="Zoho Projects")
        start, end = (now - lookback).date(), (now + AHEAD).date()
        listed: dict[str, tuple[str, TimeLog]] = {}
        async for project in self._client.projects():
            for month in month_starts(start, end):
                for log in await self._client.logs(project.id, month):
                    if start <= log.date <= end and log.task is not None:
                        listed[record_id(project.id, log.task.id, log.id)] = (project.id, log)
        changes = [
            _change(log, project, self._zone, now)
            for record, (project, log) in listed.items()
            if poll.is_change(record, _version(log))
        ]
        seen = {
            record: [_version(log), log.owner_id, project, log.task.id if log.task else None,
                     log.date.isoformat()]
            for record, (project, log) in listed.items()
        }  # fmt: skip
        gone = poll.gone(seen, start)
        changes.extend(_deletion(record, brief, now) for record, brief in gone)
        return ChangePage(changes, poll.cursor(seen))

    async def reread(self, hints: Sequence[Hint], *, now: dt.datetime) -> list[Change]:
        changes: list[Change] = []
        for hint in hints:
            project, task, log_id = parse_record_id(hint.external_id)
            found = [log for log in await self._client.task_logs(project, task) if log.id == log_id]
            if found:
                changes.append(_change(found[0], project, self._zone, now))
            else:
                brief = ["", hint.user_id, project, task, hint.date.isoformat()]
                changes.append(_deletion(hint.external_id, brief, now))
        return changes


def _change(log: TimeLog, project: str, zone: str, now: dt.datetime) -> Change:
    changed = (
        dt.datetime.fromtimestamp(log.last_modified_time_long / 1000, dt.UTC)
        if log.last_modified_time_long
        else now
    )
    task = log.task.id if log.task else ""
    return Change(record_id(project, task, log.id), entry_fields(log, project, zone=zone), changed)


def _deletion(record: str, brief: list[Any], now: dt.datetime) -> Change:
    _, user, project, task, date = brief
    return deletion(record, now, user=user, project=project, task=task, date=date)
