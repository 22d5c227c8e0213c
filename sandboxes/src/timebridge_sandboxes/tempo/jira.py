"""Jira Cloud REST API v3, the part a Tempo integration reads: who and what worklogs name.

As Atlassian documents it (developer.atlassian.com/cloud/jira/platform/rest/v3): basic auth with
an account's email and API token (``401`` otherwise); ``GET /rest/api/3/myself``;
``GET /rest/api/3/users/search`` (a bare array, ``startAt``/``maxResults``);
``GET /rest/api/3/project/search`` (``values``, ``isLast``, ``nextPage``) and
``GET /rest/api/3/project/{idOrKey}``; the enhanced issue search ``GET /rest/api/3/search/jql``
(``jql``, ``fields``, ``maxResults``, ``nextPageToken``, ``isLast``; only ``project = <id or
key>`` with an optional ``ORDER BY`` is understood here); ``GET /rest/api/3/issue/{idOrKey}``;
``POST /rest/api/3/issue`` (``201`` ``{"id", "key", "self"}``; the description must be Atlassian
Document Format). Errors are ``{"errorMessages": [...], "errors": {...}}``. Requests count
against the same per-account limit as the Tempo API (``429`` with ``Retry-After``).
"""

import base64
import binascii
import datetime as dt
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from timebridge_sandboxes.tempo.state import Issue, Project, TempoState, User, now

jira = APIRouter(prefix="/rest/api/3")
MAX_RESULTS = 100
_JQL = re.compile(r"\s*project\s*=\s*\"?([A-Za-z0-9_]+)\"?\s*(ORDER BY .*)?", re.IGNORECASE)


class JiraError(Exception):
    def __init__(self, status: int, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors or {}


async def jira_error(_: Request, exc: Exception) -> JSONResponse:
    """Jira's error shape (not Tempo's)."""
    assert isinstance(exc, JiraError)
    messages = [exc.message] if exc.message else []
    body = {"errorMessages": messages, "errors": exc.errors}
    return JSONResponse(body, status_code=exc.status)


def _state(request: Request) -> TempoState:
    state: TempoState = request.app.state.tempo
    return state


def jira_caller(request: Request) -> User:
    """``Authorization: Basic base64(email:api_token)``, then the account's limit."""
    auth = request.headers.get("authorization", "")
    email = token = ""
    if auth[:6].lower() == "basic ":
        try:
            email, _, token = (
                base64.b64decode(auth[6:].strip(), validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            email = token = ""
    user = _state(request).jira_user(email, token)
    if user is None:
        raise JiraError(401, "Client must be authenticated to access this resource.")
    request.app.state.limit.admit(user.token)
    return user


JiraCaller = Annotated[User, Depends(jira_caller)]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _paging(request: Request) -> tuple[int, int]:
    try:
        start = int(request.query_params.get("startAt", "0"))
        size = int(request.query_params.get("maxResults", "50"))
    except ValueError:
        raise JiraError(400, "startAt and maxResults must be numbers") from None
    if start < 0 or size < 1:
        raise JiraError(400, "startAt must be at least 0 and maxResults at least 1")
    return start, min(size, MAX_RESULTS)


def _user_json(user: User) -> dict[str, Any]:
    return {
        "accountId": user.account_id, "accountType": user.account_type,
        "emailAddress": user.email, "displayName": user.display_name, "active": True,
        "timeZone": user.timezone,
    }  # fmt: skip


def _project(base: str, project: Project) -> dict[str, Any]:
    return {
        "self": f"{base}/rest/api/3/project/{project.id}", "id": str(project.id),
        "key": project.key, "name": project.name, "archived": project.archived,
        "projectTypeKey": "software",
    }  # fmt: skip


def _find_project(state: TempoState, ref: str) -> Project:
    found = next((p for p in state.projects.values() if ref in {str(p.id), p.key}), None)
    if found is None:
        raise JiraError(404, "No project could be found with key or id '" + ref[:50] + "'.")
    return found


def _issue(base: str, state: TempoState, issue: Issue) -> dict[str, Any]:
    project = state.projects.get(issue.project_id)
    updated = issue.updated_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")
    return {
        "id": str(issue.id), "key": issue.key, "self": f"{base}/rest/api/3/issue/{issue.id}",
        "fields": {
            "summary": issue.summary,
            "status": {"name": issue.status, "statusCategory": {"key": issue.category}},
            "project": {"id": str(issue.project_id), "key": project.key if project else None},
            "updated": updated,
        },
    }  # fmt: skip


@jira.get("/myself")
async def myself(user: JiraCaller) -> dict[str, Any]:
    return _user_json(user)


@jira.get("/users/search")
async def users(request: Request, _user: JiraCaller) -> list[dict[str, Any]]:
    start, size = _paging(request)
    everyone = sorted(_state(request).users.values(), key=lambda u: u.account_id)
    return [_user_json(u) for u in everyone[start : start + size]]


@jira.get("/project/search")
async def projects(request: Request, _user: JiraCaller) -> dict[str, Any]:
    start, size = _paging(request)
    found = sorted(_state(request).projects.values(), key=lambda p: p.id)
    page = found[start : start + size]
    last = start + size >= len(found)
    body: dict[str, Any] = {
        "self": str(request.url), "maxResults": size, "startAt": start, "total": len(found),
        "isLast": last, "values": [_project(_base(request), p) for p in page],
    }  # fmt: skip
    if not last:
        body["nextPage"] = f"{_base(request)}/rest/api/3/project/search?startAt={start + size}"
    return body


@jira.get("/project/{ref}")
async def project(request: Request, _user: JiraCaller, ref: str) -> dict[str, Any]:
    return _project(_base(request), _find_project(_state(request), ref))


@jira.get("/search/jql")
async def search(request: Request, _user: JiraCaller) -> dict[str, Any]:
    query = request.query_params
    match = _JQL.fullmatch(query.get("jql", ""))
    if match is None:
        raise JiraError(400, "The JQL query is not supported by this sandbox or is invalid.")
    state = _state(request)
    wanted = _find_project(state, match.group(1))
    try:
        start = int(query.get("nextPageToken") or "0")
        size = min(int(query.get("maxResults", "50")), MAX_RESULTS)
    except ValueError:
        raise JiraError(400, "The nextPageToken or maxResults is invalid.") from None
    found = sorted(
        (i for i in state.jira_issues.values() if i.project_id == wanted.id), key=lambda i: i.id
    )
    page = found[start : start + max(size, 1)]
    last = start + len(page) >= len(found)
    body: dict[str, Any] = {
        "issues": [_issue(_base(request), state, i) for i in page],
        "isLast": last,
    }
    if not last:
        body["nextPageToken"] = str(start + len(page))
    return body


def _find_issue(state: TempoState, ref: str) -> Issue:
    found = next((i for i in state.jira_issues.values() if ref in {str(i.id), i.key}), None)
    if found is None:
        raise JiraError(404, "Issue does not exist or you do not have permission to see it.")
    return found


@jira.get("/issue/{ref}")
async def issue(request: Request, _user: JiraCaller, ref: str) -> dict[str, Any]:
    state = _state(request)
    return _issue(_base(request), state, _find_issue(state, ref))


@jira.post("/issue", status_code=201)
async def create_issue(request: Request, _user: JiraCaller) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise JiraError(400, "Unexpected character in the request body.") from None
    fields = body.get("fields") if isinstance(body, dict) else None
    if not isinstance(fields, dict):
        raise JiraError(400, "", {"fields": "Field 'fields' is required."})
    state = _state(request)
    errors: dict[str, str] = {}
    summary = fields.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        errors["summary"] = "You must specify a summary of the issue."
    ref = (fields.get("project") or {}).get("id") or (fields.get("project") or {}).get("key")
    if not isinstance(ref, str):
        errors["project"] = "Specify a valid project ID or key"
    if (fields.get("issuetype") or {}).get("name") not in {"Task", "Bug", "Story"}:
        errors["issuetype"] = "Specify an issue type"
    description = fields.get("description")
    if description is not None and (
        not isinstance(description, dict) or description.get("type") != "doc"
    ):
        errors["description"] = "Operation value must be an Atlassian Document (see the ADF)."
    if errors:
        raise JiraError(400, "", errors)
    assert isinstance(ref, str)
    assert isinstance(summary, str)
    found = _find_project(state, ref)
    issue_id = state.next_issue_id()
    made = state.add_issue(issue_id, f"{found.key}-{issue_id - 10000}", summary, found.id)
    made.updated_at = now()
    return {
        "id": str(made.id),
        "key": made.key,
        "self": f"{_base(request)}/rest/api/3/issue/{made.id}",
    }


__all__ = ["JiraError", "jira", "jira_error"]
