"""Everhour time records as an :class:`~timebridge_providers.kit.ports.entries.EntryStore`.

One record per task, user and date (the slot key is a ``day_key``), written by task, user and
date: Everhour needs neither the record's id nor an idempotency key.
``POST`` *adds* to a record, so a create is sent only when the read found none, and a create
whose answer was lost is looked up before it is retried. An update answered ``404`` means the
record disappeared between the read and the write: ``TransientError``, decided again.

Billable is not a property of a record: a task is ``unbillable`` or not, and a project's billing
type (``non_billable``, ``hourly``, ``fixed_fee``) makes all its time unbillable or not. A read
says which of the two decided (``Observed.billable_by``); a write cannot set it per record. A
project's billing type is read once per credential and :data:`BILLING_TTL_S` (it was read once
per store, i.e. per change: the 4th request of every new entry, besides look-up, write and
read-back).

Reads of many records share requests (:class:`~timebridge_providers.kit.writes.Lists`): the
team's records of the slots' dates, in pages, answer every slot at once when a batch's writers
read together (:class:`~timebridge_providers.kit.writes.ReadGroup`).
"""

import contextlib
import datetime as dt
import time
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Hashable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager

from timebridge_common.errors import TransientError
from timebridge_common.outbound.http import NotFoundError, OutcomeUnknownError, RequestBudget
from timebridge_providers.everhour.client import (
    EverhourClient,
    Task,
    TimeRecord,
    TimeRecordLockedError,
)
from timebridge_providers.everhour.translate import last_changed, record_fields, record_values
from timebridge_providers.kit.ports.entries import (
    EntryLockedError,
    Observed,
    Slot,
    UnwritableEntryError,
    Write,
    parse_day_key,
)
from timebridge_providers.kit.session import Access
from timebridge_providers.kit.writes import shared_read

NON_BILLABLE = "non_billable"
"""The project billing type whose time is never billable, whatever its tasks say."""

BILLING_TTL_S = 300.0
"""How long a project's billing type is taken as read (it changes rarely; a read-back reports a
billable difference against it, never writes it)."""
LISTED_DAYS = 31
"""Dates one listing request covers at most (a wider batch is listed in several)."""


class _Billing:
    """Projects' billing types as one credential read them, for :data:`BILLING_TTL_S`."""

    def __init__(self, size: int = 1024) -> None:
        self._size = size
        self._known: OrderedDict[str, tuple[float, str | None]] = OrderedDict()

    def get(self, project: str) -> tuple[bool, str | None]:
        found = self._known.get(project)
        if found is None or time.monotonic() - found[0] > BILLING_TTL_S:
            return False, None
        return True, found[1]

    def put(self, project: str, billing: str | None) -> None:
        self._known[project] = (time.monotonic(), billing)
        self._known.move_to_end(project)
        while len(self._known) > self._size:
            self._known.popitem(last=False)


_BILLING: weakref.WeakKeyDictionary[RequestBudget, _Billing] = weakref.WeakKeyDictionary()
"""Per credential: its request budget is the one object every client of the key shares (the
kit's sessions), and goes with the credential."""


def billable(task: Task | None, project_billing: str | None) -> tuple[bool, str]:
    """Whether time on ``task`` is billable, and what decided it (``project`` or ``task``).

    A project of billing type ``non_billable`` bills nothing; otherwise (``hourly``,
    ``fixed_fee``, unknown) the task's ``unbillable`` decides, and a record without a task counts
    as billable, Everhour's default for a task.
    """
    if project_billing == NON_BILLABLE:
        return False, "project"
    return (not task.unbillable if task else True), "task"


class EverhourRecords:
    """Everhour time records, one per task, user and date."""

    def __init__(self, client: EverhourClient) -> None:
        self._client = client
        self._account = client.account
        self._billing = _BILLING.setdefault(client.budget, _Billing())

    @property
    def budget(self) -> RequestBudget:
        """The credential's request budget (a writer takes a grant before its lease)."""
        return self._client.budget

    @property
    def listing_key(self) -> Hashable:
        return self._account

    async def read(self, slot: Slot) -> Observed | None:
        task, user, date = _key(slot)
        group = shared_read(self)
        if group is not None:
            return await group.read(self, slot)
        record = await self._client.find_time(task, date, user)
        if record is None or record.time == 0:
            return None
        return await self._observed(record, task)

    async def read_listed(self, slots: Sequence[Slot]) -> Mapping[str, Observed | None]:
        """The records of ``slots`` from the team's records of their dates (one request per
        :data:`LISTED_DAYS` and page; a single task's records where all are on one task)."""
        keys = {slot.key: _key(slot) for slot in slots}
        tasks = {task for task, _, _ in keys.values()}
        found: dict[tuple[str, int, dt.date], TimeRecord] = {}
        for start, end in _windows(sorted({date for _, _, date in keys.values()})):
            if len(tasks) == 1:
                records = self._client.task_time(next(iter(tasks)), start, end)
            else:
                records = self._client.team_time(start, end)
            async for listed in records:
                on = listed.task.id if listed.task else next(iter(tasks))
                found[(on, listed.user, listed.date)] = listed
        answers: dict[str, Observed | None] = {}
        for key, (task, user, date) in keys.items():
            record = found.get((task, user, date))
            there = record is not None and record.time != 0
            answers[key] = await self._observed(record, task) if record and there else None
        return answers

    async def write(self, slot: Slot, write: Write) -> str | None:
        task, user, date = _key(slot)
        try:
            return await self._write(slot, write, task, user, date)
        except TimeRecordLockedError as exc:
            raise EntryLockedError(
                exc.provider, exc.method, exc.path, exc.status, exc.body
            ) from exc

    async def _write(
        self, slot: Slot, write: Write, task: str, user: int, date: dt.date
    ) -> str | None:
        if write.operation == "delete":
            with contextlib.suppress(NotFoundError):  # gone already: the read-back confirms
                await self._client.delete_time(task, date=date, user_id=user)
            return None
        assert write.desired is not None
        values = {**record_values(write.desired), "date": date, "user_id": user}
        if write.operation == "update":
            try:
                await self._client.update_time(task, **values)
            except NotFoundError as exc:
                raise TransientError("the Everhour record disappeared meanwhile") from exc
            return None
        try:
            return str((await self._client.add_time(task, **values)).id)
        except OutcomeUnknownError as exc:
            # POST adds to the record: never repeat it blindly. Look first: if the record is
            # there, the read-back judges it; if not, the POST was not applied and may be retried.
            if await self.read(slot) is None:
                raise TransientError(
                    f"{exc.reason}; the record is not there, so the create will be retried",
                    retry_after=exc.retry_after,
                ) from exc
            return None

    async def _observed(self, record: TimeRecord, task_id: str) -> Observed:
        fields = record_fields(record, task_id=task_id)
        project = fields.project_external_id
        billing = None
        if project is not None and fields.billable:  # an unbillable task needs no more
            known, billing = self._billing.get(project)
            if not known:
                found = (await self._client.project(project)).billing
                billing = found.type if found else None
                self._billing.put(project, billing)
        flag, by = billable(record.task, billing)
        fields = fields.model_copy(update={"billable": flag})
        return Observed(str(record.id), fields, last_changed(record), billable_by=by)


def _windows(dates: list[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Sorted ``dates`` as ranges of at most :data:`LISTED_DAYS` days."""
    windows: list[tuple[dt.date, dt.date]] = []
    for date in dates:
        if windows and (date - windows[-1][0]).days < LISTED_DAYS:
            windows[-1] = (windows[-1][0], date)
        else:
            windows.append((date, date))
    return windows


def _key(slot: Slot) -> tuple[str, int, dt.date]:
    """The task, user and date of a record; Everhour's user ids are integers."""
    task, user, date = parse_day_key(slot.key)
    if not user.isdigit():
        raise UnwritableEntryError(f"{user!r} is not an Everhour user id")
    return task, int(user), date


def opener(
    factory: Callable[[str, str], EverhourClient],
) -> Callable[[Access], AbstractAsyncContextManager[EverhourRecords]]:
    """Records on clients ``factory`` builds from (base URL, API key), closed after use: for
    callers that build their own clients (tests: a sandbox on fake time)."""

    @contextlib.asynccontextmanager
    async def open_records(access: Access) -> AsyncIterator[EverhourRecords]:
        async with factory(access.base_url, access.credential) as client:
            yield EverhourRecords(client)

    return open_records
