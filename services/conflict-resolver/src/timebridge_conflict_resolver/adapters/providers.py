"""The target systems through Timebridge's provider clients (Everhour time records, Core entries).

They translate between the providers' records and the product's ``TimeEntryFields`` and map the
provider answers that mean "the record changed between our read and our write" (Everhour
``404`` on an update, Core ``412``/``404``) to ``TransientError``, so the change is decided again
from a fresh read instead of being written over someone else's edit.
"""

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
from timebridge_providers.core.client import (
    CoreClient,
    ExternalRef,
    TimeEntry,
    TimeEntryWrite,
    VersionConflictError,
)
from timebridge_providers.everhour.client import EverhourClient, TimeRecord
from timebridge_providers.kit.clients import BudgetSource

from timebridge_common.errors import TransientError
from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_common.outbound.http import NotFoundError, OutcomeUnknownError
from timebridge_conflict_resolver.domain.records import (
    EVERHOUR,
    Observed,
    Slot,
    Write,
    parse_record_key,
)
from timebridge_conflict_resolver.handlers.ports import TargetSystem

EverhourFactory = Callable[[str, str], EverhourClient]
"""(base URL, API key) -> a client; tests point it at the sandbox."""

CoreFactory = Callable[[str, str], CoreClient]
"""(base URL, token) -> a client."""


def budgeted_everhour(
    budgets: BudgetSource, requests_per_10s: int, transport: httpx.AsyncBaseTransport
) -> EverhourFactory:
    """Everhour clients whose API key's requests share one budget of ``requests_per_10s``.

    Production keeps this service's share of Everhour's documented limit; a configured one is
    for an account with a raised limit, or a sandbox (the crash test writes a thousand entries
    within minutes, which 20 requests per 10 s would stretch to half an hour). At such rates a
    client per message cannot each open its own connections (and TLS context, some 50 ms of CPU
    apiece): they share ``transport``, which its owner closes.
    """

    def everhour(base_url: str, api_key: str) -> EverhourClient:
        budget = budgets.get("everhour", base_url, api_key, (requests_per_10s, 10.0))
        http = httpx.AsyncClient(transport=transport)  # not closed by the client: shared
        return EverhourClient(base_url, api_key, http=http, budget=budget)

    return everhour


class EverhourRecords:
    """Everhour time records, one per task, user and date."""

    def __init__(self, client: EverhourClient) -> None:
        self._client = client

    async def read(self, slot: Slot) -> Observed | None:
        task, user, date = parse_record_key(slot.key)
        record = await self._client.find_time(task, date, int(user))
        if record is None or record.time == 0:
            return None
        return _observed_record(record, task)

    async def write(self, slot: Slot, write: Write) -> str | None:
        """By task, user and date: Everhour needs neither the record's id nor a key."""
        task, user, date = parse_record_key(slot.key)
        desired = write.desired
        if write.operation == "delete":
            with contextlib.suppress(NotFoundError):  # gone already: the read-back confirms
                await self._client.delete_time(task, date=date, user_id=int(user))
            return None
        assert desired is not None
        values: dict[str, Any] = {
            "seconds": desired.duration_seconds,
            "date": date,
            "user_id": int(user),
            "comment": desired.notes,
        }
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


class CoreEntries:
    """Core time entries, found by id or by the ``external_ref`` they were created with."""

    def __init__(self, client: CoreClient) -> None:
        self._client = client

    async def read(self, slot: Slot) -> Observed | None:
        if slot.target_id is None:
            system, _, external_id = slot.key.partition(":")
            entry = await self._client.find_by_external_ref(system, external_id)
        else:
            try:
                entry = await self._client.time_entry(slot.target_id)
            except NotFoundError:
                return None
        if entry is None or entry.deleted_at is not None:
            return None
        return Observed(entry.id, _entry_fields(entry), entry.updated_at, entry.version)

    async def write(self, slot: Slot, write: Write) -> str | None:
        desired, current = write.desired, write.current
        try:
            if write.operation == "create":
                assert desired is not None
                system, _, external_id = slot.key.partition(":")
                ref = ExternalRef(system=system, id=external_id)
                fields = TimeEntryWrite(**_writable(desired), external_ref=ref)
                key = write.idempotency_key
                return (await self._client.create_time_entry(fields, idempotency_key=key)).id
            assert current is not None
            if write.operation == "delete":
                await self._client.delete_time_entry(current.target_id)
                return None
            assert desired is not None
            assert current.version is not None
            before = _writable(current.fields)
            changed = {k: v for k, v in _writable(desired).items() if before[k] != v}
            await self._client.update_time_entry(
                current.target_id, TimeEntryWrite(**changed), if_version=current.version
            )
        except (VersionConflictError, NotFoundError) as exc:
            raise TransientError(f"the Core entry changed meanwhile ({exc.status})") from exc
        return None


@dataclass
class ProviderTargets:
    """Opens a target system through a client of the connection's credential.

    In production the factories are ``timebridge_providers.kit.clients.ProviderClients``'s:
    every client of one credential draws from one request budget. Tests point them at sandboxes.
    """

    everhour: EverhourFactory
    core: CoreFactory

    @contextlib.asynccontextmanager
    async def target(
        self, system: str, base_url: str, credential: str
    ) -> AsyncIterator[TargetSystem]:
        if system == EVERHOUR:
            async with self.everhour(base_url, credential) as everhour:
                yield EverhourRecords(everhour)
        else:
            async with self.core(base_url, credential) as core:
                yield CoreEntries(core)


def _observed_record(record: TimeRecord, task_id: str) -> Observed:
    task = record.task
    fields = TimeEntryFields(
        user=UserRef(external_id=str(record.user)),
        project_external_id=task.projects[0] if task and task.projects else None,
        task_external_id=task.id if task else task_id,
        date=record.date,
        duration_seconds=record.time,
        notes=record.comment or "",
        billable=not task.unbillable if task else True,
    )
    changed = [h.created_at for h in record.history if h.created_at is not None]
    return Observed(str(record.id), fields, max(changed, default=None))


def _entry_fields(entry: TimeEntry) -> TimeEntryFields:
    return TimeEntryFields(
        user=UserRef(external_id=entry.user.id, email=entry.user.email, name=entry.user.name),
        project_external_id=entry.project_id,
        task_external_id=entry.ticket_id,
        date=entry.date,
        started_at=entry.started_at,
        timezone=entry.timezone,
        duration_seconds=entry.duration_seconds,
        notes=entry.notes,
        billable=entry.billable,
    )


def _writable(fields: TimeEntryFields) -> dict[str, Any]:
    return {
        "user_id": fields.user.external_id,
        "project_id": fields.project_external_id,
        "ticket_id": fields.task_external_id,
        "date": fields.date,
        "started_at": fields.started_at,
        "duration_seconds": fields.duration_seconds,
        "notes": fields.notes,
        "billable": fields.billable,
        "timezone": fields.timezone,
    }
