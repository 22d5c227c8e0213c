"""Importing a tracker's history: the run, its windows and its progress, as plain values.

A run covers ``from_date``..``to_date`` (inclusive) window by window, oldest first. Each window
is one observation of the provider over those dates (the same observation a poll makes), so an
import publishes exactly the events a poll would have (same observation ids: downstream stores
each once, whether a poll, a webhook or the import saw it first). Progress is what has been
covered, never a guess: days done of days total, and the entries observed so far.
"""

import datetime as dt
from dataclasses import dataclass, replace
from typing import Literal

ImportKind = Literal["initial", "backfill"]
"""``initial``: the history from a start date, when an integration is connected; ``backfill``:
a period an admin asks for later."""

ImportState = Literal["queued", "running", "waiting", "done", "failed", "cancelled"]
"""``waiting``: the provider refused the credential; the run resumes once it is accepted again
(re-connected). ``failed``: the provider refused the request itself (the reason is kept)."""

ACTIVE: frozenset[str] = frozenset({"queued", "running", "waiting"})

WINDOW_DAYS = 7
MAX_DAYS = 3 * 366
"""The longest period one run covers (about three years)."""

MARGIN = dt.timedelta(days=1)
"""Each window is observed a day wider on both sides; only entries dated inside it are taken
(an entry dated just outside belongs to the neighbouring window). The day before also catches a
change feed's records changed the day before they are dated (a ``since`` listing)."""


class ImportRefusedError(ValueError):
    """A period that cannot be imported, in words."""


@dataclass(frozen=True, slots=True)
class Window:
    """Dates ``first``..``last`` (inclusive)."""

    first: dt.date
    last: dt.date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def holds(self, date: dt.date) -> bool:
        return self.first <= date <= self.last

    def observation(self) -> tuple[dt.datetime, dt.timedelta]:
        """(``now``, ``lookback``) for ``Observer.changes`` with no cursor: the provider lists
        the records dated from ``now - lookback`` to past ``now``, this window with its margin."""
        now = dt.datetime.combine(self.last + MARGIN, dt.time(), dt.UTC)
        return now, dt.timedelta(days=self.days) + MARGIN


@dataclass(frozen=True, slots=True)
class ImportRun:
    import_id: str
    workspace_id: str
    integration_id: str
    kind: ImportKind
    from_date: dt.date
    to_date: dt.date
    state: ImportState
    requested_at: dt.datetime
    window_days: int = WINDOW_DAYS
    covered_until: dt.date | None = None
    """The last day covered (``None``: none yet)."""
    days_done: int = 0
    windows_done: int = 0
    entries_observed: int = 0
    last_error: str | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    next_attempt_at: dt.datetime | None = None

    @property
    def days_total(self) -> int:
        return (self.to_date - self.from_date).days + 1

    @property
    def windows_total(self) -> int:
        return -(-self.days_total // self.window_days)

    @property
    def percent(self) -> int:
        """Whole percent of the days covered (100 only once every day is)."""
        if self.state == "done":
            return 100
        return min(99, self.days_done * 100 // self.days_total)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def next_window(self) -> Window | None:
        """The oldest window not covered yet (``None``: all are)."""
        first = self.from_date if self.covered_until is None else self.covered_until + MARGIN
        if first > self.to_date:
            return None
        last = min(first + dt.timedelta(days=self.window_days - 1), self.to_date)
        return Window(first, last)

    def covered(self, window: Window, entries: int, now: dt.datetime) -> "ImportRun":
        """The run once ``window`` is covered with ``entries`` observed in it."""
        days_done = (window.last - self.from_date).days + 1
        finished = window.last >= self.to_date
        return replace(
            self,
            covered_until=window.last,
            days_done=days_done,
            windows_done=self.windows_done + 1,
            entries_observed=self.entries_observed + entries,
            state="done" if finished else "running",
            last_error=None,
            started_at=self.started_at or now,
            finished_at=now if finished else None,
            next_attempt_at=now,
        )


def plan(
    import_id: str,
    *,
    workspace_id: str,
    integration_id: str,
    kind: ImportKind,
    from_date: dt.date,
    to_date: dt.date | None,
    today: dt.date,
    now: dt.datetime,
    window_days: int = WINDOW_DAYS,
) -> ImportRun:
    """A new run, or why the period cannot be imported."""
    last = to_date or today
    if from_date > last:
        raise ImportRefusedError(f"the period starts ({from_date}) after it ends ({last})")
    if last > today + MARGIN:
        raise ImportRefusedError(f"the period ends in the future ({last}): nothing to import")
    if (last - from_date).days + 1 > MAX_DAYS:
        raise ImportRefusedError(f"the period is longer than {MAX_DAYS} days: import it in parts")
    return ImportRun(
        import_id=import_id,
        workspace_id=workspace_id,
        integration_id=integration_id,
        kind=kind,
        from_date=from_date,
        to_date=last,
        state="queued",
        requested_at=now,
        window_days=window_days,
        next_attempt_at=now,
    )
