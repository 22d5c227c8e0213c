"""Wrike client (API v4): the calls Timebridge makes.

What each fact rests on (V = Wrike's documentation, developers.wrike.com; A = assumed where it
is silent):

- V ``https://www.wrike.com/api/v4`` (an account on another data center answers on the ``host``
  its OAuth token answer names, e.g. ``app-eu.wrike.com``: the connection's base URL).
- V ``Authorization: Bearer <token>``: an OAuth 2.0 access token (refresh tokens rotate, at
  ``https://login.wrike.com/oauth2/token``) or a permanent token.
- V Answers are ``{"kind", "data": [...]}``; errors ``{"errorDescription", "error"}`` (``400
  invalid_request``, ``401 not_authorized``, ``403 access_forbidden``, ``404
  resource_not_found``, ``429 rate_limit_exceeded``).
- V ``GET /timelogs`` filtered by ``updatedDate``/``trackedDate`` ranges (JSON ``{"start",
  "end"}``), ``me``; ``GET /tasks/{taskId}/timelogs``; ``POST /tasks/{taskId}/timelogs`` and
  ``PUT /timelogs/{id}`` (``hours``, ``trackedDate``, ``comment``, ``plainText``,
  ``billingType``), ``DELETE /timelogs/{id}``; parameters in the query string or a form body.
- V Contacts (``/contacts``, ``me=true``), folders and projects (``/folders``), tasks
  (``/folders/{id}/tasks``, ``/tasks/{id}``, ``POST /folders/{id}/tasks``).
- V Webhooks: ``POST /webhooks`` (``hookUrl``, ``secret``, ``events``), ``GET``/``PUT``
  (``status`` ``Active``/``Suspended``)/``DELETE /webhooks/{id}`` (:mod:`.webhooks`).
- A The limit: 400 requests a minute per token (Wrike names no exact number for v4).
- A A change of an approved or locked timelog is refused (``400``/``403``) with a description
  naming the lock or the approval: raised as :class:`EntryLockedError`.
"""

import datetime as dt
import hashlib
from collections.abc import Mapping
from typing import TypeVar, Unpack

import httpx
from pydantic import TypeAdapter

from timebridge_common.outbound.http import NotFoundError, ProviderClient, RequestBudget
from timebridge_providers.kit.locks import LockRefusals
from timebridge_providers.kit.plumbing import ClientOptions, Wire, bearer
from timebridge_providers.kit.writes import deleted
from timebridge_providers.wrike.translate import date_range, updated_since
from timebridge_providers.wrike.wire import Contact, Envelope, Folder, Task, Timelog, Webhook

WRIKE_API_URL = "https://www.wrike.com/api/v4"
TOKEN_URL = "https://login.wrike.com/oauth2/token"  # noqa: S105 - a URL, not a secret
AUTHORIZE_URL = "https://login.wrike.com/oauth2/authorize/v4"
RATE_LIMIT = (400, 60.0)
_WIRE = Wire("wrike", RATE_LIMIT)

T = TypeVar("T")
_LOCKS = LockRefusals({400, 403, 409, 423}, "approv|lock")
_TIMELOGS = TypeAdapter(Envelope[Timelog])
_CONTACTS = TypeAdapter(Envelope[Contact])
_FOLDERS = TypeAdapter(Envelope[Folder])
_TASKS = TypeAdapter(Envelope[Task])
_HOOKS = TypeAdapter(Envelope[Webhook])


class WrikeClient(ProviderClient):
    """One Wrike connection: a bearer token.

    Errors: ``AuthenticationError``, ``NotFoundError``, :class:`EntryLockedError`, other
    ``ProviderError`` refusals, ``OutcomeUnknownError`` when a POST may have been applied,
    ``TransientError`` otherwise.
    """

    def __init__(self, base_url: str, token: str, **options: Unpack[ClientOptions]) -> None:
        self._http = _WIRE.http(base_url, bearer(token), options)
        self.identity = hashlib.sha256(f"{base_url}|{token}".encode()).hexdigest()
        """Names the token without holding it (a cache key)."""

    @property
    def budget(self) -> RequestBudget:
        """The token's request budget, shared by every client of the token."""
        return self._http.budget

    async def _get(
        self,
        path: str,
        adapter: TypeAdapter[Envelope[T]],
        params: Mapping[str, str | int] | None = None,
    ) -> tuple[T, ...]:
        response = await self._http.request("GET", path, params=params)
        return self._http.parse(response, adapter).data

    async def me(self) -> Contact:
        found = await self._get("/contacts", _CONTACTS, {"me": "true"})
        if not found:
            raise NotFoundError("wrike", "GET", "/contacts", 404, "no contact for the token")
        return found[0]

    async def contacts(self) -> tuple[Contact, ...]:
        return await self._get("/contacts", _CONTACTS)

    async def projects(self) -> tuple[Folder, ...]:
        return await self._get("/folders", _FOLDERS, {"project": "true"})

    async def folder(self, folder_id: str) -> Folder:
        found = await self._get(f"/folders/{folder_id}", _FOLDERS)
        if not found:
            raise NotFoundError("wrike", "GET", f"/folders/{folder_id}", 404, "no such folder")
        return found[0]

    async def folder_tasks(self, folder_id: str) -> tuple[Task, ...]:
        params = {"fields": '["parentIds","description"]'}
        return await self._get(f"/folders/{folder_id}/tasks", _TASKS, params)

    async def task(self, task_id: str) -> Task:
        found = await self._get(f"/tasks/{task_id}", _TASKS)
        if not found:
            raise NotFoundError("wrike", "GET", f"/tasks/{task_id}", 404, "no such task")
        return found[0]

    async def create_task(self, folder_id: str, title: str, description: str | None) -> Task:
        params = {"title": title, **({"description": description} if description else {})}
        response = await self._send("POST", f"/folders/{folder_id}/tasks", params)
        return self._http.parse(response, _TASKS).data[0]

    async def updated_since(self, since: dt.datetime) -> tuple[Timelog, ...]:
        return await self._get("/timelogs", _TIMELOGS, {"updatedDate": updated_since(since)})

    async def tracked(self, start: dt.date, end: dt.date) -> tuple[Timelog, ...]:
        return await self._get("/timelogs", _TIMELOGS, {"trackedDate": date_range(start, end)})

    async def task_timelogs(self, task_id: str, day: dt.date) -> tuple[Timelog, ...]:
        params = {"trackedDate": date_range(day, day)}
        return await self._get(f"/tasks/{task_id}/timelogs", _TIMELOGS, params)

    async def timelog(self, timelog_id: str) -> Timelog | None:
        try:
            found = await self._get(f"/timelogs/{timelog_id}", _TIMELOGS)
        except NotFoundError:
            return None
        return found[0] if found else None

    async def create(self, task_id: str, params: Mapping[str, str | int]) -> Timelog:
        """Log time (POST: after OutcomeUnknownError, look it up before sending again)."""
        response = await self._send("POST", f"/tasks/{task_id}/timelogs", params)
        return self._http.parse(response, _TIMELOGS).data[0]

    async def update(self, timelog_id: str, params: Mapping[str, str | int]) -> Timelog:
        response = await self._send("PUT", f"/timelogs/{timelog_id}", params)
        return self._http.parse(response, _TIMELOGS).data[0]

    async def delete(self, timelog_id: str) -> bool:
        return await deleted(self._send("DELETE", f"/timelogs/{timelog_id}", None))

    async def create_webhook(self, hook_url: str, secret: str, events: str) -> Webhook:
        """``POST /webhooks`` (the account's): Wrike's handshake reaches ``hook_url`` first."""
        params = {"hookUrl": hook_url, "secret": secret, "events": events}
        response = await self._http.request("POST", "/webhooks", params=params)
        return self._http.parse(response, _HOOKS).data[0]

    async def webhook(self, hook_id: str) -> Webhook | None:
        try:
            found = await self._get(f"/webhooks/{hook_id}", _HOOKS)
        except NotFoundError:
            return None
        return found[0] if found else None

    async def set_webhook_status(self, hook_id: str, status: str) -> Webhook:
        response = await self._http.request(
            "PUT", f"/webhooks/{hook_id}", params={"status": status}
        )
        return self._http.parse(response, _HOOKS).data[0]

    async def delete_webhook(self, hook_id: str) -> None:
        try:
            await self._http.request("DELETE", f"/webhooks/{hook_id}")
        except NotFoundError:
            return

    async def _send(
        self, method: str, path: str, params: Mapping[str, str | int] | None
    ) -> httpx.Response:
        with _LOCKS.raised():
            return await self._http.request(method, path, params=params)
