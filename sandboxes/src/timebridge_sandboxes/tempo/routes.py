"""Tempo Cloud API v4 worklogs, as documented (apidocs.tempo.io): bearer tokens, ``GET
/4/worklogs`` with ``from``/``to``/``updatedFrom``/``issueId``/``offset``/``limit`` and
``metadata.next``, ``GET/PUT/DELETE /4/worklogs/{id}``, ``POST /4/worklogs``; errors as
``{"errors": [{"message": ...}]}``."""

import datetime as dt
import json
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response

from timebridge_sandboxes.faults import ApiError
from timebridge_sandboxes.tempo.state import TempoState, User, Worklog, now

api = APIRouter(prefix="/4")
admin = APIRouter(prefix="/_sandbox")
MAX_LIMIT = 5000


def tempo_state(request: Request) -> TempoState:
    state: TempoState = request.app.state.tempo
    return state


def caller(request: Request) -> User:
    """``Authorization: Bearer <token>``, then the per-token limit."""
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
    user = tempo_state(request).user_by_token(token)
    if user is None:
        raise ApiError(401, "The access token is missing, invalid or expired")
    request.app.state.limit.admit(user.token)
    return user


Caller = Annotated[User, Depends(caller)]


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/4"


def _date(value: object, name: str) -> dt.date:
    if not isinstance(value, str):
        raise ApiError(400, f"{name} is required (yyyy-MM-dd)")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ApiError(400, f"{name} must be a date (yyyy-MM-dd)") from None


def _updated_from(value: str) -> dt.datetime:
    """``yyyy-MM-dd['T'HH:mm:ss]['Z']``: a date is its midnight UTC."""
    try:
        if len(value) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(value), dt.time(), tzinfo=dt.UTC)
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "updatedFrom must be yyyy-MM-dd['T'HH:mm:ss]['Z']") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@api.get("/worklogs")
async def list_worklogs(request: Request, _user: Caller) -> dict[str, Any]:
    query = request.query_params
    state = tempo_state(request)
    try:
        offset = int(query.get("offset", "0"))
        limit = int(query.get("limit", "50"))
    except ValueError:
        raise ApiError(400, "offset and limit must be numbers") from None
    if offset < 0 or not 1 <= limit <= MAX_LIMIT:
        raise ApiError(400, f"limit must be 1 to {MAX_LIMIT} and offset at least 0")
    found = sorted(state.worklogs.values(), key=lambda w: w.id)
    if "updatedFrom" in query:
        after = _updated_from(query["updatedFrom"])
        found = [w for w in found if w.updated_at >= after]
    if "from" in query or "to" in query:
        low, high = _date(query.get("from"), "from"), _date(query.get("to"), "to")
        found = [w for w in found if low <= w.start_date <= high]
    issues = {int(i) for i in query.getlist("issueId") if i.isdigit()}
    if issues:
        found = [w for w in found if w.issue_id in issues]
    size = min(limit, state.page_cap or limit)
    page = found[offset : offset + size]
    following = None
    if offset + size < len(found):
        params = [(k, v) for k, v in query.multi_items() if k not in {"offset", "limit"}]
        params += [("offset", str(offset + size)), ("limit", str(size))]
        following = f"{_base(request)}/worklogs?{urlencode(params)}"
    base = _base(request)
    return {
        "self": str(request.url),
        "metadata": {"count": len(page), "offset": offset, "limit": size, "next": following},
        "results": [state.worklog_json(base, w) for w in page],
    }


@api.get("/worklogs/{worklog_id}")
async def get_worklog(request: Request, _user: Caller, worklog_id: int) -> dict[str, Any]:
    state = tempo_state(request)
    return state.worklog_json(_base(request), _found(state, worklog_id))


def _found(state: TempoState, worklog_id: int) -> Worklog:
    worklog = state.worklogs.get(worklog_id)
    if worklog is None:
        raise ApiError(404, f"Worklog with id {worklog_id} not found")
    return worklog


async def _body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body() or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "Malformed JSON body") from None
    if not isinstance(data, dict):
        raise ApiError(400, "The body must be a JSON object")
    return data


def _apply(state: TempoState, data: dict[str, Any], worklog: Worklog | None, user: User) -> Worklog:
    """Validate a POST/PUT body (PUT replaces: the same required fields) into a worklog."""
    issue = data.get("issueId")
    if not isinstance(issue, int) or issue not in state.issues:
        raise ApiError(400, "issueId: a Jira issue this account can see is required")
    author = data.get("authorAccountId") or user.account_id
    if author not in state.users:
        raise ApiError(400, f"authorAccountId: no Jira user {author!r}")
    seconds = data.get("timeSpentSeconds")
    if not isinstance(seconds, int) or seconds < 0:
        raise ApiError(400, "timeSpentSeconds must be a whole number of seconds")
    billable = data.get("billableSeconds", seconds)
    if not isinstance(billable, int) or billable < 0:
        raise ApiError(400, "billableSeconds must be a whole number of seconds")
    start_time = data.get("startTime", "00:00:00")
    try:
        time = dt.time.fromisoformat(start_time)
    except (TypeError, ValueError):
        raise ApiError(400, "startTime must be HH:mm:ss") from None
    values = {
        "issue_id": issue, "author": author, "seconds": seconds, "billable_seconds": billable,
        "start_date": _date(data.get("startDate"), "startDate"), "start_time": time,
        "description": str(data.get("description") or ""),
    }  # fmt: skip
    if worklog is None:
        worklog = Worklog(state.next_id(), **values)  # type: ignore[arg-type]
        state.worklogs[worklog.id] = worklog
        return worklog
    for name, value in values.items():
        setattr(worklog, name, value)
    worklog.updated_at = max(now(), worklog.updated_at)
    return worklog


@api.post("/worklogs")
async def create_worklog(request: Request, user: Caller) -> dict[str, Any]:
    state = tempo_state(request)
    worklog = _apply(state, await _body(request), None, user)
    return state.worklog_json(_base(request), worklog)


def _unlocked(worklog: Worklog) -> None:
    if worklog.approved:
        raise ApiError(400, "Worklog cannot be changed: the timesheet is approved for this period")


@api.put("/worklogs/{worklog_id}")
async def update_worklog(request: Request, user: Caller, worklog_id: int) -> dict[str, Any]:
    state = tempo_state(request)
    worklog = _found(state, worklog_id)
    _unlocked(worklog)
    _apply(state, await _body(request), worklog, user)
    return state.worklog_json(_base(request), worklog)


@api.delete("/worklogs/{worklog_id}", status_code=204)
async def delete_worklog(request: Request, _user: Caller, worklog_id: int) -> Response:
    state = tempo_state(request)
    _unlocked(_found(state, worklog_id))
    del state.worklogs[worklog_id]
    return Response(status_code=204)


@admin.post("/worklogs/{worklog_id}/approve", status_code=204)
async def approve(request: Request, worklog_id: int) -> Response:
    """Approve the timesheet holding the worklog (a manager in Tempo)."""
    _found(tempo_state(request), worklog_id).approved = True
    return Response(status_code=204)


@admin.post("/page-cap")
async def page_cap(request: Request, size: int) -> dict[str, int]:
    tempo_state(request).page_cap = size
    return {"size": size}
