"""Clockify API v1 client: the calls Timebridge makes (spec: ``clockify-v1-openapi.yaml``).

- V ``X-Api-Key: <key>`` on every request; base ``https://api.clockify.me/api/v1`` (regional
  hosts such as ``https://euc1.clockify.me/api/v1`` work the same). Reports live on their own host
  and are ``POST``: ``https://reports.api.clockify.me/v1/workspaces/{ws}/reports/summary``
  (regional: ``https://<region>.clockify.me/report/v1/...``).
- V Lists take ``page`` (1-based) and ``page-size`` and answer ``Last-Page: true|false``.
- V Time entries per user: ``GET /workspaces/{ws}/user/{userId}/time-entries`` with ``start``/
  ``end`` (on the entry's start); ``POST /workspaces/{ws}/time-entries`` (own) or
  ``.../user/{userId}/time-entries`` (for others, admins); ``PUT`` and ``DELETE
  /workspaces/{ws}/time-entries/{id}`` (``PUT`` replaces: ``start`` is required).
- V The limit is 50 requests per second (``429`` "Too many requests"). Errors are
  ``{"message", "code"}``. A A write to a locked entry (``isLocked``: a locked period or an
  approved timesheet) is refused with ``400``/``403`` whose message says so.
"""

import datetime as dt
import hashlib
from collections.abc import AsyncIterator, Mapping
from typing import Any, TypeVar, Unpack

import httpx
from pydantic import TypeAdapter

from timebridge_common.outbound.http import RequestBudget
from timebridge_providers.clockify.wire import Project, Summary, Task, TimeEntry, User, Webhook
from timebridge_providers.kit.locks import LockRefusals
from timebridge_providers.kit.plumbing import ClientOptions, LockingClient, Wire, found
from timebridge_providers.kit.writes import deleted

CLOCKIFY_API_URL = "https://api.clockify.me/api/v1"
RATE_LIMIT = (50, 1.0)
_WIRE = Wire("clockify", RATE_LIMIT, secret_headers=("X-Api-Key",))
PAGE_SIZE = 200
_LOCKS = LockRefusals({400, 403, 409}, "lock|approved")

T = TypeVar("T")
_USER = TypeAdapter(User)
_USERS = TypeAdapter(list[User])
_PROJECT = TypeAdapter(Project)
_PROJECTS = TypeAdapter(list[Project])
_TASK = TypeAdapter(Task)
_TASKS = TypeAdapter(list[Task])
_ENTRY = TypeAdapter(TimeEntry)
_ENTRIES = TypeAdapter(list[TimeEntry])
_SUMMARY = TypeAdapter(Summary)
_WEBHOOK = TypeAdapter(Webhook)


def reports_url(api_url: str) -> str:
    """The reports host beside the API's: ``reports.api.clockify.me/v1`` for the global API,
    ``<host>/report/v1`` for a regional or other host."""
    url = httpx.URL(api_url)
    if url.host == "api.clockify.me":
        return "https://reports.api.clockify.me/v1"
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}/report/v1"


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ClockifyClient(LockingClient):
    """One Clockify connection: an API key and a workspace id."""

    _locks = _LOCKS

    def __init__(
        self,
        base_url: str,
        api_key: str,
        workspace_id: str,
        *,
        reports: str | None = None,
        **options: Unpack[ClientOptions],
    ) -> None:
        self.workspace_id = workspace_id
        self._identity = hashlib.sha256(f"{base_url}|{api_key}|{workspace_id}".encode()).hexdigest()
        budget = _WIRE.budget(options)  # the API's and the reports host's, one key's
        headers = {"X-Api-Key": api_key}
        self._http = _WIRE.http(base_url, headers, options, budget=budget)
        self._reports = _WIRE.http(
            reports or reports_url(base_url), headers, options, budget=budget
        )

    @property
    def budget(self) -> RequestBudget:
        """The key's request budget, shared by every client of the key."""
        return self._http.budget

    @property
    def identity(self) -> str:
        """Names the key and workspace without holding the key (a cache key)."""
        return self._identity

    @property
    def _ws(self) -> str:
        return f"/workspaces/{self.workspace_id}"

    async def me(self) -> User:
        return self._http.parse(await self._http.request("GET", "/user"), _USER)

    def users(self) -> AsyncIterator[User]:
        return self._pages(f"{self._ws}/users", _USERS, {"include-roles": "false"})

    def projects(self) -> AsyncIterator[Project]:
        return self._pages(f"{self._ws}/projects", _PROJECTS, {})

    async def project(self, project_id: str) -> Project:
        response = await self._http.request("GET", f"{self._ws}/projects/{project_id}")
        return self._http.parse(response, _PROJECT)

    def tasks(self, project_id: str) -> AsyncIterator[Task]:
        return self._pages(f"{self._ws}/projects/{project_id}/tasks", _TASKS, {})

    async def create_task(self, project_id: str, name: str) -> Task:
        path = f"{self._ws}/projects/{project_id}/tasks"
        return self._http.parse(await self._send("POST", path, {"name": name}), _TASK)

    def time_entries(
        self, user_id: str, start: dt.datetime, end: dt.datetime
    ) -> AsyncIterator[TimeEntry]:
        """The user's entries starting from ``start`` to ``end``."""
        params = {"start": iso(start), "end": iso(end)}
        return self._pages(f"{self._ws}/user/{user_id}/time-entries", _ENTRIES, params)

    async def time_entry(self, entry_id: str) -> TimeEntry | None:
        response = await found(self._http.request("GET", f"{self._ws}/time-entries/{entry_id}"))
        return None if response is None else self._http.parse(response, _ENTRY)

    async def create_time_entry(self, user_id: str | None, body: Mapping[str, Any]) -> TimeEntry:
        """Create an entry, for another user when ``user_id`` is given (POST: after
        OutcomeUnknownError, look it up before sending again)."""
        path = (
            f"{self._ws}/time-entries"
            if user_id is None
            else f"{self._ws}/user/{user_id}/time-entries"
        )
        return self._http.parse(await self._send("POST", path, body), _ENTRY)

    async def update_time_entry(self, entry_id: str, body: Mapping[str, Any]) -> TimeEntry:
        response = await self._send("PUT", f"{self._ws}/time-entries/{entry_id}", body)
        return self._http.parse(response, _ENTRY)

    async def delete_time_entry(self, entry_id: str) -> bool:
        return await deleted(self._send("DELETE", f"{self._ws}/time-entries/{entry_id}", None))

    async def summary(self, start: dt.date, end: dt.date, user_id: str) -> Summary:
        """One user's seconds per project, ``start`` to ``end`` inclusive (UTC days). The
        description's groups have no USER level, so a summary is asked per user."""
        body = {
            "dateRangeStart": f"{start.isoformat()}T00:00:00.000Z",
            "dateRangeEnd": f"{end.isoformat()}T23:59:59.999Z",
            "summaryFilter": {"groups": ["PROJECT"]},
            "users": {"ids": [user_id], "contains": "CONTAINS", "status": "ALL"},
            "exportType": "JSON",
        }
        response = await self._reports.request(
            "POST", f"{self._ws}/reports/summary", json=body, idempotent=True
        )
        return self._reports.parse(response, _SUMMARY)

    async def create_webhook(self, url: str, event: str, name: str) -> Webhook:
        """A workspace-wide webhook for ``event`` (``NEW_TIME_ENTRY``, ...) to ``url``."""
        body = {
            "name": name,
            "url": url,
            "webhookEvent": event,
            "triggerSourceType": "WORKSPACE_ID",
            "triggerSource": [self.workspace_id],
        }
        return self._http.parse(await self._send("POST", f"{self._ws}/webhooks", body), _WEBHOOK)

    async def webhook(self, webhook_id: str) -> Webhook | None:
        response = await found(self._http.request("GET", f"{self._ws}/webhooks/{webhook_id}"))
        return None if response is None else self._http.parse(response, _WEBHOOK)

    async def delete_webhook(self, webhook_id: str) -> None:
        await deleted(self._send("DELETE", f"{self._ws}/webhooks/{webhook_id}", None))

    async def _pages(
        self, path: str, adapter: TypeAdapter[list[T]], params: Mapping[str, str | int]
    ) -> AsyncIterator[T]:
        page = 1
        while True:
            query = {**params, "page": page, "page-size": PAGE_SIZE}
            response = await self._http.request("GET", path, params=query)
            items = self._http.parse(response, adapter)
            for item in items:
                yield item
            last = response.headers.get("last-page")
            if not items or last == "true" or (last is None and len(items) < PAGE_SIZE):
                return
            page += 1

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._reports.aclose()
