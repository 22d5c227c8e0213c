"""The sandbox app: routers, the rate limit, faults and FreshBooks' error bodies put together."""

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from timebridge_sandboxes.faults import ApiError, Faults, RateLimit, error_response, install
from timebridge_sandboxes.freshbooks.accounting import api
from timebridge_sandboxes.freshbooks.admin import admin
from timebridge_sandboxes.freshbooks.auth import auth
from timebridge_sandboxes.freshbooks.events import events
from timebridge_sandboxes.freshbooks.rules import _Sandbox
from timebridge_sandboxes.freshbooks.state import RATE_LIMIT, FreshBooksState, _error_body, _Refusal
from timebridge_sandboxes.freshbooks.wire import _problems


async def _refused(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, _Refusal)
    return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(_error_body, ApiError(400, "; ".join(_problems(exc.errors()))))


def create_freshbooks_sandbox(
    state: FreshBooksState | None = None,
    faults: Faults | None = None,
    *,
    rate_limit: RateLimit | None = None,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The sandbox app; ``webhook_transport`` lets tests receive webhooks without a socket."""
    limit = rate_limit or RateLimit(*RATE_LIMIT)
    sandbox = _Sandbox(state or FreshBooksState(), faults or Faults(), limit, webhook_transport)
    app = FastAPI(
        title="FreshBooks sandbox",
        exception_handlers={_Refusal: _refused, RequestValidationError: _invalid},
    )
    app.state.sandbox = sandbox
    install(app, sandbox.faults, limit, sandbox.state.reset, _error_body)
    for router in (auth, api, events, admin):
        app.include_router(router)
    return app
