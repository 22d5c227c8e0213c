"""The sandbox app: routers, the rate limit, faults and FreshBooks' error bodies put together."""

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from timebridge_sandboxes.faults import Faults, RateLimit, install
from timebridge_sandboxes.freshbooks.accounting import api
from timebridge_sandboxes.freshbooks.admin import admin
from timebridge_sandboxes.freshbooks.auth import auth
from timebridge_sandboxes.freshbooks.events import events
from timebridge_sandboxes.freshbooks.rules import _Sandbox
from timebridge_sandboxes.freshbooks.state import (
    ERRNO,
    INVALID_VALUE,
    PARSE_ERROR,
    RATE_LIMIT,
    FreshBooksState,
    Refused,
    _error_body,
    _Refusal,
)
from timebridge_sandboxes.freshbooks.wire import _problems


async def _refused(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, _Refusal)
    return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)


async def _invalid(_: Request, exc: Exception) -> JSONResponse:
    """A body that is not a JSON object: errno 1005 (ParseError); a bad parameter: 1004."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    unparsed = any(e["loc"][:1] == ("body",) for e in errors)
    refusal = Refused(
        400,
        PARSE_ERROR if unparsed else INVALID_VALUE,
        "; ".join(_problems(errors)),
        field=".".join(map(str, errors[0]["loc"][1:])) or None if errors else None,
    )
    return JSONResponse(refusal.body, status_code=400)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    """Starlette's own refusals (an unparsable body, an unknown route) in FreshBooks' shape."""
    assert isinstance(exc, HTTPException)
    errno = PARSE_ERROR if exc.status_code == 400 else ERRNO.get(exc.status_code, exc.status_code)
    refusal = Refused(exc.status_code, errno, str(exc.detail))
    return JSONResponse(refusal.body, status_code=exc.status_code, headers=exc.headers)


async def _accounting_refusal(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Refused)
    return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)


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
        exception_handlers={
            _Refusal: _refused,
            Refused: _accounting_refusal,
            RequestValidationError: _invalid,
            HTTPException: _http_error,
        },
    )
    app.state.sandbox = sandbox
    install(app, sandbox.faults, limit, sandbox.state.reset, _error_body)
    for router in (auth, api, events, admin):
        app.include_router(router)
    return app
