"""Zoho Projects client (REST API, ``https://projectsapi.zoho.com/restapi``): the calls Timebridge
makes.

What each fact rests on (V = Zoho's REST API documentation, zoho.com/projects/help/rest-api;
A = assumed where it is silent):

- V ``Authorization: Zoho-oauthtoken <access token>``; access tokens last an hour, refresh tokens
  do not rotate (:mod:`.oauth`). Every path names the portal: ``/portal/{portal_id}/...``.
- V ``GET /portal/{p}/projects/{id}/logs/?users_list&view_type&date&bill_status&component_type``
  lists a project's time logs for the day, week or month around ``date`` (``MM-DD-YYYY``);
  ``POST /projects/{id}/tasks/{task}/logs/`` adds a task log (``date``, ``bill_status``,
  ``hours`` as ``HH:MM``, ``owner``, ``notes``), ``POST .../logs/{log}/`` updates it, ``DELETE``
  removes it; parameters travel as form fields or in the query (sent in the query here). An
  empty list is ``204``. ``GET /portals/`` names the token's user (``login_id``).
- V Errors are ``{"error": {"code", "message"}}`` (``6401`` bad token, ``6404`` not found,
  ``683x`` invalid input). A A change of an approved log is a ``400`` whose message says so:
  :class:`EntryLockedError`.
- V 100 requests per two minutes per user; past that the API is blocked for 30 minutes (answered
  ``429``, or ``400`` with code ``6403``-style text about the limit: both waited out).
- Zoho's API v3 (``/api/v3/portal/{id}/...``) exists beside this one; the seeds name this REST
  API, which Zoho still documents and serves, and its time-log shapes are the ones verified here.
"""

import datetime as dt
import hashlib
import re
from collections.abc import AsyncIterator, Mapping
from typing import TypeVar, Unpack

import httpx
from pydantic import BaseModel, TypeAdapter

from timebridge_common.errors import TransientError
from timebridge_common.outbound.http import (
    NotFoundError,
    ProviderClient,
    ProviderError,
    RequestBudget,
)
from timebridge_providers.kit.locks import LockRefusals
from timebridge_providers.kit.plumbing import ClientOptions, Wire
from timebridge_providers.kit.writes import deleted
from timebridge_providers.zoho.wire import (
    BLOCKED_S,
    PAGE_SIZE,
    RATE_LIMIT,
    Portals,
    Project,
    Projects,
    Task,
    Tasks,
    TimeLog,
    TimeLogsAnswer,
    User,
    Users,
)

_WIRE = Wire("zoho", RATE_LIMIT)

_LOCKS = LockRefusals({400, 403}, "approv|lock")
_LIMIT_WORDS = re.compile(r"too many|limit|blocked", re.IGNORECASE)
M = TypeVar("M", bound=BaseModel)


def zoho_date(day: dt.date) -> str:
    return day.strftime("%m-%d-%Y")


class ZohoClient(ProviderClient):
    """One portal of Zoho Projects: an OAuth access token and the portal id.

    Errors: ``AuthenticationError``, ``NotFoundError``, :class:`EntryLockedError`, other
    ``ProviderError`` refusals, ``OutcomeUnknownError`` when a create may have been applied,
    ``TransientError`` otherwise (the two-minute limit included).
    """

    def __init__(
        self, base_url: str, token: str, portal_id: str, **options: Unpack[ClientOptions]
    ) -> None:
        self.portal = f"/portal/{portal_id}"
        headers = {"Authorization": f"Zoho-oauthtoken {token}", "Accept": "application/json"}
        self._http = _WIRE.http(base_url, headers, options)
        self.identity = hashlib.sha256(f"{base_url}|{token}|{portal_id}".encode()).hexdigest()
        """Names the token and portal (listings are shared under it), never the token."""

    @property
    def budget(self) -> RequestBudget:
        """The token's request budget, shared by every client of the token."""
        return self._http.budget

    async def me(self) -> str | None:
        """The token's user (``login_id`` of ``GET /portals/``): the "test connection" call."""
        return (await self._get("/portals/", TypeAdapter(Portals))).login_id

    async def users(self) -> list[User]:
        return list((await self._get(f"{self.portal}/users/", TypeAdapter(Users))).users)

    async def projects(self) -> AsyncIterator[Project]:
        index = 1
        while True:
            params = {"index": index, "range": PAGE_SIZE}
            page = await self._get(f"{self.portal}/projects/", TypeAdapter(Projects), params)
            for project in page.projects:
                yield project
            if len(page.projects) < PAGE_SIZE:
                return
            index += PAGE_SIZE

    async def project(self, project_id: str) -> Project:
        found = await self._get(f"{self.portal}/projects/{project_id}/", TypeAdapter(Projects))
        if not found.projects:
            raise NotFoundError("zoho", "GET", f"/projects/{project_id}/", 404, "no project")
        return found.projects[0]

    async def tasks(self, project_id: str) -> list[Task]:
        tasks: list[Task] = []
        index = 1
        while True:
            params = {"index": index, "range": PAGE_SIZE}
            path = f"{self.portal}/projects/{project_id}/tasks/"
            page = await self._get(path, TypeAdapter(Tasks), params)
            tasks.extend(page.tasks)
            if len(page.tasks) < PAGE_SIZE:
                return tasks
            index += PAGE_SIZE

    async def task(self, project_id: str, task_id: str) -> Task:
        path = f"{self.portal}/projects/{project_id}/tasks/{task_id}/"
        found = await self._get(path, TypeAdapter(Tasks))
        if not found.tasks:
            raise NotFoundError("zoho", "GET", path, 404, "no task")
        return found.tasks[0]

    async def create_task(self, project_id: str, name: str, description: str | None) -> Task:
        params = {"name": name, **({"description": description} if description else {})}
        path = f"{self.portal}/projects/{project_id}/tasks/"
        response = await self._send("POST", path, params)
        made = self._http.parse(response, TypeAdapter(Tasks)).tasks
        if not made:
            raise ProviderError("zoho", "POST", path, response.status_code, "no task answered")
        return made[0]

    async def logs(
        self, project_id: str, around: dt.date, *, view: str = "month", user: str = "all"
    ) -> list[TimeLog]:
        """The project's task logs of the ``view`` (``day``, ``week``, ``month``) around a date."""
        params = {
            "users_list": user,
            "view_type": view,
            "date": zoho_date(around),
            "bill_status": "All",
            "component_type": "task",
        }
        path = f"{self.portal}/projects/{project_id}/logs/"
        return (await self._get(path, TypeAdapter(TimeLogsAnswer), params)).timelogs.all()

    async def task_logs(self, project_id: str, task_id: str) -> list[TimeLog]:
        """Every log of a task (``GET .../tasks/{task}/logs/``; A: without a period it lists
        them all)."""
        path = f"{self.portal}/projects/{project_id}/tasks/{task_id}/logs/"
        return (await self._get(path, TypeAdapter(TimeLogsAnswer))).timelogs.all()

    async def add_log(self, project_id: str, task_id: str, params: Mapping[str, str]) -> TimeLog:
        path = f"{self.portal}/projects/{project_id}/tasks/{task_id}/logs/"
        return self._one(await self._send("POST", path, params))

    async def update_log(
        self, project_id: str, task_id: str, log_id: str, params: Mapping[str, str]
    ) -> TimeLog:
        path = f"{self.portal}/projects/{project_id}/tasks/{task_id}/logs/{log_id}/"
        return self._one(await self._send("POST", path, params, idempotent=True))

    async def delete_log(self, project_id: str, task_id: str, log_id: str) -> bool:
        path = f"{self.portal}/projects/{project_id}/tasks/{task_id}/logs/{log_id}/"
        return await deleted(self._send("DELETE", path, None))

    def _one(self, response: httpx.Response) -> TimeLog:
        logs = self._http.parse(response, TypeAdapter(TimeLogsAnswer)).timelogs.all()
        if not logs:
            raise ProviderError("zoho", "POST", response.request.url.path, 200, "no log answered")
        return logs[0]

    async def _get(
        self, path: str, adapter: TypeAdapter[M], params: Mapping[str, str | int] | None = None
    ) -> M:
        response = await self._call("GET", path, params, idempotent=None)
        if response.status_code == 204 or not response.content:
            return adapter.validate_python({})
        return self._http.parse(response, adapter)

    async def _send(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        *,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        with _LOCKS.raised():
            return await self._call(method, path, params, idempotent=idempotent)

    async def _call(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None,
        *,
        idempotent: bool | None,
    ) -> httpx.Response:
        try:
            return await self._http.request(method, path, params=params, idempotent=idempotent)
        except ProviderError as exc:
            if exc.status == 400 and _LIMIT_WORDS.search(exc.body):
                raise TransientError(
                    f"zoho's request limit blocked this user ({exc.body})", retry_after=BLOCKED_S
                ) from exc
            raise

    async def aclose(self) -> None:
        await self._http.aclose()
