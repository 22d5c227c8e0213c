"""Where a workspace's day ends: the "daily" sync slot, in the workspace's own time zone.

"Daily" means at the end of the workspace's day (midnight ending the local date), not at a fixed
UTC hour: a team in Sydney and one in Denver each sync when their own day is over. Computed on
the local calendar, so a day of 23 or 25 hours (a DST change) still ends at its own midnight,
once. Ingest (polling a tracker) and mapping (releasing Core's changes) use the same rule.
"""

import datetime as dt
import zoneinfo


def end_of_day_after(now: dt.datetime, zone: str) -> dt.datetime:
    """The first end of a local day in ``zone`` strictly after ``now`` (UTC).

    A midnight that does not exist locally (a DST change at 00:00, e.g. America/Santiago) is
    read with the offset before the change (``fold=0``): the instant the clock jumps, the first
    of the new day. A repeated hour never touches midnight in any zone in use.
    """
    tz = zoneinfo.ZoneInfo(zone)
    local = now.astimezone(tz)
    nxt = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    return nxt.astimezone(dt.UTC)


def daily_slot_after(now: dt.datetime, at: dt.time) -> dt.datetime:
    """The first ``at`` (a fixed UTC time of day: the ``TB_DAILY_SYNC_AT`` override) strictly
    after ``now``."""
    now = now.astimezone(dt.UTC)
    today = dt.datetime.combine(now.date(), at.replace(tzinfo=None), tzinfo=dt.UTC)
    return today if today > now else today + dt.timedelta(days=1)


def next_daily(now: dt.datetime, zone: str, override: dt.time | None = None) -> dt.datetime:
    """The next daily slot: the configured UTC time if one is set, else the end of the day in
    the workspace's ``zone``."""
    return end_of_day_after(now, zone) if override is None else daily_slot_after(now, override)
