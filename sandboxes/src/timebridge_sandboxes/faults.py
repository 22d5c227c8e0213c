"""What every sandbox shares: fault switches, a per-key rate limit, errors, and their admin API.

A provider's misbehaviour (``429`` storms, ``5xx``, slow answers, answers lost after the write was
applied) is the same whichever provider it is; only the shape of its error body differs, so each
sandbox passes :func:`install` a function that renders its provider's error JSON.
"""

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WRITE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})

ErrorBody = Callable[[int, str], dict[str, Any]]
"""A provider's error JSON for a status and a message."""


class ApiError(Exception):
    """Answer ``status`` with the provider's error body; raised by routes and by the faults."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


@dataclass
class RateLimit:
    """A provider's limit of ``requests`` per ``window_s`` per key, over a sliding window."""

    requests: int
    window_s: float
    clock: Callable[[], float] = time.monotonic
    _seen: dict[str, deque[float]] = field(default_factory=dict)

    def forget(self) -> None:
        self._seen.clear()

    def remaining(self, key: str) -> int:
        """How many more requests ``key`` may make in the current window (rate-limit headers)."""
        return max(0, self.requests - len(self._window(key)))

    def _window(self, key: str) -> deque[float]:
        seen = self._seen.setdefault(key, deque())
        while seen and seen[0] <= self.clock() - self.window_s:
            seen.popleft()
        return seen

    def admit(self, key: str) -> None:
        """Record a request, or refuse it with ``429`` and the whole seconds to wait."""
        now = self.clock()
        seen = self._window(key)
        if len(seen) >= self.requests:
            wait = max(1, int(seen[0] + self.window_s - now + 0.999))
            raise ApiError(429, "Too many requests", {"Retry-After": str(wait)})
        seen.append(now)


@dataclass
class Faults:
    """Switchable misbehaviour; each switch applies to the next requests until used up."""

    clock: Callable[[], float] = time.monotonic
    rate_limited_requests: int = 0
    rate_limited_until: float = float("-inf")
    retry_after_s: int = 1
    server_errors: int = 0
    server_error_status: int = 503
    slow_s: float = 0.0
    lost_responses: int = 0
    lost_response_delay_s: float = 30.0

    def rate_limit_storm(
        self, *, requests: int = 0, seconds: float = 0.0, retry_after_s: int = 1
    ) -> None:
        """Answer ``429`` to the next ``requests`` requests and to all for ``seconds``."""
        self.rate_limited_requests = requests
        self.rate_limited_until = self.clock() + seconds if seconds else float("-inf")
        self.retry_after_s = retry_after_s

    def fail_next(self, count: int, *, status: int = 503) -> None:
        """Answer ``status`` to the next ``count`` requests without touching the data."""
        self.server_errors = count
        self.server_error_status = status

    def slow_down(self, seconds: float) -> None:
        """Delay every answer by ``seconds`` (0 switches it off)."""
        self.slow_s = seconds

    def lose_next_responses(self, count: int, *, delay_s: float = 30.0) -> None:
        """Apply the next ``count`` writes, then hold the answer ``delay_s`` (past the timeout)."""
        self.lost_responses = count
        self.lost_response_delay_s = delay_s

    def clear(self) -> None:
        self.rate_limit_storm()
        self.fail_next(0)
        self.slow_down(0.0)
        self.lose_next_responses(0)

    def snapshot(self) -> dict[str, Any]:
        return {
            "rate_limited_requests": self.rate_limited_requests,
            "rate_limited_for_s": max(0.0, self.rate_limited_until - self.clock()),
            "retry_after_s": self.retry_after_s,
            "server_errors": self.server_errors,
            "server_error_status": self.server_error_status,
            "slow_s": self.slow_s,
            "lost_responses": self.lost_responses,
            "lost_response_delay_s": self.lost_response_delay_s,
        }

    def take_rejection(self) -> ApiError | None:
        if self.rate_limited_requests > 0 or self.clock() < self.rate_limited_until:
            self.rate_limited_requests = max(0, self.rate_limited_requests - 1)
            return ApiError(429, "Too many requests", {"Retry-After": str(self.retry_after_s)})
        if self.server_errors > 0:
            self.server_errors -= 1
            return ApiError(self.server_error_status, "Service unavailable")
        return None

    def take_lost_response(self, method: str) -> float | None:
        if method in WRITE_METHODS and self.lost_responses > 0:
            self.lost_responses -= 1
            return self.lost_response_delay_s
        return None


def error_response(error_body: ErrorBody, exc: ApiError) -> JSONResponse:
    return JSONResponse(
        error_body(exc.status, exc.message), status_code=exc.status, headers=exc.headers
    )


class _FaultMiddleware:
    """Applies the switches to every request outside the admin API ``/_sandbox``."""

    def __init__(self, app: ASGIApp, faults: Faults, error_body: ErrorBody) -> None:
        self.app = app
        self.faults = faults
        self.error_body = error_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox"):
            await self.app(scope, receive, send)
            return
        if self.faults.slow_s:
            await asyncio.sleep(self.faults.slow_s)
        rejection = self.faults.take_rejection()
        if rejection is not None:
            await error_response(self.error_body, rejection)(scope, receive, send)
            return
        delay = self.faults.take_lost_response(scope["method"])
        if delay is None:
            await self.app(scope, receive, send)
            return
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        await asyncio.sleep(delay)
        for message in held:
            await send(message)


class _FaultsIn(BaseModel):
    rate_limited_requests: int = Field(default=0, ge=0)
    rate_limited_for_s: float = Field(default=0.0, ge=0)
    retry_after_s: int = Field(default=1, ge=0)
    server_errors: int = Field(default=0, ge=0)
    server_error_status: int = Field(default=503, ge=500, le=599)
    slow_s: float = Field(default=0.0, ge=0)
    lost_responses: int = Field(default=0, ge=0)
    lost_response_delay_s: float = Field(default=30.0, ge=0)


@dataclass(frozen=True)
class _Plumbing:
    faults: Faults
    limit: RateLimit
    reset_data: Callable[[], None]


_admin = APIRouter(prefix="/_sandbox", tags=["sandbox"])


def _plumbing(request: Request) -> _Plumbing:
    plumbing: _Plumbing = request.app.state.plumbing
    return plumbing


def _faults(request: Request) -> Faults:
    return _plumbing(request).faults


@_admin.post("/reset", status_code=204)
async def reset(request: Request) -> Response:
    plumbing = _plumbing(request)
    plumbing.reset_data()
    plumbing.faults.clear()
    plumbing.limit.forget()
    return Response(status_code=204)


@_admin.get("/faults")
async def get_faults(request: Request) -> dict[str, Any]:
    return _faults(request).snapshot()


@_admin.post("/faults")
async def set_faults(request: Request, body: _FaultsIn) -> dict[str, Any]:
    faults = _faults(request)
    faults.rate_limit_storm(
        requests=body.rate_limited_requests,
        seconds=body.rate_limited_for_s,
        retry_after_s=body.retry_after_s,
    )
    faults.fail_next(body.server_errors, status=body.server_error_status)
    faults.slow_down(body.slow_s)
    faults.lose_next_responses(body.lost_responses, delay_s=body.lost_response_delay_s)
    return faults.snapshot()


@_admin.delete("/faults")
async def clear_faults(request: Request) -> dict[str, Any]:
    _faults(request).clear()
    return _faults(request).snapshot()


def install(
    app: FastAPI,
    faults: Faults,
    limit: RateLimit,
    reset_data: Callable[[], None],
    error_body: ErrorBody,
) -> None:
    """Give ``app`` the fault switches, its errors in the provider's shape, and the admin routes
    ``POST /_sandbox/reset`` (the data, the faults, the rate-limit windows) and
    ``GET|POST|DELETE /_sandbox/faults``."""

    async def api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(error_body, exc)

    app.state.plumbing = _Plumbing(faults, limit, reset_data)
    app.add_middleware(_FaultMiddleware, faults=faults, error_body=error_body)
    app.add_exception_handler(ApiError, api_error)
    app.include_router(_admin)
