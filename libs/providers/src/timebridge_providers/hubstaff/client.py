"""Hubstaff API v2 client: the calls Timebridge makes, through the shared outbound HTTP layer.

What each fact rests on (V = Hubstaff's Swagger description ``hubstaff-v2-swagger.json`` and
developer docs; A = assumed where they are silent):

- V Base URL ``https://api.hubstaff.com/v2``; ``Authorization: Bearer <access token>``; access
  tokens come from ``https://account.hubstaff.com/access_tokens`` by exchanging a personal access
  token (a refresh token) or an OAuth refresh token, and refresh tokens rotate: the credential
  owner keeps them, a session holds only the access token.
- V Lists page by ``page_start_id`` (and ``page_limit``) and answer
  ``pagination.next_page_start_id`` while more remain.
- V ``GET /organizations/{id}/activities/daily/updates?updated[start]&updated[stop]``: daily
  activities changed in a period (Hubstaff's clock); ``.../activities/daily?date[start]&
  date[stop]`` (inclusive) for a report.
- V Webhooks: ``POST /organizations/{id}/webhooks`` (``events``, ``target_url``), ``POST
  /webhooks/{id}/activate`` with ``X-Hook-Secret``, ``GET``/``DELETE /webhooks/{id}``.
- A A webhook answer is ``{"webhook": {"id", "target_url", "events", "status"}}`` with ``status``
  ``active`` once activated (the spec documents no answer schema).
- V Errors: ``{"code": "...", "error": "..."}``; ``429`` when rate limited.
- A The rate limit per token is not in the description; 1,000 requests an hour is assumed.
"""

import datetime as dt
from collections.abc import AsyncIterator, Mapping
from typing import Any, TypeVar, Unpack

from pydantic import TypeAdapter

from timebridge_common.outbound.http import NotFoundError, ProviderClient
from timebridge_providers.hubstaff.wire import DailyActivity, Member, Project, Task, User
from timebridge_providers.kit.plumbing import ClientOptions, Wire, bearer

HUBSTAFF_API_URL = "https://api.hubstaff.com"
TOKEN_URL = "https://account.hubstaff.com/access_tokens"  # noqa: S105 - a URL, not a secret
AUTHORIZE_URL = "https://account.hubstaff.com/authorizations/new"
RATE_LIMIT = (1000, 3600.0)
_WIRE = Wire("hubstaff", RATE_LIMIT)
PAGE_LIMIT = 100

T = TypeVar("T")
_ANSWER: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])


def _webhook(answer: dict[str, Any]) -> dict[str, Any]:
    """A webhook answer: ``{"webhook": {...}}`` (or the object itself; the spec shows neither)."""
    found = answer.get("webhook", answer)
    return found if isinstance(found, dict) else {}


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class HubstaffClient(ProviderClient):
    """One Hubstaff connection (an access token and an organization id)."""

    def __init__(
        self, base_url: str, token: str, organization_id: str, **options: Unpack[ClientOptions]
    ) -> None:
        self.organization_id = organization_id
        self._http = _WIRE.http(base_url, bearer(token), options)

    async def me(self) -> User:
        return User.model_validate((await self._get("/v2/users/me")).get("user"))

    async def members(self) -> AsyncIterator[tuple[Member, User | None]]:
        """The organization's members with their users (side-loaded with ``include=users``)."""
        path = f"/v2/organizations/{self.organization_id}/members"
        async for answer in self._pages(path, {"include": "users"}):
            users = {
                u.id: u for u in TypeAdapter(list[User]).validate_python(answer.get("users") or [])
            }
            for member in TypeAdapter(list[Member]).validate_python(answer.get("members") or []):
                yield member, member.user or users.get(member.user_id)

    async def projects(self) -> AsyncIterator[Project]:
        async for answer in self._pages(f"/v2/organizations/{self.organization_id}/projects", {}):
            for project in TypeAdapter(list[Project]).validate_python(answer.get("projects") or []):
                yield project

    async def project(self, project_id: str) -> Project:
        return Project.model_validate(
            (await self._get(f"/v2/projects/{project_id}")).get("project")
        )

    async def tasks(self, project_id: str) -> AsyncIterator[Task]:
        async for answer in self._pages(f"/v2/projects/{project_id}/tasks", {}):
            for task in TypeAdapter(list[Task]).validate_python(answer.get("tasks") or []):
                yield task

    async def task(self, task_id: str) -> Task:
        return Task.model_validate((await self._get(f"/v2/tasks/{task_id}")).get("task"))

    async def create_task(self, project_id: str, summary: str, assignee: int) -> Task:
        body = {"summary": summary, "assignee_id": assignee}
        response = await self._http.request("POST", f"/v2/projects/{project_id}/tasks", json=body)
        return Task.model_validate(self._http.parse(response, _ANSWER).get("task"))

    async def daily_updates(self, start: dt.datetime) -> AsyncIterator[DailyActivity]:
        """Daily activities changed since ``start``, up to Hubstaff's present (``updated[stop]``
        is optional: left out, so nothing changed after our clock's now is skipped)."""
        params = {"updated[start]": _iso(start)}
        path = f"/v2/organizations/{self.organization_id}/activities/daily/updates"
        async for answer in self._pages(path, params):
            items = answer.get("daily_activities") or []
            for item in TypeAdapter(list[DailyActivity]).validate_python(items):
                yield item

    async def daily(
        self, start: dt.date, stop: dt.date, **filters: int
    ) -> AsyncIterator[DailyActivity]:
        """Daily activities dated ``start`` to ``stop``; ``filters`` (``user_ids``,
        ``project_ids``, ``task_ids``) narrow them to one id each."""
        params: dict[str, str | int] = {
            "date[start]": start.isoformat(),
            "date[stop]": stop.isoformat(),
            **filters,
        }
        path = f"/v2/organizations/{self.organization_id}/activities/daily"
        async for answer in self._pages(path, params):
            for item in TypeAdapter(list[DailyActivity]).validate_python(
                answer.get("daily_activities") or []
            ):
                yield item

    async def create_webhook(self, target_url: str, events: list[str]) -> dict[str, Any]:
        """``POST .../webhooks``: Hubstaff's verification reaches ``target_url`` first."""
        body = {"events": events, "target_url": target_url}
        path = f"/v2/organizations/{self.organization_id}/webhooks"
        response = await self._http.request("POST", path, json=body)
        return _webhook(self._http.parse(response, _ANSWER))

    async def activate_webhook(self, webhook_id: str, secret: str) -> dict[str, Any]:
        response = await self._http.request(
            "POST",
            f"/v2/webhooks/{webhook_id}/activate",
            headers={"X-Hook-Secret": secret},
            idempotent=True,
        )
        return _webhook(self._http.parse(response, _ANSWER))

    async def webhook(self, webhook_id: str) -> dict[str, Any] | None:
        try:
            return _webhook(await self._get(f"/v2/webhooks/{webhook_id}"))
        except NotFoundError:
            return None

    async def delete_webhook(self, webhook_id: str) -> None:
        try:
            await self._http.request("DELETE", f"/v2/webhooks/{webhook_id}")
        except NotFoundError:
            return

    async def _get(
        self, path: str, params: Mapping[str, str | int] | None = None
    ) -> dict[str, Any]:
        return self._http.parse(await self._http.request("GET", path, params=params), _ANSWER)

    async def _pages(
        self, path: str, params: Mapping[str, str | int]
    ) -> AsyncIterator[dict[str, Any]]:
        """Each page's answer, following ``pagination.next_page_start_id``."""
        query: dict[str, str | int] = {**params, "page_limit": PAGE_LIMIT}
        while True:
            answer = await self._get(path, query)
            yield answer
            pagination = answer.get("pagination")
            following = (
                pagination.get("next_page_start_id") if isinstance(pagination, dict) else None
            )
            if not isinstance(following, int):
                return
            query = {**query, "page_start_id": following}
