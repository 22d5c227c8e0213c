"""Xero Projects client (``https://api.xero.com/projects.xro/2.0``): the calls Timebridge makes.

What each fact rests on (S = Xero's OpenAPI description ``xero-projects.yaml``; V = Xero's
developer documentation; A = assumed where both are silent):

- S OAuth 2.0 bearer tokens (scopes ``projects``/``projects.read``) and the ``Xero-Tenant-Id``
  header on every call. V Refresh tokens rotate: the credential owner refreshes them through
  Xero's identity token endpoint (the ``xero`` package's description, reused).
- S ``GET /Projects/{projectId}/Time?dateAfterUtc&dateBeforeUtc&page&pageSize`` (pages of at most
  500), ``POST`` (answers ``200`` with the entry), ``PUT``/``DELETE .../Time/{timeEntryId}``
  (``204``), ``Idempotency-Key`` on writes. No change feed: see :mod:`.observe`.
- S ``GET /ProjectsUsers``, ``/Projects`` and ``/Projects/{id}/Tasks`` for the directory.
- S Errors are ``400`` with ``{"message", "modelState"}``. A A change of an invoiced or locked
  entry is such a ``400`` whose message says so: :class:`EntryLockedError`.
- V Limits: 60 calls a minute and 5,000 a day per tenant, 5 at a time; ``429`` with
  ``Retry-After`` (and ``X-Rate-Limit-Problem``: ``minute``/``day``).
"""

import base64
import datetime as dt
import hashlib
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any, TypeVar, Unpack

import httpx
from pydantic import TypeAdapter

from timebridge_common.outbound.http import RequestBudget
from timebridge_providers.kit.locks import LockRefusals
from timebridge_providers.kit.plumbing import ClientOptions, JsonClient, Wire, bearer, found
from timebridge_providers.kit.writes import deleted
from timebridge_providers.xero_projects.wire import (
    PAGE_SIZE,
    RATE_LIMIT,
    TENANT_HEADER,
    Project,
    Projects,
    ProjectUser,
    ProjectUsers,
    Task,
    Tasks,
    TimeEntries,
    TimeEntry,
)

_WIRE = Wire("xero_projects", RATE_LIMIT)

_LOCKS = LockRefusals({400, 409}, "invoiced|locked")
P = TypeVar("P", ProjectUsers, Projects, Tasks, TimeEntries)


def idempotency_key(key: str) -> str:
    """An ``Idempotency-Key`` for a write decided under ``key`` (Xero allows 128 characters)."""
    return hashlib.sha256(key.encode()).hexdigest()


def token_user(token: str) -> str | None:
    """The ``xero_userid`` claim of a Xero access token (a JWT); read, not verified: the API
    call that accepted the token is what proves it."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    user = claims.get("xero_userid") if isinstance(claims, dict) else None
    return user if isinstance(user, str) else None


class XeroProjectsClient(JsonClient):
    """One organisation's projects: an access token and a tenant id.

    Errors: ``AuthenticationError``, ``NotFoundError``, :class:`EntryLockedError`, other
    ``ProviderError`` refusals, ``TransientError`` (every write carries an ``Idempotency-Key``,
    so a lost answer is repeated, never left unknown).
    """

    def __init__(
        self, base_url: str, token: str, tenant_id: str, **options: Unpack[ClientOptions]
    ) -> None:
        self.tenant_id = tenant_id
        headers = {**bearer(token), TENANT_HEADER: tenant_id, "Accept": "application/json"}
        self._http = _WIRE.http(base_url, headers, options)
        self.identity = hashlib.sha256(f"{base_url}|{token}|{tenant_id}".encode()).hexdigest()
        """Names the token and organisation (listings are shared under it), never the token."""

    @property
    def budget(self) -> RequestBudget:
        """The token's request budget, shared by every client of the token."""
        return self._http.budget

    async def users(self) -> list[ProjectUser]:
        return [u async for page in self._pages("/ProjectsUsers", ProjectUsers) for u in page.items]

    async def first_users(self) -> ProjectUsers:
        """One page of the organisation's project users: the "test connection" call."""
        return await self._get(
            "/ProjectsUsers", TypeAdapter(ProjectUsers), {"page": 1, "pageSize": PAGE_SIZE}
        )

    async def projects(self) -> AsyncIterator[Project]:
        async for page in self._pages("/Projects", Projects):
            for project in page.items:
                yield project

    async def project(self, project_id: str) -> Project:
        return await self._get(f"/Projects/{project_id}", TypeAdapter(Project))

    async def tasks(self, project_id: str) -> list[Task]:
        path = f"/Projects/{project_id}/Tasks"
        return [t async for page in self._pages(path, Tasks) for t in page.items]

    async def task(self, project_id: str, task_id: str) -> Task:
        return await self._get(f"/Projects/{project_id}/Tasks/{task_id}", TypeAdapter(Task))

    async def create_task(self, project_id: str, name: str, currency: str, key: str) -> Task:
        """A task charged by time at a zero rate (the rate is the admin's to set in Xero)."""
        body = {"name": name, "rate": {"currency": currency, "value": 0}, "chargeType": "TIME"}
        response = await self._write("POST", f"/Projects/{project_id}/Tasks", body, key)
        return self._http.parse(response, TypeAdapter(Task))

    async def time_entries(
        self,
        project_id: str,
        *,
        after: dt.datetime | None = None,
        before: dt.datetime | None = None,
        user_id: str | None = None,
    ) -> AsyncIterator[TimeEntry]:
        """The project's entries logged after ``after`` and before ``before`` (UTC)."""
        params: dict[str, str | int] = {}
        if after is not None:
            params["dateAfterUtc"] = _utc(after)
        if before is not None:
            params["dateBeforeUtc"] = _utc(before)
        if user_id is not None:
            params["userId"] = user_id
        async for page in self._pages(f"/Projects/{project_id}/Time", TimeEntries, params):
            for entry in page.items:
                yield entry

    async def time_entry(self, project_id: str, entry_id: str) -> TimeEntry | None:
        return await found(self._get(f"/Projects/{project_id}/Time/{entry_id}", _ENTRY))

    async def create_time_entry(
        self, project_id: str, body: Mapping[str, Any], key: str
    ) -> TimeEntry:
        response = await self._write("POST", f"/Projects/{project_id}/Time", body, key)
        return self._http.parse(response, _ENTRY)

    async def update_time_entry(
        self, project_id: str, entry_id: str, body: Mapping[str, Any], key: str
    ) -> None:
        await self._write("PUT", f"/Projects/{project_id}/Time/{entry_id}", body, key)

    async def delete_time_entry(self, project_id: str, entry_id: str) -> bool:
        """Delete an entry; ``False`` when it was already gone."""
        return await deleted(
            self._write("DELETE", f"/Projects/{project_id}/Time/{entry_id}", None, None)
        )

    async def _pages(
        self, path: str, adapter: type[P], params: Mapping[str, str | int] | None = None
    ) -> AsyncIterator[P]:
        page = 1
        typed = TypeAdapter(adapter)
        while True:
            found = await self._get(
                path, typed, {**(params or {}), "page": page, "pageSize": PAGE_SIZE}
            )
            yield found
            if not found.items or page >= found.pagination.page_count:
                return
            page += 1

    async def _write(
        self, method: str, path: str, body: Mapping[str, Any] | None, key: str | None
    ) -> httpx.Response:
        headers = {"Idempotency-Key": idempotency_key(key)} if key else None
        with _LOCKS.raised():
            return await self._http.request(
                method, path, json=body, headers=headers, idempotent=True
            )

    async def aclose(self) -> None:
        await self._http.aclose()


_ENTRY = TypeAdapter(TimeEntry)


def _utc(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
