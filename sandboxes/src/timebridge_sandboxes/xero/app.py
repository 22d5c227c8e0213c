"""The sandbox app: routers, limits, faults and Xero's error bodies put together."""

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from timebridge_sandboxes.faults import ApiError, Faults, RateLimit, error_response, install
from timebridge_sandboxes.xero.accounting import api
from timebridge_sandboxes.xero.admin import admin
from timebridge_sandboxes.xero.banking import banking
from timebridge_sandboxes.xero.identity import identity
from timebridge_sandboxes.xero.listing import _InFlight
from timebridge_sandboxes.xero.rules import _Sandbox
from timebridge_sandboxes.xero.state import (
    DAILY_LIMIT,
    RATE_LIMIT,
    Invalid,
    XeroState,
    _error_body,
    _validation_error,
)


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    """A malformed request is Xero's ``400`` ``ValidationException``."""
    assert isinstance(exc, RequestValidationError)
    message = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
    return error_response(_error_body, ApiError(400, message))


async def _element_invalid(_: Request, exc: Exception) -> JSONResponse:
    """A refused element: Xero's ``ValidationException`` with the element echoed."""
    assert isinstance(exc, Invalid)
    return JSONResponse(_validation_error(exc.message, exc.element), status_code=400)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error_response(_error_body, ApiError(exc.status_code, str(exc.detail)))


def create_xero_sandbox(
    state: XeroState | None = None,
    faults: Faults | None = None,
    *,
    rate_limit: RateLimit | None = None,
    daily_limit: RateLimit | None = None,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """The sandbox app; ``webhook_transport`` is how webhooks reach the receiver in tests."""
    sandbox = _Sandbox(
        state if state is not None else XeroState(),
        rate_limit if rate_limit is not None else RateLimit(*RATE_LIMIT),
        daily_limit if daily_limit is not None else RateLimit(*DAILY_LIMIT),
        webhook_transport,
    )
    app = FastAPI(title="Xero sandbox")
    app.state.sandbox = sandbox
    install(app, faults or Faults(), sandbox.limit, sandbox.reset, _error_body)
    app.add_middleware(_InFlight, state=sandbox.state, minute=sandbox.limit, day=sandbox.daily)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Invalid, _element_invalid)
    for router in (identity, api, banking, admin):
        app.include_router(router)
    return app
