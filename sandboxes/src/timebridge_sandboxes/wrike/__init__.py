"""An in-memory Wrike (API v4: contacts, folders and projects, tasks, timelogs).

Built from Wrike's documentation (developers.wrike.com; no OpenAPI description of it is in
``../shared/provider-specs``, and Wrike publishes no official Python SDK). Played: ``Authorization:
Bearer`` (``401`` otherwise); ``{"kind", "data"}`` answers; errors ``{"errorDescription",
"error"}`` with Wrike's codes; parameters in the query string or a form body; timelogs in decimal
hours with a ``trackedDate``, ``billingType``, filtered by ``updatedDate``/``trackedDate`` ranges;
only the token's own timelogs writable; a per-token limit answered ``429`` with ``Retry-After``.

Assumed where the documentation is silent: a change of an approved timelog is ``403`` "Timelog is
approved and locked ...". Webhooks (the secret's handshake, ``TimelogChanged`` deliveries signed
``X-Request-Hash``): :mod:`.webhooks`. OAuth 2.0 (consent page, token endpoint): :mod:`.oauth`.

Admin API (besides :mod:`~timebridge_sandboxes.faults`' ``/_sandbox/reset`` and ``/faults``):
``POST /_sandbox/timelogs/{id}/approve``, ``POST /_sandbox/webhooks/{id}/suspend``.
"""

from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from timebridge_sandboxes.faults import Faults, RateLimit, install
from timebridge_sandboxes.wrike.oauth import consent, login
from timebridge_sandboxes.wrike.routes import admin, api
from timebridge_sandboxes.wrike.state import WrikeState
from timebridge_sandboxes.wrike.webhooks import WrikeHooks, hooks_admin, hooks_api, timelog_changed

LIMIT = (400, 60.0)
_CODES = {
    400: "invalid_request",
    401: "not_authorized",
    403: "access_forbidden",
    404: "resource_not_found",
    429: "rate_limit_exceeded",
}


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"errorDescription": message, "error": _CODES.get(status, "server_error")}


def demo_wrike(token: str, member_token: str) -> WrikeState:
    """Ann (Berlin) and Max (New York) with the Core demo's emails; the project "Website" with
    the task "Fix the login page"."""
    state = WrikeState()
    state.add_contact("Ann", "Admin", "ann@example.com", token, "Europe/Berlin")
    state.add_contact("Max", "Member", "max@example.com", member_token, "America/New_York")
    project = state.add_project("Website")
    state.add_task(project.id, "Fix the login page")
    return state


def create_wrike_sandbox(
    state: WrikeState | None = None,
    faults: Faults | None = None,
    *,
    limit: RateLimit | None = None,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    deliver_over_network: bool = False,
) -> FastAPI:
    """``webhook_transport`` carries hooks' handshakes and deliveries (tests: in-process);
    ``deliver_over_network`` sends them over HTTP (``timebridge-sandbox wrike``)."""
    state = state if state is not None else WrikeState()
    app = FastAPI(title="Wrike sandbox")
    app.state.wrike = state
    app.state.wrike_hooks = WrikeHooks()
    app.state.timelog_changed = timelog_changed
    app.state.webhook_transport = webhook_transport
    app.state.deliver_over_network = deliver_over_network
    app.state.limit = limit if limit is not None else RateLimit(*LIMIT)
    install(app, faults or Faults(), app.state.limit, state.reset, error_body)

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(error_body(400, str(exc)), status_code=400)

    app.add_exception_handler(RequestValidationError, invalid)
    app.include_router(consent)  # OAuth 2.0 (login.wrike.com): .oauth
    app.include_router(login)
    app.include_router(api)
    app.include_router(hooks_api)
    app.include_router(admin)
    app.include_router(hooks_admin)
    return app


__all__ = ["WrikeState", "create_wrike_sandbox", "demo_wrike"]
