"""Jira Cloud's REST API v3: Tempo's users, projects and issues (the directory Tempo lacks).

Tempo Cloud's API (api.tempo.io/4) holds worklogs but lists no users, projects or issues: they
live in Jira, a second host (``https://<site>.atlassian.net``) with a second credential. What each
fact rests on (V = Atlassian's documentation, developer.atlassian.com/cloud/jira/platform/rest/v3;
A = assumed where it is silent):

- V Basic auth with the account's email and an API token (``Authorization: Basic
  base64(email:token)``); ``GET /rest/api/3/myself`` says who it is (``accountId``).
- V ``GET /rest/api/3/users/search?startAt&maxResults`` lists every user (a bare array; a page
  shorter than asked is the last); ``accountType`` ``atlassian`` is a person (``app`` and
  ``customer`` are not); ``emailAddress`` is absent where the user's privacy settings hide it.
- V ``GET /rest/api/3/project/search?startAt&maxResults`` pages projects (``values``,
  ``isLast``); ``GET /rest/api/3/project/{idOrKey}``.
- V Issues: ``GET /rest/api/3/search/jql?jql&fields&maxResults&nextPageToken`` (the enhanced
  search; ``/rest/api/3/search`` was retired in 2025), ``isLast`` and ``nextPageToken``;
  ``GET /rest/api/3/issue/{idOrKey}``; ``POST /rest/api/3/issue`` answers ``201``
  ``{"id", "key", "self"}``; a description is Atlassian Document Format.
- V Errors are ``{"errorMessages": [...], "errors": {...}}``; ``429`` carries ``Retry-After``.
- A Jira's limits are cost-based and unpublished per number: its requests draw from the Tempo
  connection's budget (one bucket for both hosts, the lower of the two).
"""

import datetime as dt
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any, Unpack

import httpx
from pydantic import BaseModel, ConfigDict, TypeAdapter

from timebridge_common.outbound.http import AuthenticationError, NotFoundError, ProviderClient
from timebridge_providers.kit.plumbing import ClientOptions, Wire, basic

PAGE_SIZE = 100
_PROJECT_REF = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,254}|[0-9]{1,18}")
ISSUE_FIELDS = "summary,status,project,updated"
_WIRE = Wire("tempo", (300, 60.0))


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class JiraUser(_Model):
    accountId: str
    accountType: str = "atlassian"
    emailAddress: str | None = None
    displayName: str | None = None
    active: bool = True


class JiraProject(_Model):
    id: str
    key: str
    name: str
    archived: bool = False


class StatusCategory(_Model):
    key: str
    """``new``, ``indeterminate`` or ``done``."""


class Status(_Model):
    name: str
    statusCategory: StatusCategory | None = None


class ProjectRef(_Model):
    id: str
    key: str | None = None


class IssueFields(_Model):
    summary: str = ""
    status: Status | None = None
    project: ProjectRef | None = None
    updated: str | None = None


class JiraIssue(_Model):
    id: str
    key: str
    fields: IssueFields = IssueFields()

    def updated_at(self) -> dt.datetime | None:
        """Jira writes ``2026-11-20T09:15:00.000+0100``."""
        if not self.fields.updated:
            return None
        try:
            return dt.datetime.strptime(self.fields.updated, "%Y-%m-%dT%H:%M:%S.%f%z")
        except ValueError:
            return None


class ProjectPage(_Model):
    values: list[JiraProject] = []
    isLast: bool = True


class IssuePage(_Model):
    issues: list[JiraIssue] = []
    nextPageToken: str | None = None
    isLast: bool | None = None


_USERS = TypeAdapter(list[JiraUser])
_USER = TypeAdapter(JiraUser)
_PROJECTS = TypeAdapter(ProjectPage)
_PROJECT = TypeAdapter(JiraProject)
_ISSUES = TypeAdapter(IssuePage)
_ISSUE = TypeAdapter(JiraIssue)
_CREATED = TypeAdapter(dict[str, Any])


basic_auth = basic
"""Jira Cloud's API token auth: the account's email and the token, HTTP Basic."""


def document(text: str) -> dict[str, Any]:
    """Plain text as an Atlassian Document Format paragraph (API v3's rich text)."""
    content = [{"type": "text", "text": text}] if text else []
    return {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": content}]}


class JiraClient(ProviderClient):
    """One Jira Cloud site as one account (email + API token).

    Errors: ``AuthenticationError``, ``NotFoundError``, other ``ProviderError`` refusals,
    ``OutcomeUnknownError`` when a POST may have been applied, ``TransientError`` otherwise.
    """

    def __init__(
        self, site: str, email: str, token: str | None, **options: Unpack[ClientOptions]
    ) -> None:
        headers = {"Authorization": basic_auth(email, token or ""), "Accept": "application/json"}
        self.site = site.rstrip("/")
        self._token_given = token is not None
        self._http = _WIRE.http(f"{self.site}/rest/api/3", headers, options)

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Every request; without a Jira API token none is sent (the connection lacks it)."""
        if not self._token_given:
            raise AuthenticationError(
                "tempo", method, f"/rest/api/3{path}", 401,
                "no Jira API token: give the key as <Tempo token>|<Jira API token>",
            )  # fmt: skip
        return await self._http.request(method, path, **kwargs)

    async def myself(self) -> JiraUser:
        return self._http.parse(await self._call("GET", "/myself"), _USER)

    async def users(self) -> AsyncIterator[JiraUser]:
        start = 0
        while True:
            params = {"startAt": start, "maxResults": PAGE_SIZE}
            response = await self._call("GET", "/users/search", params=params)
            page = self._http.parse(response, _USERS)
            for user in page:
                yield user
            if len(page) < PAGE_SIZE:
                return
            start += len(page)

    async def projects(self) -> AsyncIterator[JiraProject]:
        start = 0
        while True:
            params = {"startAt": start, "maxResults": PAGE_SIZE}
            response = await self._call("GET", "/project/search", params=params)
            page = self._http.parse(response, _PROJECTS)
            for project in page.values:
                yield project
            if page.isLast or not page.values:
                return
            start += len(page.values)

    async def project(self, project_id: str) -> JiraProject:
        """One project by id or key, or ``NotFoundError``."""
        return self._http.parse(await self._call("GET", f"/project/{project_id}"), _PROJECT)

    async def issues(self, project_id: str) -> AsyncIterator[JiraIssue]:
        """The project's issues (``project = <id>``), following ``nextPageToken``."""
        if not _PROJECT_REF.fullmatch(project_id):  # an id or key: nothing to quote in JQL
            raise NotFoundError("tempo", "GET", "/search/jql", 404, "no such project")
        params: dict[str, str | int] = {
            "jql": f"project = {project_id} ORDER BY key ASC",
            "fields": ISSUE_FIELDS,
            "maxResults": PAGE_SIZE,
        }
        while True:
            response = await self._call("GET", "/search/jql", params=params)
            page = self._http.parse(response, _ISSUES)
            for issue in page.issues:
                yield issue
            if page.isLast or not page.nextPageToken or not page.issues:
                return
            params = {**params, "nextPageToken": page.nextPageToken}

    async def issue(self, issue_id: str) -> JiraIssue:
        """One issue by id or key, or ``NotFoundError``."""
        params = {"fields": ISSUE_FIELDS}
        response = await self._call("GET", f"/issue/{issue_id}", params=params)
        return self._http.parse(response, _ISSUE)

    async def create_issue(self, project_id: str, summary: str, description: str) -> str:
        """A Task in the project; its id. A POST: never repeated after an unknown outcome."""
        body: Mapping[str, Any] = {
            "fields": {
                "project": {"id": project_id},
                "issuetype": {"name": "Task"},
                "summary": summary,
                "description": document(description),
            }
        }
        response = await self._call("POST", "/issue", json=body)
        return str(self._http.parse(response, _CREATED)["id"])


__all__ = ["JiraClient", "JiraIssue", "JiraProject", "JiraUser", "NotFoundError", "basic_auth"]
