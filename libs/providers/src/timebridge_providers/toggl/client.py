"""Toggl Track client (API v9 and Reports API v3): the calls Timebridge makes.

What each fact rests on (V = Toggl's documentation, engineering.toggl.com/docs; A = assumed where
it is silent):

- V API v8 was switched off in 2023: today's API is ``https://api.track.toggl.com/api/v9``;
  reports are Reports API v3 under ``https://api.track.toggl.com/reports/api/v3``.
- V Basic authentication with the API token as user name and the word ``api_token`` as password.
- V Limits: a leaky bucket (``429``; a safe pace is one request per second) and, since September
  2025, an hourly quota per user and organisation (Free 30, Starter 240, Premium 600 requests;
  ``/me`` calls 30 per hour) answered with ``402`` when used up. A A ``402`` quota answer is
  transient (the window slides), so it is retried later, not dead-lettered; a ``402`` naming a
  plan feature (billable on a free workspace) is a refusal.
- V ``GET /me/time_entries?since=<unix>`` lists the token user's entries changed since then,
  deleted ones included (``server_deleted_at``); ``start_date``/``end_date`` filter by start.
  ``GET /me/time_entries/{id}`` reads one. Writes: ``POST /workspaces/{wid}/time_entries``
  (``created_with`` required; ``user_id`` lets an admin log for a member), ``PUT`` and ``DELETE
  /workspaces/{wid}/time_entries/{id}``. Errors are a JSON string or plain text with ``400``,
  ``403``, ``404``.
- A A write to an entry in a locked period (Toggl's "lock time entries", a paid feature) is
  refused with ``400``/``403`` whose text says "locked": raised as :class:`EntryLockedError`.
"""

import contextlib
import datetime as dt
import hashlib
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any, TypeVar, Unpack

import httpx
from pydantic import TypeAdapter

from timebridge_common.errors import TransientError
from timebridge_common.outbound.http import (
    NotFoundError,
    ProviderClient,
    ProviderError,
    ProviderHttp,
    RequestBudget,
)
from timebridge_providers.kit.locks import LockRefusals
from timebridge_providers.kit.plumbing import ClientOptions, Wire, basic, found, numbered_pages
from timebridge_providers.kit.writes import deleted
from timebridge_providers.toggl.wire import (
    Me,
    Project,
    SearchRow,
    Summary,
    Task,
    TaskPage,
    TimeEntry,
    WorkspaceUser,
)

TOGGL_API_URL = "https://api.track.toggl.com/api/v9"
REPORTS_PATH = "/reports/api/v3"
RATE_LIMIT = (240, 3600.0)
"""The Starter plan's hourly quota per user and organisation (billable entries need a paid
plan; a Free workspace allows 30, Premium 600)."""
PACE = (2, 2.0)
"""The leaky bucket's safe pace, about one request a second ("a safe window will be 1 request per
second"), kept beside the quota (``Wire.more_limits``): a budget of the quota alone sent a
batch's writes at once and met ``429`` (issue 12)."""
_WIRE = Wire("toggl", RATE_LIMIT, more_limits=(PACE,))
QUOTA_WAIT_S = 300.0
"""How long to wait after a ``402`` quota answer before trying again."""
CREATED_WITH = "Timebridge"
PAGE_SIZE = 200

_LOCKS = LockRefusals({400, 403, 409, 423}, "lock")
_QUOTA_WORDS = re.compile(r"quota|limit", re.IGNORECASE)

T = TypeVar("T")
_ME = TypeAdapter(Me)
_ENTRY = TypeAdapter(TimeEntry)
_ENTRIES = TypeAdapter(list[TimeEntry])
_USERS = TypeAdapter(list[WorkspaceUser])
_PROJECT = TypeAdapter(Project)
_PROJECTS = TypeAdapter(list[Project])
_TASK = TypeAdapter(Task)
_TASKS = TypeAdapter(list[Task])
_TASK_PAGE = TypeAdapter(TaskPage)
_SUMMARY = TypeAdapter(Summary)
_SEARCH = TypeAdapter(list[SearchRow])


_OBJECT = TypeAdapter(dict[str, Any])
_OBJECTS = TypeAdapter(list[dict[str, Any]])
WEBHOOKS_PATH = "/webhooks/api/v1"


def webhooks_url(api_url: str) -> str:
    """Webhooks API v1's base beside API v9's (``.../api/v9`` -> ``.../webhooks/api/v1``)."""
    return reports_url(api_url).removesuffix(REPORTS_PATH) + WEBHOOKS_PATH


def reports_url(api_url: str) -> str:
    """Reports API v3's base beside API v9's (``.../api/v9`` -> ``.../reports/api/v3``)."""
    base = api_url.rstrip("/")
    if base.endswith("/api/v9"):
        base = base[: -len("/api/v9")]
    return base + REPORTS_PATH


_DEFAULT_WORKSPACE: dict[str, int] = {}
"""The token user's default workspace by client identity (a connection without one given)."""


class TogglClient(ProviderClient):
    """One Toggl connection: an API token and a workspace id.

    Errors: ``AuthenticationError``, ``NotFoundError``, :class:`EntryLockedError`, other
    ``ProviderError`` refusals, ``OutcomeUnknownError`` when a POST may have been applied,
    ``TransientError`` otherwise (a ``402`` quota answer included).
    """

    def __init__(
        self, base_url: str, token: str, workspace_id: int, **options: Unpack[ClientOptions]
    ) -> None:
        self.workspace_id = workspace_id
        self.identity = hashlib.sha256(f"{base_url}|{token}|{workspace_id}".encode()).hexdigest()
        """Names the credential and workspace without holding the token (a cache key)."""
        budget = _WIRE.budget(options)  # the API's, reports' and webhooks' hosts: one token's
        common = {"Authorization": basic(token, "api_token"), "Content-Type": "application/json"}
        self._http = _WIRE.http(base_url, common, options, budget=budget)
        self._reports = _WIRE.http(reports_url(base_url), common, options, budget=budget)
        self._hooks = _WIRE.http(webhooks_url(base_url), common, options, budget=budget)

    @property
    def budget(self) -> RequestBudget:
        """The token's request budget, shared by every client of the token."""
        return self._http.budget

    async def workspace(self) -> int:
        """The connection's workspace: the one given, else the token user's default workspace
        (asked once per credential: ``/me`` has a small quota). Left at 0, every path named
        workspace 0 and was refused."""
        if not self.workspace_id:
            if self.identity not in _DEFAULT_WORKSPACE:
                _DEFAULT_WORKSPACE[self.identity] = (await self.me()).default_workspace_id or 0
            self.workspace_id = _DEFAULT_WORKSPACE[self.identity]
        return self.workspace_id

    async def _ws(self) -> str:
        return f"/workspaces/{await self.workspace()}"

    async def me(self) -> Me:
        """The token's user: the "test connection" call."""
        return await self._get("/me", _ME)

    async def users(self) -> list[WorkspaceUser]:
        return await self._get(f"{await self._ws()}/users", _USERS)

    def projects(self) -> AsyncIterator[Project]:
        async def page(number: int) -> list[Project]:
            params = {"page": number, "per_page": PAGE_SIZE}
            return await self._get(f"{await self._ws()}/projects", _PROJECTS, params)

        return numbered_pages(page, PAGE_SIZE)

    async def project(self, project_id: int) -> Project:
        return await self._get(f"{await self._ws()}/projects/{project_id}", _PROJECT)

    async def project_tasks(self, project_id: int) -> list[Task]:
        return await self._get(f"{await self._ws()}/projects/{project_id}/tasks", _TASKS)

    async def tasks(self) -> AsyncIterator[Task]:
        """Every task of the workspace (``GET /workspaces/{wid}/tasks``, paged)."""
        page = 1
        while True:
            params: dict[str, str | int] = {"page": page, "per_page": PAGE_SIZE, "active": "both"}
            found = await self._get(f"{await self._ws()}/tasks", _TASK_PAGE, params)
            for task in found.data:
                yield task
            if not found.data or page * PAGE_SIZE >= found.total_count:
                return
            page += 1

    async def create_task(self, project_id: int, name: str) -> Task:
        body = {"name": name, "active": True}
        response = await self._send("POST", f"{await self._ws()}/projects/{project_id}/tasks", body)
        return self._http.parse(response, _TASK)

    async def changed_since(self, since: dt.datetime) -> list[TimeEntry]:
        """The token user's entries changed since ``since``, deleted ones included."""
        params = {"since": int(since.timestamp())}
        return await self._get("/me/time_entries", _ENTRIES, params)

    async def started_between(self, start: dt.datetime, end: dt.datetime) -> list[TimeEntry]:
        """The token user's entries starting from ``start`` to ``end``."""
        params = {"start_date": _rfc3339(start), "end_date": _rfc3339(end)}
        return await self._get("/me/time_entries", _ENTRIES, params)

    async def time_entry(self, entry_id: int) -> TimeEntry | None:
        entry = await found(self._get(f"/me/time_entries/{entry_id}", _ENTRY))
        return None if entry is None or entry.server_deleted_at is not None else entry

    async def create_time_entry(self, body: Mapping[str, Any]) -> TimeEntry:
        """Create an entry (POST: after OutcomeUnknownError, look it up before sending again)."""
        payload = {**body, "workspace_id": await self.workspace(), "created_with": CREATED_WITH}
        response = await self._send("POST", f"{await self._ws()}/time_entries", payload)
        return self._http.parse(response, _ENTRY)

    async def update_time_entry(self, entry_id: int, body: Mapping[str, Any]) -> TimeEntry:
        response = await self._send("PUT", f"{await self._ws()}/time_entries/{entry_id}", body)
        return self._http.parse(response, _ENTRY)

    async def delete_time_entry(self, entry_id: int) -> bool:
        """Delete an entry; ``False`` when it was already gone."""
        return await deleted(
            self._send("DELETE", f"{await self._ws()}/time_entries/{entry_id}", None)
        )

    async def summary(self, start: dt.date, end: dt.date) -> Summary:
        """Reports API v3 summary, by user and project, ``start`` to ``end`` inclusive."""
        body = {
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "grouping": "users",
            "sub_grouping": "projects",
        }
        path = f"/workspace/{await self.workspace()}/summary/time_entries"
        response = await self._call(self._reports, "POST", path, json=body, idempotent=True)
        return self._reports.parse(response, _SUMMARY)

    async def search(
        self,
        start: dt.date,
        end: dt.date,
        *,
        user_ids: list[int] | None = None,
        time_entry_ids: list[int] | None = None,
    ) -> list[TimeEntry]:
        """Any member's entries (Reports API v3 detailed search; deleted and running ones are
        not listed): how an admin reads another user's entry, which ``/me`` does not show."""
        body: dict[str, Any] = {
            "start_date": start.isoformat(),
            "end_date": end.isoformat(),
            "page_size": 50,
        }
        if user_ids:
            body["user_ids"] = user_ids
        if time_entry_ids:
            body["time_entry_ids"] = time_entry_ids
        path = f"/workspace/{await self.workspace()}/search/time_entries"
        found: list[TimeEntry] = []
        while True:
            response = await self._call(self._reports, "POST", path, json=body, idempotent=True)
            for row in self._reports.parse(response, _SEARCH):
                found.extend(row.entries(self.workspace_id))
            following = response.headers.get("x-next-row-number")
            if not following or not following.isdigit():
                return found
            body["first_row_number"] = int(following)

    async def subscribe(self, workspace_id: int, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /subscriptions/{workspace_id}`` (Webhooks API v1): the subscription made."""
        path = f"/subscriptions/{workspace_id}"
        response = await self._call(self._hooks, "POST", path, json=body)
        return self._hooks.parse(response, _OBJECT)

    async def subscriptions(self, workspace_id: int) -> list[dict[str, Any]]:
        response = await self._call(self._hooks, "GET", f"/subscriptions/{workspace_id}")
        return self._hooks.parse(response, _OBJECTS) or []

    async def enable_subscription(self, workspace_id: int, subscription_id: int) -> dict[str, Any]:
        """``PATCH /subscriptions/{workspace_id}/{subscription_id}`` with ``enabled: true``."""
        path = f"/subscriptions/{workspace_id}/{subscription_id}"
        response = await self._call(self._hooks, "PATCH", path, json={"enabled": True})
        return self._hooks.parse(response, _OBJECT)

    async def ping_subscription(self, workspace_id: int, subscription_id: int) -> None:
        """``POST /ping/{workspace_id}/{subscription_id}``: Toggl sends the subscription its ping
        (answered with the validation code, an unvalidated subscription is validated again)."""
        await self._call(self._hooks, "POST", f"/ping/{workspace_id}/{subscription_id}")

    async def unsubscribe(self, workspace_id: int, subscription_id: int) -> None:
        path = f"/subscriptions/{workspace_id}/{subscription_id}"
        with contextlib.suppress(NotFoundError):
            await self._call(self._hooks, "DELETE", path)

    async def _get(
        self, path: str, adapter: TypeAdapter[T], params: Mapping[str, str | int] | None = None
    ) -> T:
        response = await self._call(self._http, "GET", path, params=params)
        return self._http.parse(response, adapter)

    async def _send(self, method: str, path: str, body: Mapping[str, Any] | None) -> httpx.Response:
        with _LOCKS.raised():
            return await self._call(self._http, method, path, json=body)

    @staticmethod
    async def _call(
        http: ProviderHttp,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        try:
            return await http.request(method, path, params=params, json=json, idempotent=idempotent)
        except ProviderError as exc:
            if exc.status == 402 and _QUOTA_WORDS.search(exc.body):
                raise TransientError(
                    f"toggl's hourly API quota is used up ({exc.body})", retry_after=QUOTA_WAIT_S
                ) from exc
            raise

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._reports.aclose()
        await self._hooks.aclose()


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
