"""What every route of the Xero Projects sandbox shares: errors, authentication, limits, bodies.

Errors as Xero answers them: a validation failure is ``400`` ``{"message", "modelState"}`` (the
spec's ``Error``); authentication and limits are problem documents (``{"Type", "Title",
"Status", "Detail"}``) as Xero's identity layer answers them; a missing resource is ``404``.
"""

import datetime as dt
import json
import uuid
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from timebridge_sandboxes.faults import ApiError, RateLimit
from timebridge_sandboxes.xero_projects.state import User, XeroProjectsState

API = "/projects.xro/2.0"
MINUTE = (60, 60.0)
DAY = (5000, 86400.0)


def error_body(status: int, message: str) -> dict[str, Any]:
    if status in {400, 404}:
        return {"message": message, "modelState": {}}
    title = {401: "Unauthorized", 403: "Forbidden", 429: "Too Many Requests"}.get(status, "Error")
    return {
        "Type": None,
        "Title": title,
        "Status": status,
        "Detail": message,
        "Instance": str(uuid.uuid4()),
        "Extensions": {},
    }


class ModelStateError(ApiError):
    """A ``400`` naming the fields at fault, as Xero's ``modelState`` does."""

    def __init__(self, message: str, fields: dict[str, list[str]]) -> None:
        super().__init__(400, message)
        self.fields = fields


async def model_state_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ModelStateError)
    return JSONResponse({"message": exc.message, "modelState": exc.fields}, status_code=400)


async def invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields: dict[str, list[str]] = {}
    for error in exc.errors():
        where = ".".join(str(p) for p in error.get("loc", ())[1:]) or "request"
        fields.setdefault(where, []).append(str(error.get("msg")))
    body = {"message": "The request is invalid.", "modelState": fields}
    return JSONResponse(body, status_code=400)


class CaseInsensitivePaths:
    """Xero's routes ignore case (``/projects/{id}/time`` is ``/Projects/{id}/Time``): the API's
    paths are lowered before routing (ids are UUIDs, compared in lower case)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].lower().startswith(API):
            scope = {**scope, "path": scope["path"].lower()}
        await self.app(scope, receive, send)


def projects_state(request: Request) -> XeroProjectsState:
    state: XeroProjectsState = request.app.state.xero_projects
    return state


def caller(request: Request) -> User:
    """A bearer access token, the ``Xero-Tenant-Id`` of its organisation, then the limits."""
    state = projects_state(request)
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    user_id = state.tokens.get(token) if scheme.lower() == "bearer" else None
    if user_id is None:
        raise ApiError(401, "AuthenticationUnsuccessful", {"WWW-Authenticate": "Bearer"})
    tenant = request.headers.get("xero-tenant-id", "")
    if tenant.lower() != state.tenant_id:
        raise ApiError(403, "AuthenticationUnsuccessful")
    for name, limit in (("minute", request.app.state.minute), ("day", request.app.state.day)):
        assert isinstance(limit, RateLimit)
        try:
            limit.admit(state.tenant_id)
        except ApiError as exc:
            headers = {**(exc.headers or {}), "X-Rate-Limit-Problem": name}
            raise ApiError(429, "Rate limit exceeded", headers) from None
    return state.users[user_id]


Caller = Annotated[User, Depends(caller)]


async def read_json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    return data


def moment(value: object, name: str) -> dt.datetime:
    """An ISO 8601 date and time; one without an offset is UTC (the field says ``Utc``)."""
    if not isinstance(value, str) or "\x00" in value:
        raise ModelStateError("Validation failed.", {name: [f"{name} is not a valid date."]})
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ModelStateError(
            "Validation failed.", {name: [f"{name} is not a valid date."]}
        ) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)


def paging(page: int | None, page_size: int | None, state: XeroProjectsState) -> tuple[int, int]:
    number = 1 if page is None else page
    size = 50 if page_size is None else page_size
    if number < 1:
        raise ModelStateError("Validation failed.", {"page": ["page must be greater than 0."]})
    if not 1 <= size <= 500:
        raise ModelStateError(
            "Validation failed.", {"pageSize": ["pageSize must be between 1 and 500."]}
        )
    return number, min(size, state.max_page_size)
