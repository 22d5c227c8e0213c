"""ClickUp API v2 client: the calls Timebridge makes, through the shared outbound HTTP layer.

What each fact rests on (V = ClickUp's OpenAPI description ``clickup-v2-openapi.json`` and its
developer docs; A = assumed where they are silent):

- V Base URL ``https://api.clickup.com/api``, paths under ``/v2``; ``Authorization: pk_...`` (a
  personal token, no scheme) or ``Authorization: Bearer <OAuth access token>``; the credential
  is sent as given. The spec requires ``Content-Type: application/json`` on some GETs (time
  entries): every request carries it.
- V Rate limit per token: 100 requests a minute (Free Forever, Unlimited, Business), 1,000
  (Business Plus), 10,000 (Enterprise); ``429`` when exceeded, with ``X-RateLimit-Reset``.
- V Errors: ``{"err": "...", "ECODE": "..."}`` (``401`` ``OAUTH_017``-style codes for a bad token).
- V Time entries: ``GET /team/{team_Id}/time_entries?start_date&end_date&assignee`` (ms;
  entries whose start lies in the range; without ``assignee`` only the token's own user's; not
  paged), ``GET|PUT|DELETE /team/{team_id}/time_entries/{timer_id}``, ``POST
  /team/{team_Id}/time_entries`` (``start``, ``duration`` ms, ``assignee``, ``tid``,
  ``billable``, ``description``).
- V Lists of tasks page by ``page`` (0-based, 100 a page) until ``last_page`` or a short page.
- A An approved (locked) entry's change is refused with ``400``/``403`` whose ``err`` says
  approved or locked: :class:`EntryLockedError`.
"""

import hashlib
from collections.abc import AsyncIterator, Mapping
from typing import Any, Unpack

from pydantic import TypeAdapter

from timebridge_common.outbound.http import NotFoundError, ProviderError, RequestBudget
from timebridge_providers.clickup.wire import (
    Folder,
    ListRef,
    Me,
    Space,
    Task,
    Team,
    Teams,
    TimeEntry,
    Webhook,
)
from timebridge_providers.kit.locks import LockRefusals
from timebridge_providers.kit.plumbing import ClientOptions, LockingClient, Wire, found
from timebridge_providers.kit.writes import deleted

CLICKUP_API_URL = "https://api.clickup.com/api"
RATE_LIMIT = (100, 60.0)
"""Requests per seconds ClickUp allows one token on the smaller plans."""
_WIRE = Wire("clickup", RATE_LIMIT)
TASK_PAGE = 100

_LOCKS = LockRefusals({400, 403, 423}, "lock|approv")

_ME = TypeAdapter(Me)
_TEAMS = TypeAdapter(Teams)
_ENTRY = TypeAdapter(dict[str, TimeEntry])
_ENTRIES = TypeAdapter(dict[str, list[TimeEntry]])
_CREATED = TypeAdapter(dict[str, Any])
_SPACES = TypeAdapter(dict[str, list[Space]])
_LISTS = TypeAdapter(dict[str, list[ListRef]])
_FOLDERS = TypeAdapter(dict[str, list[Folder]])
_LIST = TypeAdapter(ListRef)
_TASK = TypeAdapter(Task)
_TASKS = TypeAdapter(dict[str, Any])
_HOOKS = TypeAdapter(dict[str, list[Webhook]])
_HOOK = TypeAdapter(dict[str, Any])


class ClickUpClient(LockingClient):
    """One ClickUp connection (a token and a workspace id); every method returns models or
    raises (:class:`~timebridge_common.outbound.http.AuthenticationError`, ``NotFoundError``,
    :class:`EntryLockedError`, other ``ProviderError`` refusals, ``OutcomeUnknownError`` when a
    POST may have been applied, ``TransientError`` otherwise)."""

    _locks = _LOCKS

    def __init__(
        self, base_url: str, token: str, team_id: str, **options: Unpack[ClientOptions]
    ) -> None:
        self.team_id = team_id
        headers = {"Authorization": token, "Content-Type": "application/json"}
        self._http = _WIRE.http(base_url, headers, options)
        self.identity = hashlib.sha256(f"{base_url}|{token}|{team_id}".encode()).hexdigest()
        """Names the token and workspace (listings are shared under it), never the token."""

    @property
    def budget(self) -> RequestBudget:
        """The token's request budget, shared by every client of the token."""
        return self._http.budget

    async def me(self) -> Me:
        """The token's user: the "test connection" call."""
        return await self._get("/v2/user", _ME)

    async def team(self) -> Team:
        """The connection's workspace, with its members; ``NotFoundError`` if the token cannot
        see it."""
        teams = await self._get("/v2/team", _TEAMS)
        for team in teams.teams:
            if team.id == self.team_id:
                return team
        raise NotFoundError("clickup", "GET", "/v2/team", 404, f"no workspace {self.team_id}")

    async def time_entries(
        self, start_ms: int, end_ms: int, assignees: list[int] | None = None
    ) -> list[TimeEntry]:
        """Entries starting in ``[start_ms, end_ms]`` of the assignees (else the token's user)."""
        params: dict[str, str | int] = {"start_date": start_ms, "end_date": end_ms}
        if assignees:
            params["assignee"] = ",".join(str(a) for a in assignees)
        path = f"/v2/team/{self.team_id}/time_entries"
        return (await self._get(path, _ENTRIES, params)).get("data", [])

    async def time_entry(self, timer_id: str) -> TimeEntry | None:
        answer = await found(self._get(f"/v2/team/{self.team_id}/time_entries/{timer_id}", _ENTRY))
        return None if answer is None else answer.get("data")

    async def create_time_entry(self, body: Mapping[str, Any]) -> str:
        """Create an entry; its id (after ``OutcomeUnknownError``, look it up first)."""
        response = await self._send("POST", f"/v2/team/{self.team_id}/time_entries", body)
        answer = self._http.parse(response, _CREATED)
        data = answer.get("data")
        if not isinstance(data, dict) or data.get("id") is None:
            raise ProviderError("clickup", "POST", "time_entries", 200, "no id in the answer")
        return str(data["id"])

    async def update_time_entry(self, timer_id: str, body: Mapping[str, Any]) -> None:
        await self._send("PUT", f"/v2/team/{self.team_id}/time_entries/{timer_id}", body)

    async def delete_time_entry(self, timer_id: str) -> bool:
        """Delete an entry; ``False`` when it was already gone."""
        return await deleted(
            self._send("DELETE", f"/v2/team/{self.team_id}/time_entries/{timer_id}", None)
        )

    async def spaces(self) -> list[Space]:
        return (await self._get(f"/v2/team/{self.team_id}/space", _SPACES)).get("spaces", [])

    async def folderless_lists(self, space_id: str) -> list[ListRef]:
        return (await self._get(f"/v2/space/{space_id}/list", _LISTS)).get("lists", [])

    async def folders(self, space_id: str) -> list[Folder]:
        return (await self._get(f"/v2/space/{space_id}/folder", _FOLDERS)).get("folders", [])

    async def list_of(self, list_id: str) -> ListRef:
        return await self._get(f"/v2/list/{list_id}", _LIST)

    async def tasks(self, list_id: str) -> AsyncIterator[Task]:
        """Every task of the list, closed ones included, page by page."""
        page = 0
        while True:
            params: dict[str, str | int] = {"page": page, "include_closed": "true"}
            answer = await self._get(f"/v2/list/{list_id}/task", _TASKS, params)
            tasks = TypeAdapter(list[Task]).validate_python(answer.get("tasks") or [])
            for task in tasks:
                yield task
            last = answer.get("last_page")
            if not tasks or (last is True if isinstance(last, bool) else len(tasks) < TASK_PAGE):
                return  # ``last_page`` when answered; else a short page is the last
            page += 1

    async def task(self, task_id: str) -> Task:
        return await self._get(f"/v2/task/{task_id}", _TASK)

    async def create_task(self, list_id: str, name: str, description: str | None) -> Task:
        body: dict[str, Any] = {"name": name}
        if description:
            body["description"] = description
        response = await self._http.request("POST", f"/v2/list/{list_id}/task", json=body)
        return self._http.parse(response, _TASK)

    async def webhooks(self) -> list[Webhook]:
        return (await self._get(f"/v2/team/{self.team_id}/webhook", _HOOKS)).get("webhooks", [])

    async def create_webhook(self, endpoint: str, events: list[str]) -> Webhook:
        body = {"endpoint": endpoint, "events": events}
        response = await self._http.request("POST", f"/v2/team/{self.team_id}/webhook", json=body)
        return Webhook.model_validate(self._http.parse(response, _HOOK).get("webhook"))

    async def update_webhook(self, hook: Webhook, events: str, status: str) -> Webhook:
        body = {"endpoint": hook.endpoint, "events": events, "status": status}
        response = await self._http.request("PUT", f"/v2/webhook/{hook.id}", json=body)
        return Webhook.model_validate(self._http.parse(response, _HOOK).get("webhook"))

    async def delete_webhook(self, hook_id: str) -> None:
        await deleted(self._http.request("DELETE", f"/v2/webhook/{hook_id}"))
