"""Everhour time records as an :class:`~timebridge_providers.kit.ports.entries.EntryStore`.

One record per task, user and date (the slot key is a ``day_key``), written by task, user and
date: Everhour needs neither the record's id nor an idempotency key.
``POST`` *adds* to a record, so a create is sent only when the read found none, and a create
whose answer was lost is looked up before it is retried. An update answered ``404`` means the
record disappeared between the read and the write: ``TransientError``, decided again.

Billable is not a property of a record: a task is ``unbillable`` or not, and a project's billing
type (``non_billable``, ``hourly``, ``fixed_fee``) makes all its time unbillable or not. A read
says which of the two decided (``Observed.billable_by``); a write cannot set it per record.
"""

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

from timebridge_common.errors import TransientError
from timebridge_common.outbound.http import NotFoundError, OutcomeUnknownError
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

NON_BILLABLE = "non_billable"
"""The project billing type whose time is never billable, whatever its tasks say."""


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
        self._billing: dict[str, str | None] = {}
        """Each project's billing type, read once per store (a store lives for one change)."""

    async def read(self, slot: Slot) -> Observed | None:
        task, user, date = _key(slot)
        record = await self._client.find_time(task, date, user)
        if record is None or record.time == 0:
            return None
        return await self._observed(record, task)

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
            if project not in self._billing:
                found = (await self._client.project(project)).billing
                self._billing[project] = found.type if found else None
            billing = self._billing[project]
        flag, by = billable(record.task, billing)
        fields = fields.model_copy(update={"billable": flag})
        return Observed(str(record.id), fields, last_changed(record), billable_by=by)


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
