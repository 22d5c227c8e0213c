"""An in-memory Clockify (API v1 and the summary report), from ``clockify-v1-openapi.yaml``.

Played: ``X-Api-Key`` (``401`` ``{"message", "code"}`` otherwise); 50 requests a second per key
(``429``); ``page``/``page-size`` lists with the ``Last-Page`` header; time entries per user
filtered by ``start``/``end``, created for oneself or (admins) for others, replaced by ``PUT``,
deleted by ``DELETE`` (``204``), durations as ISO 8601 in ``timeInterval``; users with
``settings.timeZone``; projects and tasks (creating one); webhooks per event with deliveries
carrying ``Clockify-Signature: <authToken>``; the summary report by two groups on
the reports path (``/report/v1``, as on regional hosts; ``reports.api.clockify.me`` in
production).

Assumed: a locked entry's write is ``400`` "Time entry is locked ...".

Admin API (besides the fault switches): ``POST /_sandbox/time-entries/{id}/lock``.
"""

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from timebridge_sandboxes.clockify.hooks import announce, hooks
from timebridge_sandboxes.clockify.routes import admin, api, error_body, reports
from timebridge_sandboxes.clockify.state import ClockifyState
from timebridge_sandboxes.faults import ApiError, Faults, RateLimit, error_response, install

RATE_LIMIT = (50, 1.0)


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    """A malformed parameter is Clockify's ``400`` ``{"message", "code"}``, never FastAPI's 422."""
    assert isinstance(exc, RequestValidationError)
    where = ", ".join(".".join(str(p) for p in e.get("loc", ())) for e in exc.errors())
    return error_response(error_body, ApiError(400, f"Invalid request parameters ({where})"))


def demo_clockify(api_key: str, member_key: str) -> ClockifyState:
    """Ann (admin, Berlin) and Max (member) with the Core demo's emails; the project "Website"
    with the task "Fix the login page"."""
    state = ClockifyState()
    state.add_user("Ann Admin", "ann@example.com", api_key, "Europe/Berlin")
    state.add_user("Max Member", "max@example.com", member_key, "America/New_York", admin=False)
    state.add_task(state.add_project("Website"), "Fix the login page")
    return state


def create_clockify_sandbox(
    state: ClockifyState | None = None,
    faults: Faults | None = None,
    *,
    rate_limit: RateLimit | None = None,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    deliver_over_network: bool = False,
) -> FastAPI:
    """The sandbox app; webhook deliveries go through ``webhook_transport`` (in-process tests)
    or, with ``deliver_over_network``, over the net."""
    state = state if state is not None else ClockifyState()
    faults = faults if faults is not None else Faults()
    limit = rate_limit if rate_limit is not None else RateLimit(*RATE_LIMIT)
    app = FastAPI(title="Clockify sandbox")
    app.state.clockify = state
    app.state.limit = limit
    app.state.hooks = {}
    app.state.announce = announce
    app.state.webhook_transport = webhook_transport
    app.state.deliver_over_network = deliver_over_network
    install(app, faults, limit, state.reset, error_body)
    app.add_exception_handler(RequestValidationError, _invalid)
    for router in (hooks, api, reports, admin):
        app.include_router(router)
    return app


__all__ = ["ClockifyState", "create_clockify_sandbox", "demo_clockify"]
