"""The order in which a tracker carries out one planned :class:`~.ports.entries.Write`, said once.

Nothing to do is nothing; a delete removes the record the slot or the last read names (none
known: nothing to delete); an update changes that record; anything else creates one, and the
provider's ``create`` looks a lost earlier create up before sending it again (its answer may have
been lost after the provider applied it). Each package gives the three provider-specific steps;
what a step refuses (a move to another user or task, locked time) stays in the package.

Where a provider lists its records in pages, the reads of many writers share requests
(:class:`ReadGroup`; :class:`Lists` by slot, :class:`ListsDays` by a user's dates), and a writer
takes its first request's budget grant before it takes a write lease (:func:`prepaid`).
"""

import asyncio
import contextlib
import contextvars
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, runtime_checkable

from timebridge_common.events import TimeEntryFields
from timebridge_common.outbound.http import NotFoundError, RequestBudget
from timebridge_providers.kit.ports.entries import Observed, Slot, Write


async def carry_out(
    slot: Slot,
    write: Write,
    *,
    delete: Callable[[str], Awaitable[object]],
    update: Callable[[str, TimeEntryFields, Observed | None], Awaitable[object]],
    create: Callable[[TimeEntryFields], Awaitable[str]],
) -> str | None:
    """Run ``write`` on ``slot``; the id of a record created (or found), else ``None``."""
    if write.operation == "none":
        return None
    target = slot.target_id or (write.current.target_id if write.current else None)
    if write.operation == "delete":
        if target is not None:
            await delete(target)
        return None
    if write.desired is None:
        raise ValueError(f"a {write.operation} needs desired fields")
    if write.operation == "update" and target is not None:
        await update(target, write.desired, write.current)
        return None
    return await create(write.desired)


async def deleted(request: Awaitable[object]) -> bool:
    """A DELETE's outcome: ``True`` when it removed the record, ``False`` when the provider says
    it was already gone (404), which a retried delete or a race with a person makes ordinary."""
    try:
        await request
    except NotFoundError:
        return False
    return True


# Shared look-ups and read-backs (issue 12) -------------------------------------------------


@runtime_checkable
class Lists(Protocol):
    """A store whose records of many slots one listing reads (a provider that lists a task's or
    the team's records for a date range in pages: Everhour's ``/team/time``).

    ``listing_key`` says which stores' reads one listing may answer (one account and credential).
    ``read_listed`` answers every slot it was given (``None``: no such record), each as
    ``read(slot)`` would have, from requests sent after it was called.
    """

    @property
    def listing_key(self) -> Hashable: ...

    async def read_listed(self, slots: Sequence[Slot]) -> Mapping[str, Observed | None]: ...


Day = tuple[str, dt.date]
"""A user's date (the user's id in the provider, the entry's own date): what a
:class:`ListsDays` store lists."""


@runtime_checkable
class ListsDays(Protocol):
    """A store whose records one listing of users' dates reads, in pages (Harvest's
    ``/v2/time_entries?from&to``, Toggl's ``/me/time_entries?start_date&end_date``, Clockify's
    ``/user/{id}/time-entries?start&end``): where nothing but an id or the content names a
    record, a writer's look-up (a lost create) and read-back pick their record from its day.

    ``list_days`` answers every day it was given with the records it listed for it (all pages
    read; a window padded so that any zone's date is in it), from requests sent after it was
    called. A record not among them is not taken as gone: it is asked for by id (it may have
    moved to another date, or belong to a member the listing does not show).
    """

    @property
    def listing_key(self) -> Hashable: ...

    async def list_days(self, days: Sequence[Day]) -> Mapping[Hashable, Sequence[Any]]: ...


_GROUP: contextvars.ContextVar["ReadGroup | None"] = contextvars.ContextVar(
    "timebridge_read_group", default=None
)


class ReadGroup:
    """The writers of one credential that share their look-ups and read-backs: a batch's lanes.

    Each writer is a *member* while it works (:meth:`member`); a read of a store that
    :class:`Lists` joins the group's next listing, which is sent once every member waits on a
    read (or after ``patience_s``, should a member be held up elsewhere): N writers then cost
    one listing to look their records up and one to read their writes back, not 2N reads. A read
    joins only a listing not yet sent, so a read-back is always answered by a request sent after
    its write: a write is still confirmed by reading it back, and a lost create is still looked
    up before it is retried. ``idle`` (while a member waits) lets the caller hand its
    concurrency slot to another writer meanwhile.
    """

    def __init__(
        self,
        *,
        patience_s: float = 30.0,
        idle: Callable[[], AbstractAsyncContextManager[object]] | None = None,
    ) -> None:
        self.patience_s = patience_s
        self._idle = idle or contextlib.nullcontext
        self._members = 0
        self._waiting = 0
        self._queued: dict[Hashable, _Listing] = {}
        self._sending: set[asyncio.Task[None]] = set()
        self._checking = False
        self.listings = 0
        """How many listings were sent (tests, benches)."""

    @contextlib.asynccontextmanager
    async def member(self) -> AsyncIterator[None]:
        """Count the caller as a writer of the group while the block runs."""
        token = _GROUP.set(self)
        self._members += 1
        try:
            yield
        finally:
            self._members -= 1
            _GROUP.reset(token)
            self._check_soon()

    async def read(self, store: Lists, slot: Slot) -> Observed | None:
        """``slot``'s record, from the next listing of ``store``'s records."""
        key = ("slots", store.listing_key)
        listing = self._queued.get(key)
        if listing is None:
            listing = self._queued[key] = _Listing(store.read_listed, None)
        found: Observed | None = await self._wait(key, listing.add(slot.key, slot))
        return found

    async def listed(self, store: ListsDays, day: Day) -> Sequence[Any]:
        """Every record of ``store`` on ``day`` (a user's date, padded as the store lists it),
        from the next listing of ``store``'s days; the caller picks its own among them."""
        key = ("days", store.listing_key)
        listing = self._queued.get(key)
        if listing is None:
            listing = self._queued[key] = _Listing(store.list_days, ())
        found: Sequence[Any] = await self._wait(key, listing.add(day, day))
        return found

    async def _wait(self, key: Hashable, answer: asyncio.Future[Any]) -> Any:
        async with self._idle():
            self._waiting += 1
            try:
                self._check_soon()
                done, _ = await asyncio.wait({answer}, timeout=self.patience_s)
                if not done:
                    self._send(key)
                return await answer
            finally:  # answered: busy again, even while it waits to get its slot back
                self._waiting -= 1

    def _check_soon(self) -> None:
        """Whether every member waits, decided once the writers already scheduled ran (they
        may be about to join, or to read)."""
        if not self._checking:
            self._checking = True
            asyncio.get_running_loop().call_soon(self._send_if_all_wait)

    def _send_if_all_wait(self) -> None:
        self._checking = False
        if self._queued and self._waiting >= self._members:
            for key in list(self._queued):
                self._send(key)

    def _send(self, key: Hashable) -> None:
        listing = self._queued.pop(key, None)
        if listing is None:
            return
        self.listings += 1
        # A fresh context: the listing must not spend a grant a member prepaid for its own.
        task = asyncio.get_running_loop().create_task(listing.send(), context=contextvars.Context())
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)


class _Listing:
    """What one listing will read (slots, or days) and who waits for each answer."""

    def __init__(
        self, send: Callable[[list[Any]], Awaitable[Mapping[Any, Any]]], missing: Any
    ) -> None:
        self._send = send
        self._missing = missing
        self.waiting: dict[Hashable, list[asyncio.Future[Any]]] = {}
        self.items: dict[Hashable, Any] = {}

    def add(self, key: Hashable, item: Any) -> asyncio.Future[Any]:
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.items.setdefault(key, item)
        self.waiting.setdefault(key, []).append(answer)
        return answer

    async def send(self) -> None:
        try:
            found = await self._send(list(self.items.values()))
        except Exception as exc:  # every reader of this listing gets the failure
            for answers in self.waiting.values():
                for answer in answers:
                    if not answer.done():
                        answer.set_exception(exc)
            return
        except BaseException:
            for answers in self.waiting.values():
                for answer in answers:
                    answer.cancel()
            raise
        for key, answers in self.waiting.items():
            for answer in answers:
                if not answer.done():
                    answer.set_result(found.get(key, self._missing))


def shared_read(store: object) -> ReadGroup | None:
    """The group ``store``'s reads are shared in now, if any (a :class:`Lists` or
    :class:`ListsDays` store, called by a member of a :class:`ReadGroup`)."""
    group = _GROUP.get()
    return group if group is not None and isinstance(store, Lists | ListsDays) else None


def prepaid(store: object) -> AbstractAsyncContextManager[None]:
    """Take the grant of ``store``'s next request before the block (a write lease: a writer
    must not hold one while it waits for the provider's budget), spent by its first request.

    Nothing when the store has no budget of its own to take from (a fake) or its reads are
    shared (the listing takes its own grant when it is sent; one held meanwhile would be spent
    late, bunched with newer ones).
    """
    budget = getattr(store, "budget", None)
    if not isinstance(budget, RequestBudget) or shared_read(store) is not None:
        return contextlib.nullcontext()
    return budget.prepaid()
