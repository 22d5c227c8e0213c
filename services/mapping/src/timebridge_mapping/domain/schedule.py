"""When a Core change is synced: the integration's sync frequency (the guide's "Sync Frequency").

Real-time integrations sync a change as it arrives. The others sync Core's changes at fixed slots:
every 5-minute boundary (near real-time), the top of every hour (batch), or once a day at the end
of the workspace's day in its time zone (``IntegrationSettings.timezone``, DST-correct), unless
``TB_DAILY_SYNC_AT`` sets a fixed UTC time for every workspace. The guide's advice against rate
limits ("reduce sync frequency; batch sync during off-hours") only works if Core's side waits
too: ingest already polls the tracker at the frequency (a daily tracker poll at the same end of
day), and this is the same rule for the changes Core pushes.

A change waits for the first slot strictly after it arrived. Further changes of the same entry
before that slot join the same wait, and the slot syncs the entry's newest version once. The slot
of the first change is kept, not pushed out by later edits: an entry edited every few minutes
would otherwise never become due.

Tracker changes are not deferred here: ingest observes them at the frequency already (it polls
the tracker instead of taking its webhooks), so they arrive when they are due.
"""

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from timebridge_common.days import next_daily
from timebridge_common.events import IntegrationSettings
from timebridge_mapping.domain.direction import is_home

Frequency = Literal["realtime", "every_5_minutes", "hourly", "daily"]

FIVE_MINUTES = dt.timedelta(minutes=5)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def next_slot(
    frequency: Frequency, now: dt.datetime, *, daily_at: dt.time | None, zone: str = "UTC"
) -> dt.datetime | None:
    """The first sync slot strictly after ``now`` (UTC), or ``None`` for real time (at once).

    ``daily``: the end of the day in the workspace's ``zone``, or ``daily_at`` (a UTC time,
    ``TB_DAILY_SYNC_AT``) when one is configured. Every replica computes the same slots.
    """
    if frequency == "realtime":
        return None
    now = now.astimezone(dt.UTC)
    if frequency == "every_5_minutes":
        floor = now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0)
        return floor + FIVE_MINUTES
    if frequency == "hourly":
        return now.replace(minute=0, second=0, microsecond=0) + HOUR
    return next_daily(now, zone, daily_at)


def is_due(frequency: Frequency, due_at: dt.datetime, now: dt.datetime) -> bool:
    """Whether a change waiting for ``due_at`` syncs now.

    An integration switched to real time syncs what it holds at once, whatever slot it was
    waiting for; otherwise the promised slot stands even if the frequency changed meanwhile.
    """
    return frequency == "realtime" or due_at <= now


@dataclass(frozen=True, slots=True)
class SyncSlots:
    """The platform's slot configuration: a fixed UTC time of the daily sync, if configured
    (``None``: the end of each workspace's day)."""

    daily_at: dt.time | None = None

    def defer_until(
        self, source: str, settings: IntegrationSettings, now: dt.datetime
    ) -> dt.datetime | None:
        """When a change from ``source`` arriving ``now`` syncs; ``None``: map it at once."""
        if not is_home(source):
            return None
        return next_slot(settings.frequency, now, daily_at=self.daily_at, zone=settings.timezone)
