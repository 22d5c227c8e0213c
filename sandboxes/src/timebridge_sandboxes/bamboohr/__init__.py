"""An in-memory BambooHR (API v1: employees, the directory, time off), from
``bamboohr-openapi.yaml``.

Played: Basic auth with the API key as user name and any password (``401`` otherwise); errors as
BambooHR sends them, a status with an empty body and ``X-BambooHR-Error-Message``; throttling as
``503`` with ``Retry-After`` (the shared fault switches); ``GET /api/v1/employees/0`` (the key's
own employee) with ``fields``; the directory (``404`` when empty, ``403`` when not shared);
``GET /api/v1/time_off/requests`` (``start`` and ``end`` required, ``400`` otherwise; requests
overlapping them, of every status unless ``status`` filters; ``dates`` per day, ``amount`` in
the type's unit); ``GET /api/v1/time_off/whos_out``; creating a request
(``PUT /api/v1/employees/{id}/time_off/request``, ``201`` with ``Location``; ``previousRequest``
is cancelled) and changing its status (``PUT /api/v1/time_off/requests/{id}/status``: approved,
denied/declined, canceled/cancelled), each change dated in the company's calendar.

Not played: XML answers (``406`` asks for ``Accept: application/json``), OAuth, webhooks.
"""

import datetime as dt
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import Response

from timebridge_sandboxes.bamboohr.routes import api, error_body
from timebridge_sandboxes.bamboohr.state import BambooHrState
from timebridge_sandboxes.faults import ApiError, Faults, RateLimit, install

RATE_LIMIT = (100, 60.0)


async def _api_error(_: Request, exc: Exception) -> Response:
    """BambooHR's error: the status, no body, the reason in ``X-BambooHR-Error-Message``."""
    assert isinstance(exc, ApiError)
    headers = {"X-BambooHR-Error-Message": exc.message, **(exc.headers or {})}
    return Response(status_code=exc.status, headers=headers)


def demo_bamboohr(
    api_key: str, member_key: str, *, today: Callable[[], dt.date] | None = None
) -> BambooHrState:
    """Company ``acme``: Ann (HR admin, ``api_key``) and Max (``member_key``) with the Core
    demo's emails; the types Vacation and Sick (hours) and Parental leave (days)."""
    state = BambooHrState() if today is None else BambooHrState(today=today)
    state.add_employee("Ann", "Admin", "ann@example.com", api_key)
    state.add_employee("Max", "Member", "max@example.com", member_key)
    state.add_type(78, "Vacation", "hours")
    state.add_type(79, "Sick", "hours")
    state.add_type(80, "Parental leave", "days")
    return state


def create_bamboohr_sandbox(
    state: BambooHrState | None = None,
    faults: Faults | None = None,
    *,
    rate_limit: RateLimit | None = None,
) -> FastAPI:
    state = state if state is not None else BambooHrState()
    faults = faults if faults is not None else Faults()
    limit = rate_limit if rate_limit is not None else RateLimit(*RATE_LIMIT)
    app = FastAPI(title="BambooHR sandbox")
    app.state.bamboohr = state
    install(app, faults, limit, state.reset, error_body)
    app.add_exception_handler(ApiError, _api_error)  # replaces the JSON one: BambooHR's shape
    app.include_router(api)
    return app


__all__ = ["BambooHrState", "create_bamboohr_sandbox", "demo_bamboohr"]
