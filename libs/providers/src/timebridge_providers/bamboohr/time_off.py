"""BambooHR time off through the kit's :class:`TimeOffSource`.

BambooHR lists requests by the days they cover, not by when they changed, and has no deletion
feed: every poll re-lists a window of days (from ``lookback`` back to a year ahead) with every
status, and keeps the requests whose status changed on or after the cursor's day. A cancelled
or denied request comes back with that status, so its days are given back downstream. The cursor
is a day one before the poll's (UTC) date, because BambooHR dates a change in the company's own
time zone: a change is seen again rather than missed, and consumers recognise a repeat by its
content. Work emails come from the employee directory, read once per poll that found changes.
"""

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from timebridge_providers.bamboohr.client import BambooHrClient
from timebridge_providers.bamboohr.wire import TimeOffRequest as WireRequest
from timebridge_providers.kit.ports.time_off import (
    TimeOffPage,
    TimeOffRequest,
    TimeOffStatus,
    TimeOffUnit,
)

AHEAD = dt.timedelta(days=366)
"""How far ahead requests are listed: time off is planned months in advance."""

_STATUSES: dict[str, TimeOffStatus] = {
    "approved": "approved",
    "requested": "requested",
    "denied": "denied",
    "canceled": "canceled",
    "cancelled": "canceled",
    "superceded": "superseded",  # BambooHR's spelling
    "superseded": "superseded",
}


def status_of(value: str) -> TimeOffStatus:
    """BambooHR's status; an unknown one counts as not approved (it takes no capacity)."""
    return _STATUSES.get(value.strip().lower(), "requested")


def unit_of(value: str) -> TimeOffUnit:
    return "hours" if value.strip().lower().startswith("hour") else "days"


def _weekdays(start: dt.date, end: dt.date) -> list[dt.date]:
    days = (start + dt.timedelta(n) for n in range((end - start).days + 1))
    return [d for d in days if d.weekday() < 5]


def per_day(request: WireRequest) -> dict[dt.date, Decimal]:
    """The amount per day: BambooHR's ``dates`` map, else the total spread over the weekdays."""
    if request.dates:
        return {day: amount for day, amount in sorted(request.dates.items()) if amount}
    days = _weekdays(request.start, request.end)
    if not days or not request.amount.amount:
        return {}
    share = (request.amount.amount / len(days)).quantize(Decimal("0.0001"))
    return dict.fromkeys(days, share)


def translate(request: WireRequest, emails: Mapping[str, str]) -> TimeOffRequest:
    return TimeOffRequest(
        external_id=request.id,
        employee_id=request.employee_id,
        email=emails.get(request.employee_id),
        name=request.name,
        start=request.start,
        end=request.end,
        status=status_of(request.status.status),
        type_name=request.type.name,
        unit=unit_of(request.amount.unit),
        amount=request.amount.amount,
        days=per_day(request),
        changed_on=request.status.last_changed or request.created,
    )


def _since(cursor: str | None) -> dt.date | None:
    if not cursor:
        return None
    try:
        return dt.date.fromisoformat(cursor)
    except ValueError:
        return None  # not a cursor of ours: list everything again (repeats are harmless)


class BambooHrTimeOff:
    def __init__(self, client: BambooHrClient) -> None:
        self._client = client

    async def changes(
        self, cursor: str | None, *, now: dt.datetime, lookback: dt.timedelta
    ) -> TimeOffPage:
        today = now.astimezone(dt.UTC).date()
        since = _since(cursor)
        listed = await self._client.time_off_requests(today - lookback, today + AHEAD)
        changed = [
            r
            for r in listed
            if since is None or (r.status.last_changed or r.created or today) >= since
        ]
        emails: dict[str, str] = {}
        if changed:
            directory = await self._client.directory()
            emails = {e.id: e.work_email for e in directory.employees if e.work_email}
        return TimeOffPage(
            tuple(translate(r, emails) for r in changed),
            cursor=(today - dt.timedelta(days=1)).isoformat(),
        )
