"""Time off from an HR system: who is away, which days, how much, and whether it stands.

Reporting subtracts approved time off from a person's capacity; an HR source is read-only and
holds no time entries, so this is its only capability besides the connection test. A request is
reported in full each time it changes, including when it is cancelled or denied: the consumer
keeps the latest state, so a cancellation gives the capacity back.
"""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, Protocol

TimeOffStatus = Literal["requested", "approved", "denied", "canceled", "superseded"]
"""``approved`` is the only status that takes capacity away; the others keep or give it back."""

TimeOffUnit = Literal["hours", "days"]
"""How the HR system counts a request: hours, or (fractions of) working days."""


@dataclass(frozen=True, slots=True)
class TimeOffRequest:
    """One time-off request as it stands now."""

    external_id: str
    employee_id: str
    email: str | None
    """The employee's work email: how the request is matched to a Timebridge user."""
    name: str | None
    start: dt.date
    end: dt.date
    status: TimeOffStatus
    type_name: str
    """The HR system's name for the kind of absence (Vacation, Sick, ...)."""
    unit: TimeOffUnit
    amount: Decimal
    """The request's total in ``unit``."""
    days: Mapping[dt.date, Decimal] = field(default_factory=dict)
    """The amount per day in ``unit`` (days off that count nothing are absent or zero)."""
    changed_on: dt.date | None = None
    """When the status last changed, in the HR system's own calendar."""


@dataclass(frozen=True, slots=True)
class TimeOffPage:
    """What changed since the cursor, and the cursor to ask with next time."""

    requests: tuple[TimeOffRequest, ...]
    cursor: str


class TimeOffSource(Protocol):
    """An HR system's time off, polled with a cursor the source defines."""

    async def changes(
        self, cursor: str | None, *, now: dt.datetime, lookback: dt.timedelta
    ) -> TimeOffPage:
        """Requests changed since ``cursor`` (``None``: every request), covering at least the
        days from ``now - lookback`` on. A request may be returned again after it was seen:
        consumers recognise it by its content."""
        ...
