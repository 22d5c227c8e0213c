"""What every route of the Toggl sandbox shares: errors, authentication, limits, bodies."""

import base64
import json
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from timebridge_sandboxes.faults import ApiError, RateLimit
from timebridge_sandboxes.toggl.state import TogglState, User

BUCKET = (60, 60.0)
"""The leaky bucket: about one request a second (Toggl: "a safe window is 1 request per
second"), answered ``429`` with ``Retry-After`` when exceeded."""
API_TOKEN_WORD = "api_token"  # noqa: S105 - the documented literal password, not a secret
QUOTA = (240, 3600.0)
"""The hourly quota per user and organisation (the Starter plan), answered ``402``."""


def error_body(status: int, message: str) -> dict[str, Any]:
    """The fault switches' error body (Toggl's own routes answer a JSON string)."""
    return {"error": message, "status": status}


async def api_error(_: Request, exc: Exception) -> JSONResponse:
    """Toggl answers errors with a JSON string (``"Incorrect username and/or password"``)."""
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.message, status_code=exc.status, headers=exc.headers)


async def invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    where = ", ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
    )
    return JSONResponse(f"Invalid request ({where})", status_code=400)


def toggl_state(request: Request) -> TogglState:
    state: TogglState = request.app.state.toggl
    return state


def caller(request: Request) -> User:
    """Basic authentication with ``<api token>:api_token``, then the bucket and the quota."""
    state = toggl_state(request)
    auth = request.headers.get("authorization", "")
    token = None
    if auth[:6].lower() == "basic ":
        try:
            name, _, password = base64.b64decode(auth[6:], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            name, password = "", ""
        token = name if password == API_TOKEN_WORD else None
    user = state.user_by_token(token)
    if user is None or user.inactive:
        raise ApiError(403, "Incorrect username and/or password")
    request.app.state.bucket.admit(user.token)
    quota: RateLimit = request.app.state.quota
    try:
        quota.admit(user.token)
    except ApiError:
        raise ApiError(
            402,
            "You have hit your hourly limit for API calls. Your quota will reset in 3600 seconds.",
            {"X-Toggl-Quota-Remaining": "0", "X-Toggl-Quota-Resets-In": "3600"},
        ) from None
    return user


Caller = Annotated[User, Depends(caller)]


def workspace(request: Request, workspace_id: int) -> TogglState:
    state = toggl_state(request)
    if workspace_id != state.workspace_id:
        raise ApiError(403, "User does not have access to this resource.")
    return state


async def read_json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "JSON is not valid") from None
    if not isinstance(data, dict):
        raise ApiError(400, "JSON is not valid")
    return data


async def deliver(request: Request) -> None:
    """Send the deliveries queued since the last call to their subscribers, if a transport
    to them was given (tests pass one in-process; ``timebridge-sandbox toggl`` uses the net)."""
    state = toggl_state(request)
    transport: httpx.AsyncBaseTransport | None = request.app.state.webhook_transport
    sent: int = request.app.state.delivered
    pending, request.app.state.delivered = state.outbox[sent:], len(state.outbox)
    if transport is None and not request.app.state.deliver_over_network:
        return
    async with httpx.AsyncClient(transport=transport, timeout=5.0) as client:
        for delivery in pending:
            try:
                await client.post(delivery.url, content=delivery.body, headers=delivery.headers)
            except httpx.HTTPError:
                continue  # Toggl retries later; the sandbox keeps it in the outbox
