"""Polling: each integration's schedule, and what its health says.

How a provider's changes are found (a change feed with a cursor, or a window compared with the
previous poll) is the provider package's business (its ``Observer``); ingest keeps the schedule,
the opaque cursor, and the outcome of each poll so sync health tells the truth.
"""

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Literal

from timebridge_common.days import next_daily
from timebridge_common.events import IntegrationSettings
from timebridge_common.events.health import HealthState

INTERVALS = {
    "every_5_minutes": dt.timedelta(minutes=5),
    "hourly": dt.timedelta(hours=1),
    "daily": dt.timedelta(days=1),
}
SAFETY_NET = dt.timedelta(hours=1)
"""Real-time integrations are polled too, so a lost webhook is caught within the hour."""

ErrorKind = Literal["authentication", "refused", "unavailable"]
"""``authentication``: the provider refused the credential (revoked key, expired token: someone
must reconnect); ``refused``: another 4xx; ``unavailable``: 5xx, 429, network or Kafka (retried)."""


REALTIME_BY_POLLING = INTERVALS["every_5_minutes"]
"""Real time with a provider that sends no webhooks: as often as polling goes."""


def poll_interval(settings: IntegrationSettings, *, webhooks: bool = True) -> dt.timedelta:
    """How often to poll; a real-time integration without webhooks polls at the shortest
    interval, one with webhooks only as a safety net."""
    if settings.frequency == "realtime" and not webhooks:
        return REALTIME_BY_POLLING
    return INTERVALS.get(settings.frequency, SAFETY_NET)


def next_poll_at(
    settings: IntegrationSettings,
    now: dt.datetime,
    *,
    webhooks: bool = True,
    daily_at: dt.time | None = None,
) -> dt.datetime:
    """When a connection polled ``now`` is polled next. ``daily`` is not "24 hours later" but
    the end of the workspace's day in its time zone (``settings.timezone``), or the fixed UTC
    ``daily_at`` override (``TB_DAILY_SYNC_AT``): the schedule is stored, so a restart neither
    skips nor repeats a day's poll."""
    if settings.frequency == "daily":
        return next_daily(now, settings.timezone, daily_at)
    return now + poll_interval(settings, webhooks=webhooks)


@dataclass(frozen=True, slots=True)
class PollHealth:
    """The last outcomes of a connection's observation."""

    next_poll_at: dt.datetime
    last_polled_at: dt.datetime | None
    last_ok_at: dt.datetime | None
    last_error: str | None
    error_kind: str | None
    failures: int
    hook_note: str | None
    hook_note_at: dt.datetime | None

    @property
    def status(self) -> Literal["ok", "failing", "needs_reauthorisation", "not_polled_yet"]:
        if self.error_kind == "authentication":
            return "needs_reauthorisation"
        if self.last_error is not None:
            return "failing"
        return "ok" if self.last_polled_at is not None else "not_polled_yet"


_HEALTH_NAMESPACE = uuid.UUID("0c9a3f5e-6d1b-4f7a-8e2c-5b4d3a2f1e0d")


def state_after(error_kind: str | None) -> HealthState:
    """The observation's state after a poll that ended with ``error_kind`` (``None``: ok)."""
    if error_kind is None:
        return "ok"
    return "needs_reauthorisation" if error_kind == "authentication" else "failing"


def state_before(health: PollHealth | None) -> HealthState | None:
    """The state the last recorded poll left (``None``: never polled)."""
    if health is None or health.last_polled_at is None:
        return None
    status = health.status
    return None if status == "not_polled_yet" else status


def health_changed(before: HealthState | None, after: HealthState) -> bool:
    """Whether a poll changed the state: only changes are published, never one event per poll
    (a key revoked for a week is one event, not 672). A first poll that works says nothing."""
    return after != "ok" if before is None else before != after


def health_event_id(connection_id: str, health: PollHealth | None, after: HealthState) -> uuid.UUID:
    """The same transition seen again (the poll crashed before its outcome was recorded, so
    the next poll finds the same previous state) gets the same id: downstream stores it once."""
    polled = health.last_polled_at.isoformat() if health and health.last_polled_at else "-"
    return uuid.uuid5(_HEALTH_NAMESPACE, f"{connection_id}|{polled}|{after}")
