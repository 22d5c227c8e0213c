"""What every route of the Harvest sandbox shares: errors, authentication, paging, parsing."""

import base64
import binascii
import datetime as dt
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from timebridge_sandboxes.faults import ApiError, error_response
from timebridge_sandboxes.harvest_state import HarvestState, User

T = TypeVar("T")
RATE_LIMIT = (100, 15.0)
_SLUGS = {
    400: "bad_request",
    401: "invalid_token",
    403: "forbidden",
    404: "not_found",
    422: "unprocessable_entity",
    429: "too_many_requests",
}
_WALL = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*([ap]m)?\s*$", re.IGNORECASE)


def error_body(status: int, message: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "error": _SLUGS.get(status, "server_error" if status >= 500 else "error"),
        "error_description": message,
    }
    if status == 422:
        body["message"] = message
    return body


async def invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    where = ", ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
    )
    return error_response(error_body, ApiError(422, f"Invalid parameters ({where})"))


def harvest_state(request: Request) -> HarvestState:
    state: HarvestState = request.app.state.harvest
    return state


def caller(request: Request) -> User:
    """The token's user, after the account id and the per-token rate limit."""
    state = harvest_state(request)
    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
    token = token or request.query_params.get("access_token")
    account = request.headers.get("harvest-account-id") or request.query_params.get("account_id")
    user = state.user_by_token(token)
    if user is None or not user.is_active:
        raise ApiError(
            401,
            "The access token provided is expired, revoked, malformed or invalid for other "
            "reasons.",
        )
    if account != state.account_id:
        raise ApiError(403, "The Harvest-Account-Id is missing or not an account of this token")
    request.app.state.limit.admit(token or "")
    return user


Caller = Annotated[User, Depends(caller)]


def admin_only(user: User, what: str) -> None:
    """Harvest lets only administrators and managers do this (a member uses ``/users/me/...``)."""
    if not user.is_admin:
        raise ApiError(403, f"Only administrators and managers can {what}")


Page = Annotated[int, Query(ge=1)]
PerPage = Annotated[int | None, Query(ge=1, le=2000)]


def day(value: str | None, name: str) -> dt.date | None:
    if value is None:
        return None
    for form in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return dt.datetime.strptime(value, form).replace(tzinfo=dt.UTC).date()
        except ValueError:
            continue
    raise ApiError(422, f"{name} must be a date (YYYY-MM-DD or YYYYMMDD)")


def moment(value: str | None, name: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise ApiError(422, f"{name} must be an ISO 8601 date and time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def wall(value: str, name: str) -> dt.time:
    match = _WALL.match(value)
    hour = int(match[1]) if match else -1
    if match is None or (match[3] and not 1 <= hour <= 12) or hour > 23 or int(match[2] or 0) > 59:
        raise ApiError(422, f"{name} is not a time of day such as 8:00am")
    if match[3]:
        hour = hour % 12 + (12 if match[3].lower() == "pm" else 0)
    return dt.time(hour, int(match[2] or 0))


def written(moment: dt.time) -> str:
    return f"{(moment.hour % 12) or 12}:{moment.minute:02d}{'am' if moment.hour < 12 else 'pm'}"


def paginate(
    request: Request,
    key: str,
    items: list[dict[str, Any]],
    page: int,
    per_page: int,
    *,
    cursors: bool = False,
) -> dict[str, Any]:
    """One page of ``items`` with Harvest's paging fields. ``cursors``: the links carry an opaque
    ``cursor`` (as Harvest's users, projects, tasks and task assignments now do) instead of
    ``page``; a client that follows ``links.next`` needs neither."""
    cap = harvest_state(request).page_cap
    per_page = min(per_page, cap) if cap else per_page
    total_pages = max(1, math.ceil(len(items) / per_page))

    def link(number: int, ref: str) -> str:
        if not cursors:
            return str(request.url.include_query_params(page=number, per_page=per_page))
        url = request.url.remove_query_params("page")
        cursor = base64.urlsafe_b64encode(json.dumps({"page": number}).encode()).decode()
        return str(url.include_query_params(cursor=cursor, per_page=per_page, ref=ref))

    return {
        key: items[(page - 1) * per_page : page * per_page],
        "per_page": per_page,
        "total_pages": total_pages,
        "total_entries": len(items),
        "next_page": page + 1 if page < total_pages else None,
        "previous_page": page - 1 if page > 1 else None,
        "page": page,
        "links": {
            "first": link(1, "first"),
            "next": link(page + 1, "next") if page < total_pages else None,
            "previous": link(page - 1, "previous") if page > 1 else None,
            "last": link(total_pages, "last"),
        },
    }


def cursor_page(cursor: str | None, page: int) -> int:
    """The page a ``cursor`` this sandbox handed out points at (else ``page``)."""
    if cursor is None:
        return page
    try:
        number = json.loads(base64.urlsafe_b64decode(cursor.encode()))["page"]
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ApiError(422, "cursor is not a cursor this API handed out") from None
    if not isinstance(number, int) or number < 1:
        raise ApiError(422, "cursor is not a cursor this API handed out")
    return number


def _has_nul(node: Any) -> bool:
    if isinstance(node, str):
        return "\x00" in node
    if isinstance(node, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in node.items())
    return isinstance(node, list) and any(_has_nul(v) for v in node)


async def read_body(request: Request, model: type[BaseModel]) -> BaseModel:
    """The JSON object body as ``model``: not JSON, not an object or holding a NUL is ``400``
    (text with NUL cannot be stored), a field of the wrong type ``422``."""
    raw = await request.body()
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "The request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object")
    if _has_nul(data):
        raise ApiError(400, "The request body contains a NUL character")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        where = ", ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ApiError(422, f"Invalid parameters ({where})") from None


class ReferenceIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str | None = None
    group_id: str | None = None
    account_id: str | None = None
    permalink: str | None = None


class EntryIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    user_id: int | None = None
    project_id: int | None = None
    task_id: int | None = None
    spent_date: dt.date | None = None
    started_time: str | None = None
    ended_time: str | None = None
    hours: float | None = Field(default=None, ge=0, le=10_000)
    notes: str | None = None
    external_reference: ReferenceIn | None = None


class TaskIn(BaseModel):
    name: str = Field(min_length=1)
    billable_by_default: bool = True
    default_hourly_rate: float | None = None
    is_default: bool = False
    is_active: bool = True


class AssignmentIn(BaseModel):
    task_id: int
    is_active: bool = True
    billable: bool | None = None
    hourly_rate: float | None = None


def updated_filter(items: list[Any], since: str | None) -> list[Any]:
    after = moment(since, "updated_since")
    if after is None:
        return items
    return [i for i in items if dt.datetime.fromisoformat(i.updated_at) >= after]


@dataclass
class ListQuery:
    """The query every Harvest list takes: ``is_active``, ``updated_since``, ``page``,
    ``per_page`` (1-2000; 2000 by default)."""

    is_active: bool | None = None
    updated_since: str | None = None
    page: Page = 1
    per_page: PerPage = None
    cursor: str | None = None
    ref: str | None = None
    """Which link a cursor came from (Harvest adds it; it changes nothing)."""

    def answer(
        self,
        request: Request,
        key: str,
        items: Iterable[T],
        render: Callable[[T], dict[str, Any]],
    ) -> dict[str, Any]:
        """The page of ``items`` (those matching ``is_active`` and ``updated_since``)."""
        found = [i for i in items if self.is_active in (None, getattr(i, "is_active", True))]
        rendered = [render(i) for i in updated_filter(found, self.updated_since)]
        page = cursor_page(self.cursor, self.page)
        return paginate(request, key, rendered, page, self.per_page or 2000, cursors=True)


Listing = Annotated[ListQuery, Depends()]
