"""A provider's time entries read by listing a user's dates (:class:`~.writes.ListsDays`): the
days of many writers in few requests, and what each writer picks from them.

A provider whose records carry nothing but an id (Toggl, Clockify) or a reference its listing
cannot ask for many of at once (Harvest) is read back, and its lost creates looked up, in the
day the record was written for. The provider gives :func:`list_days` its request for one user's
date window (all pages read); a writer picks its record by id (:func:`picked`), or one it would
create by content, from the answer. A record the listing did not show is asked for by id: a
listing proves a record is there, its absence proves nothing (the record may have moved to
another date since it was written). Which day an id was last written or seen on is kept per
credential (:class:`Days`), so a read-back of a record written by another capability of the
key also finds it in a listing.
"""

import asyncio
import datetime as dt
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterable, Awaitable, Callable, Hashable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from timebridge_common.outbound.http import RequestBudget
from timebridge_providers.kit.writes import Day, ListsDays, shared_read

R = TypeVar("R")

LISTED_DAYS = 31
"""Dates one listing request covers at most (a wider set of days is listed in several)."""
PAD = dt.timedelta(days=1)
"""How far a listing's window reaches past its dates: an entry's date is its user's local
date, a window in UTC must hold it whatever the zone."""


def windows(days: Sequence[Day], most: int = LISTED_DAYS) -> list[tuple[str, dt.date, dt.date]]:
    """Per user, its dates as ranges of at most ``most`` days (first and last inclusive)."""
    found: list[tuple[str, dt.date, dt.date]] = []
    for user in sorted({user for user, _ in days}):
        dates = sorted({date for who, date in days if who == user})
        first = last = dates[0]
        for date in dates[1:]:
            if (date - first).days >= most:
                found.append((user, first, last))
                first = date
            last = date
        found.append((user, first, last))
    return found


async def list_days(
    days: Sequence[Day],
    fetch: Callable[[str, dt.date, dt.date], AsyncIterable[R]],
    most: int = LISTED_DAYS,
) -> dict[Hashable, list[R]]:
    """Each day's records: ``fetch(user, first, last)`` per window (every page of it; the
    provider pads the window as its dates need), answering every day in the window."""
    answers: dict[Hashable, list[R]] = {}
    for user, first, last in windows(days, most):
        records = [record async for record in fetch(user, first, last)]
        for day in days:
            if day[0] == user and first <= day[1] <= last:
                answers[day] = records
    return answers


class ListingClient(Protocol):
    """What a store's listing needs of its provider client."""

    @property
    def budget(self) -> RequestBudget: ...

    @property
    def identity(self) -> str: ...


class ListedDays:
    """The listing half of a :class:`~.writes.ListsDays` store, the same for every provider:
    the key's budget (a writer takes a grant before its lease), the key listings are shared
    under, and :func:`list_days` over the provider's own ``_window`` request."""

    _client: ListingClient

    @property
    def budget(self) -> RequestBudget:
        return self._client.budget

    @property
    def listing_key(self) -> Hashable:
        return self._client.identity

    async def list_days(self, days: Sequence[Day]) -> Mapping[Hashable, Sequence[Any]]:
        return await list_days(days, self._window)

    def _window(self, user: str, first: dt.date, last: dt.date) -> AsyncIterable[Any]:
        """One user's records in a date window, every page (padded as the provider's dates
        need)."""
        raise NotImplementedError


class Days:
    """Which day each record id was last written or seen on, for one credential (bounded)."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._known: OrderedDict[str, Day] = OrderedDict()

    def get(self, record: str) -> Day | None:
        return self._known.get(record)

    def put(self, record: str, day: Day) -> None:
        self._known[record] = day
        self._known.move_to_end(record)
        while len(self._known) > self._size:
            self._known.popitem(last=False)


_DAYS: weakref.WeakKeyDictionary[RequestBudget, Days] = weakref.WeakKeyDictionary()
_KEPT: weakref.WeakKeyDictionary[RequestBudget, dict[Hashable, tuple[float, Any]]] = (
    weakref.WeakKeyDictionary()
)
KEPT_S = 300.0
"""How long what :func:`kept` read (a user's zone, the account's settings) is taken as read."""


async def kept(
    budget: RequestBudget, key: Hashable, read: Callable[[], Awaitable[R]], *, again: bool = False
) -> R:
    """``read()``'s answer, kept per credential for :data:`KEPT_S` (a capability is opened per
    change: without this, every change read its user and the account's settings again);
    ``again``: read it now (what was kept lacks something asked for). Callers at once share
    one read (a batch's writers start together); a failed read is not kept."""
    known = _KEPT.setdefault(budget, {})
    found = known.get(key)
    if (
        found is None
        or again
        or time.monotonic() - found[0] >= KEPT_S
        or found[1].get_loop() is not asyncio.get_running_loop()  # an earlier loop's (tests)
    ):
        if len(known) >= 4096:
            known.clear()
        found = known[key] = (time.monotonic(), asyncio.ensure_future(read()))
    reading: asyncio.Future[R] = found[1]
    try:
        return await asyncio.shield(reading)
    except Exception:
        if known.get(key) is found:
            del known[key]
        raise


def days_of(budget: RequestBudget) -> Days:
    """The credential's :class:`Days` (its request budget is the one object every capability
    of the key shares, and goes with it)."""
    return _DAYS.setdefault(budget, Days())


async def picked(
    store: ListsDays,
    record: str,
    day: Day | None,
    *,
    id_of: Callable[[Any], str],
    by_id: Callable[[], Awaitable[R | None]],
) -> R | None:
    """Record ``record``: from its day's shared listing where ``store`` reads in a group and its
    day is known, else (or when the listing does not show it) asked for by id."""
    group = shared_read(store)
    if group is not None and day is not None:
        for listed in await group.listed(store, day):
            if id_of(listed) == record:
                found: R = listed
                return found
    return await by_id()


async def around(
    store: ListsDays, day: Day, alone: Callable[[], Awaitable[Sequence[R]]]
) -> Sequence[R]:
    """The records a create looks among for one it would make (a lost create): ``day``'s
    shared listing where ``store`` reads in a group, else the provider's own narrow look-up."""
    group = shared_read(store)
    if group is None:
        return await alone()
    found: Sequence[R] = await group.listed(store, day)
    return found
