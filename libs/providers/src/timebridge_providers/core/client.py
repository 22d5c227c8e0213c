"""Core REST API client, per the contract in docs/contracts/core.md.

Core is the host work system, so unlike the trackers its contract is ours to state; what this
client relies on is exactly what the contract promises: cursor pagination, ``Idempotency-Key`` on
creates (so a create may be repeated after an unknown outcome), ``If-Match`` on updates (a
concurrent edit is a :class:`VersionConflictError`, never a lost update), ``423`` for locked
entries, and ``external_ref`` lookups.
"""

import datetime as dt
from collections.abc import AsyncIterator, Mapping
from typing import Any, Generic, Literal, TypeVar, Unpack

import httpx
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from timebridge_common.events.base import IanaTimezone, UtcDatetime
from timebridge_common.outbound.http import ProviderClient, ProviderError
from timebridge_providers.kit.plumbing import ClientOptions, Wire, bearer
from timebridge_providers.kit.writes import deleted

T = TypeVar("T")

RATE_LIMIT = (10, 1.0)
"""Requests per second Core allows one token."""
_WIRE = Wire("core", RATE_LIMIT)
PAGE_LIMIT = 200


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class CoreUser(_Model):
    id: str
    email: str | None = None
    name: str | None = None
    active: bool = True
    role: Literal["admin", "member"] = "member"


class Me(_Model):
    workspace_id: str
    user: CoreUser


class CoreProject(_Model):
    id: str
    name: str
    archived: bool = False


class Ticket(_Model):
    id: str
    project_id: str | None = None
    title: str
    description: str = ""
    status: str | None = None
    url: str | None = None
    updated_at: UtcDatetime


class ExternalRef(_Model):
    system: str
    id: str


class UserRef(_Model):
    id: str
    email: str | None = None
    name: str | None = None


class TimeEntry(_Model):
    id: str
    user: UserRef
    project_id: str | None = None
    ticket_id: str | None = None
    date: dt.date
    started_at: UtcDatetime | None = None
    duration_seconds: int = Field(ge=0)
    notes: str = ""
    billable: bool = True
    timezone: IanaTimezone = "UTC"
    updated_at: UtcDatetime
    version: int
    locked: bool = False
    external_ref: ExternalRef | None = None
    deleted_at: UtcDatetime | None = None


class TimeEntryWrite(_Model):
    """The writable fields of a time entry; only the fields given are sent.

    A field given as ``None`` is sent as ``null``: on update that clears ``project_id``,
    ``ticket_id``, ``started_at`` or ``external_ref`` (Core refuses it for the other fields).
    """

    user_id: str | None = None
    project_id: str | None = None
    ticket_id: str | None = None
    date: dt.date | None = None
    started_at: UtcDatetime | None = None
    duration_seconds: int | None = Field(default=None, ge=0)
    notes: str | None = None
    billable: bool | None = None
    timezone: IanaTimezone | None = None
    external_ref: ExternalRef | None = None


class VersionConflictError(ProviderError):
    """``412``: the entry changed since the version the update was based on."""


class EntryLockedError(ProviderError):
    """``423``: the entry is invoiced or approved in Core and cannot change."""


_ME = TypeAdapter(Me)
_ENTRY = TypeAdapter(TimeEntry)
_TICKET = TypeAdapter(Ticket)


class _Page(_Model, Generic[T]):
    data: list[T]
    next_cursor: str | None = None


class CoreClient(ProviderClient):
    """One workspace's Core API token; every method returns models or raises."""

    def __init__(self, base_url: str, token: str, **options: Unpack[ClientOptions]) -> None:
        self._http = _WIRE.http(base_url, bearer(token), options)

    async def me(self) -> Me:
        """The token's workspace and user: the connection test and the admin check."""
        return self._http.parse(await self._http.request("GET", "/me"), _ME)

    def users(self) -> AsyncIterator[CoreUser]:
        return self._pages("/users", CoreUser)

    def projects(self) -> AsyncIterator[CoreProject]:
        return self._pages("/projects", CoreProject)

    def tickets(
        self, *, project_id: str | None = None, updated_since: dt.datetime | None = None
    ) -> AsyncIterator[Ticket]:
        params: dict[str, str | int] = {}
        if project_id is not None:
            params["project_id"] = project_id
        if updated_since is not None:
            params["updated_since"] = updated_since.isoformat()
        return self._pages("/tickets", Ticket, params)

    async def ticket(self, ticket_id: str) -> Ticket:
        return self._http.parse(await self._http.request("GET", f"/tickets/{ticket_id}"), _TICKET)

    def time_entries(
        self, *, updated_since: dt.datetime | None = None, include_deleted: bool = True
    ) -> AsyncIterator[TimeEntry]:
        """Entries changed since ``updated_since``, oldest change first (polling)."""
        params: dict[str, str | int] = {"include_deleted": str(include_deleted).lower()}
        if updated_since is not None:
            params["updated_since"] = updated_since.isoformat()
        return self._pages("/time-entries", TimeEntry, params)

    async def time_entry(self, entry_id: str) -> TimeEntry:
        response = await self._http.request("GET", f"/time-entries/{entry_id}")
        return self._http.parse(response, _ENTRY)

    async def find_by_external_ref(self, system: str, external_id: str) -> TimeEntry | None:
        """The entry an integration created for ``system``'s ``external_id``, if any."""
        params = {"external_system": system, "external_id": external_id, "include_deleted": "true"}
        async for entry in self._pages("/time-entries", TimeEntry, params):
            return entry
        return None

    async def create_time_entry(self, fields: TimeEntryWrite, *, idempotency_key: str) -> TimeEntry:
        """Create an entry; safe to repeat with the same key (Core answers the first result)."""
        response = await self._http.request(
            "POST",
            "/time-entries",
            json=fields.model_dump(mode="json", exclude_unset=True),
            headers={"Idempotency-Key": idempotency_key},
            idempotent=True,
        )
        return self._http.parse(response, _ENTRY)

    async def update_time_entry(
        self, entry_id: str, fields: TimeEntryWrite, *, if_version: int
    ) -> TimeEntry:
        response = await self._write(
            "PATCH",
            f"/time-entries/{entry_id}",
            json=fields.model_dump(mode="json", exclude_unset=True),
            headers={"If-Match": str(if_version)},
        )
        return self._http.parse(response, _ENTRY)

    async def delete_time_entry(self, entry_id: str) -> None:
        """Delete; an entry already gone counts as deleted."""
        await deleted(self._write("DELETE", f"/time-entries/{entry_id}"))

    async def _write(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        try:
            return await self._http.request(method, path, json=json, headers=headers)
        except ProviderError as exc:
            refined = {412: VersionConflictError, 423: EntryLockedError}.get(exc.status)
            if refined is None:
                raise
            raise refined(exc.provider, exc.method, exc.path, exc.status, exc.body) from exc

    async def _pages(
        self, path: str, model: type[T], params: Mapping[str, str | int] | None = None
    ) -> AsyncIterator[T]:
        adapter = TypeAdapter(_Page[model])  # type: ignore[valid-type]
        query: dict[str, str | int] = {**(params or {}), "limit": PAGE_LIMIT}
        while True:
            page = self._http.parse(await self._http.request("GET", path, params=query), adapter)
            for item in page.data:
                yield item
            if page.next_cursor is None:
                return
            query["cursor"] = page.next_cursor
