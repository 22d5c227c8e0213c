"""Incremental polling: schedules, and telling changes apart from what the last poll saw.

Everhour has no "changed since" filter, so a poll reads a window of recent days and compares
each record's fingerprint with the previous poll's: new or different records are changes, and a
record that was in the window before but is gone now was deleted. Core has ``updated_since`` with
deletions, so its poll only keeps a cursor.
"""

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from timebridge_providers.everhour.client import TimeRecord

from timebridge_common.events import IntegrationSettings

INTERVALS = {
    "every_5_minutes": dt.timedelta(minutes=5),
    "hourly": dt.timedelta(hours=1),
    "daily": dt.timedelta(days=1),
}
SAFETY_NET = dt.timedelta(hours=1)
"""Real-time integrations are polled too, so a lost webhook is caught within the hour."""


def poll_interval(settings: IntegrationSettings) -> dt.timedelta:
    return INTERVALS.get(settings.frequency, SAFETY_NET)


def task_id(record: TimeRecord) -> str | None:
    return record.task.id if record.task else None


def fingerprint(record: TimeRecord) -> str:
    parts = (
        record.time,
        record.user,
        record.date.isoformat(),
        task_id(record),
        record.comment or "",
        record.is_locked,
        record.is_invoiced,
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Seen:
    date: dt.date
    fingerprint: str
    user_id: int
    task_id: str | None


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
        seen = Seen(record.date, fingerprint(record), record.user, task_id(record))
        now_seen[key] = seen
        if previous.get(key) != seen:
            changed.append(record)
    deleted = [
        key for key, seen in previous.items() if start <= seen.date <= end and key not in now_seen
    ]
    return Diff(changed, deleted, now_seen)
