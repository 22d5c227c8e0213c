"""What every route of the ClickUp sandbox shares: errors, authentication, limits, bodies."""

import json
from typing import Annotated, Any

import httpx
from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from timebridge_sandboxes.clickup.state import ClickUpState, User
from timebridge_sandboxes.faults import ApiError

LIMIT = (100, 60.0)
"""Requests a minute per token (Free Forever, Unlimited and Business plans)."""

ECODES = {400: "INPUT_003", 401: "OAUTH_025", 404: "ITEM_015", 429: "APP_002", 500: "APP_001"}


class ClickUpError(ApiError):
    """An error with ClickUp's own ``ECODE``."""

    def __init__(self, status: int, message: str, ecode: str) -> None:
        super().__init__(status, message)
        self.ecode = ecode


def error_body(status: int, message: str) -> dict[str, Any]:
    """ClickUp's error shape: ``{"err": ..., "ECODE": ...}``."""
    return {"err": message, "ECODE": ECODES.get(status, "APP_001" if status >= 500 else "")}


async def api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    body = error_body(exc.status, exc.message)
    if isinstance(exc, ClickUpError):
        body["ECODE"] = exc.ecode
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


async def invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    where = ", ".join(
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
    )
    return JSONResponse({"err": f"Invalid request ({where})", "ECODE": "INPUT_005"}, 400)


def clickup_state(request: Request) -> ClickUpState:
    state: ClickUpState = request.app.state.clickup
    return state


def caller(request: Request) -> User:
    """``Authorization: pk_...`` (a personal token) or ``Bearer <OAuth token>``; then the limit."""
    value = request.headers.get("authorization", "").strip()
    token = value[7:].strip() if value[:7].lower() == "bearer " else value
    user = clickup_state(request).user_by_token(token or None)
    if user is None:
        raise ClickUpError(401, "Token invalid", "OAUTH_025")
    request.app.state.limit.admit(user.token)
    return user


Caller = Annotated[User, Depends(caller)]


def team(request: Request, team_id: str) -> ClickUpState:
    state = clickup_state(request)
    if team_id != str(state.team_id):
        raise ClickUpError(401, "Team not authorized", "OAUTH_027")
    return state


async def read_json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ClickUpError(400, "Body is not valid JSON", "INPUT_001") from None
    if not isinstance(data, dict):
        raise ClickUpError(400, "Body must be an object", "INPUT_001")
    if "\x00" in raw.decode("utf-8", "replace"):
        raise ClickUpError(400, "Body holds a NUL character", "INPUT_002")
    return data


async def deliver(request: Request) -> None:
    """Send the deliveries queued since the last call, through the webhook transport given
    (tests: in-process) or over the network (``timebridge-sandbox clickup``)."""
    state = clickup_state(request)
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
                continue  # ClickUp retries and counts failures; the outbox keeps it
