"""Harvest API v2 client: the calls Timebridge makes, through the shared outbound HTTP layer.

What each fact rests on (V = Harvest's documentation, help.getharvest.com/api-v2, and the OpenAPI
text generated from it; A = assumed where the documentation is silent):

- V Base URL ``https://api.harvestapp.com/v2``; every request carries ``Authorization: Bearer
  <personal access token>`` and ``Harvest-Account-Id: <account id>``, and a ``User-Agent`` naming
  the application and a contact.
- V Rate limit: 100 requests per 15 seconds per token (reports: 100 per 15 minutes - Timebridge
  asks for one summary per reconciliation); ``429`` with ``Retry-After`` in seconds.
- V Lists are objects (``time_entries``, ``users``, ...) with ``links.next`` (an absolute URL,
  null on the last page); ``per_page`` 1-2000 (default 2000 for time entries and 100 elsewhere).
  The client follows ``links.next`` only on the host it was configured with, so a link elsewhere
  never receives the token.
- V ``GET /time_entries`` filters by ``user_id``, ``project_id``, ``task_id``,
  ``external_reference_id``, ``is_billed``, ``is_running``, ``updated_since`` (ISO 8601),
  ``from``/``to`` (spent dates, inclusive); ``POST /time_entries`` creates via duration
  (``hours``) or via start and end time (``started_time``/``ended_time``) depending on the
  company's ``wants_timestamp_timers`` (``GET /company``); ``PATCH`` updates; ``DELETE`` deletes
  (hard: nothing marks a deleted entry afterwards).
- V Errors: ``401`` with ``{"error", "error_description"}`` for a bad token, ``403`` when the
  user may not do it, ``404``, ``422`` with ``{"message"}`` for invalid or locked data, ``429``,
  ``5xx``. A A locked (approved, invoiced, closed) entry's write is refused with ``422`` or
  ``403`` whose message says so; this client raises :class:`EntryLockedError`.
"""

import datetime as dt
import hashlib
from collections.abc import AsyncIterator, Mapping
from typing import Any, TypeVar, Unpack

import httpx
from pydantic import TypeAdapter

from timebridge_common.outbound.http import ProviderError, RequestBudget
from timebridge_providers.harvest.wire import (
    Company,
    Project,
    Task,
    TaskAssignment,
    TimeEntry,
    TimeReportRow,
    User,
)
from timebridge_providers.kit.locks import LockRefusals
from timebridge_providers.kit.plumbing import ClientOptions, LockingClient, Wire, bearer, found
from timebridge_providers.kit.writes import deleted

HARVEST_API_URL = "https://api.harvestapp.com/v2"
RATE_LIMIT = (100, 15.0)
"""Requests per seconds Harvest allows one token."""
_WIRE = Wire("harvest", RATE_LIMIT)
ACCOUNT_HEADER = "Harvest-Account-Id"
USER_AGENT = "Timebridge (https://github.com/timebridge)"
PAGE_SIZE = 2000
"""Harvest's largest ``per_page``."""

_LOCKS = LockRefusals({403, 422, 423}, "lock|approv|invoic|closed|billed")

T = TypeVar("T")

_COMPANY = TypeAdapter(Company)
_USER = TypeAdapter(User)
_ENTRY = TypeAdapter(TimeEntry)
_PROJECT = TypeAdapter(Project)
_TASK = TypeAdapter(Task)
_LISTS: dict[type[Any], TypeAdapter[Any]] = {}


def _list_adapter(model: type[T]) -> TypeAdapter[list[T]]:
    adapter = _LISTS.get(model)
    if adapter is None:
        adapter = _LISTS[model] = TypeAdapter(list[model])  # type: ignore[valid-type]
    return adapter


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class HarvestClient(LockingClient):
    """One Harvest connection (a token and an account id); every method returns models or raises.

    Errors: :class:`~timebridge_common.outbound.http.AuthenticationError`,
    :class:`~timebridge_common.outbound.http.NotFoundError`, :class:`EntryLockedError`, other
    :class:`~timebridge_common.outbound.http.ProviderError` refusals,
    :class:`~timebridge_common.outbound.http.OutcomeUnknownError` when a POST may have been
    applied, :class:`~timebridge_common.errors.TransientError` otherwise.
    """

    _locks = _LOCKS

    def __init__(
        self,
        base_url: str,
        token: str,
        account_id: str,
        *,
        page_size: int = PAGE_SIZE,
        **options: Unpack[ClientOptions],
    ) -> None:
        self._base = httpx.URL(base_url.rstrip("/") + "/")
        self._page_size = page_size
        headers = {**bearer(token), ACCOUNT_HEADER: account_id, "User-Agent": USER_AGENT}
        self._http = _WIRE.http(base_url, headers, options)
        self._identity = hashlib.sha256(f"{base_url}|{account_id}|{token}".encode()).hexdigest()

    @property
    def budget(self) -> RequestBudget:
        """The token's request budget, shared by every client of the token."""
        return self._http.budget

    @property
    def identity(self) -> str:
        """Names the account and token without holding the token (a cache key)."""
        return self._identity

    async def company(self) -> Company:
        return await self._get("/company", _COMPANY)

    async def me(self) -> User:
        """The token's user: the "test connection" call (a bad token raises AuthenticationError)."""
        return await self._get("/users/me", _USER)

    async def user(self, user_id: int) -> User:
        return await self._get(f"/users/{user_id}", _USER)

    def users(self, *, is_active: bool | None = None) -> AsyncIterator[User]:
        params = {} if is_active is None else {"is_active": str(is_active).lower()}
        return self._pages("/users", "users", User, params)

    def projects(self, *, is_active: bool | None = None) -> AsyncIterator[Project]:
        params = {} if is_active is None else {"is_active": str(is_active).lower()}
        return self._pages("/projects", "projects", Project, params)

    async def project(self, project_id: int) -> Project:
        return await self._get(f"/projects/{project_id}", _PROJECT)

    async def task(self, task_id: int) -> Task:
        return await self._get(f"/tasks/{task_id}", _TASK)

    def tasks(self) -> AsyncIterator[Task]:
        return self._pages("/tasks", "tasks", Task, {})

    def task_assignments(self, project_id: int | None = None) -> AsyncIterator[TaskAssignment]:
        """The tasks offered in one project, or in every project."""
        path = (
            "/task_assignments"
            if project_id is None
            else f"/projects/{project_id}/task_assignments"
        )
        return self._pages(path, "task_assignments", TaskAssignment, {})

    async def create_task(self, name: str) -> Task:
        response = await self._http.request("POST", "/tasks", json={"name": name})
        return self._http.parse(response, _TASK)

    async def assign_task(self, project_id: int, task_id: int) -> TaskAssignment:
        response = await self._http.request(
            "POST", f"/projects/{project_id}/task_assignments", json={"task_id": task_id}
        )
        return self._http.parse(response, TypeAdapter(TaskAssignment))

    def time_entries(
        self,
        *,
        updated_since: dt.datetime | None = None,
        start: dt.date | None = None,
        end: dt.date | None = None,
        user_id: int | None = None,
        external_reference_id: str | None = None,
    ) -> AsyncIterator[TimeEntry]:
        """Time entries, newest spent date first, filtered as given (dates inclusive)."""
        params: dict[str, str | int] = {}
        if updated_since is not None:
            params["updated_since"] = _iso(updated_since)
        if start is not None:
            params["from"] = start.isoformat()
        if end is not None:
            params["to"] = end.isoformat()
        if user_id is not None:
            params["user_id"] = user_id
        if external_reference_id is not None:
            params["external_reference_id"] = external_reference_id
        return self._pages("/time_entries", "time_entries", TimeEntry, params)

    async def time_entry(self, entry_id: int) -> TimeEntry | None:
        return await found(self._get(f"/time_entries/{entry_id}", _ENTRY))

    async def create_time_entry(self, body: Mapping[str, Any]) -> TimeEntry:
        """Create an entry (POST: after OutcomeUnknownError, look it up before sending again)."""
        return self._http.parse(await self._send("POST", "/time_entries", body), _ENTRY)

    async def update_time_entry(self, entry_id: int, body: Mapping[str, Any]) -> TimeEntry:
        response = await self._send("PATCH", f"/time_entries/{entry_id}", body)
        return self._http.parse(response, _ENTRY)

    async def delete_time_entry(self, entry_id: int) -> bool:
        """Delete an entry; ``False`` when it was already gone."""
        return await deleted(self._send("DELETE", f"/time_entries/{entry_id}", None))

    def time_report(self, by: str, start: dt.date, end: dt.date) -> AsyncIterator[TimeReportRow]:
        """``/reports/time/{by}`` (``clients``, ``projects``, ``tasks``, ``team``) for the dates."""
        params = {"from": start.strftime("%Y%m%d"), "to": end.strftime("%Y%m%d")}
        return self._pages(f"/reports/time/{by}", "results", TimeReportRow, params, page_size=1000)

    async def _pages(
        self,
        path: str,
        key: str,
        model: type[T],
        params: Mapping[str, str | int],
        *,
        page_size: int | None = None,
    ) -> AsyncIterator[T]:
        """Every item of a list, following ``links.next`` until it is null."""
        adapter = _list_adapter(model)
        query: Mapping[str, str | int] = {**params, "per_page": page_size or self._page_size}
        while True:
            response = await self._http.request("GET", path, params=query)
            answer = self._http.parse(response, _PAGE)
            for item in adapter.validate_python(answer.get(key) or []):
                yield item
            links = answer.get("links") or {}
            following = links.get("next") if isinstance(links, dict) else None
            if not following:
                return
            path, query = self._relative(str(following))

    def _relative(self, link: str) -> tuple[str, dict[str, str | int]]:
        """A ``links.next`` URL as a path under the base URL, refused if it leaves it."""
        url = httpx.URL(link)
        base_path = self._base.path
        if (url.scheme, url.host, url.port) != (
            self._base.scheme,
            self._base.host,
            self._base.port,
        ) or not (url.path + "/").startswith(base_path):
            raise ProviderError(
                "harvest", "GET", url.path, 200, "links.next leaves the API's base URL"
            )
        path = "/" + url.path[len(base_path) :].lstrip("/")
        return path, dict(url.params.items())


_PAGE: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])
