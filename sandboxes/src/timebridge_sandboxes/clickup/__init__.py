"""An in-memory ClickUp: API v2's time tracking, workspace, Spaces, Lists, tasks and webhooks.

Built from ClickUp's OpenAPI description (``clickup-v2-openapi.json``, every test exchange is
validated against it) and developer docs. Played: ``Authorization: pk_...`` or ``Bearer
<token>`` (``401`` ``{"err": "Token invalid", "ECODE": "OAUTH_025"}`` otherwise); errors as
``{"err", "ECODE"}``; 100 requests a minute per token (``429``); time entries in milliseconds
(strings in answers), negative duration while running, listed by ``start_date``/``end_date``
(default: the last 30 days) and ``assignee`` (owners and admins only), created with ``start`` and
``duration`` or ``end``/``stop``, ``PUT`` with ``tags`` required and ``start`` only with ``end``,
``DELETE``, ``POST .../start`` and ``.../stop`` (a timer for the caller; starting one stops the
one running); the workspace's members, Spaces, folderless Lists, tasks (pages of 100,
``last_page``), task creation; webhooks (``taskTimeTrackedUpdated`` deliveries signed
``X-Signature``, ``health.status``, re-activation by ``PUT status: active``).

Assumed where the documentation is silent: a change of an approved entry is ``400`` "Time entry
is approved and locked"; the create answer carries both the spec's flat shape and ClickUp's real
``{"data": {...}}``; a time entry needs a task (the plan's limit on entries without one).

Admin API (besides :mod:`~timebridge_sandboxes.faults`' ``/_sandbox/reset`` and ``/faults``):
``POST /_sandbox/time_entries/{id}/lock``, ``POST /_sandbox/webhooks/{id}/suspend``, ``GET
/_sandbox/outbox``.
"""

import httpx
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from timebridge_sandboxes.clickup.http import LIMIT, api_error, error_body, invalid
from timebridge_sandboxes.clickup.state import ClickUpState
from timebridge_sandboxes.clickup.time_entries import router as time_router
from timebridge_sandboxes.clickup.workspace import admin, api
from timebridge_sandboxes.faults import ApiError, Faults, RateLimit, install


def demo_clickup(token: str, member_token: str) -> ClickUpState:
    """Ann (owner, Berlin) and Max (member, New York) with the Core demo's emails; the Space
    "Acme" with the List "Website" and its task "Fix the login page"."""
    state = ClickUpState()
    state.add_user("Ann Admin", "ann@example.com", token, "Europe/Berlin")
    state.add_user("Max Member", "max@example.com", member_token, "America/New_York", admin=False)
    website = state.add_list(state.add_space("Acme"), "Website")
    state.add_task(website, "Fix the login page")
    return state


def create_clickup_sandbox(
    state: ClickUpState | None = None,
    faults: Faults | None = None,
    *,
    limit: RateLimit | None = None,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    deliver_over_network: bool = False,
) -> FastAPI:
    """The sandbox app, with its fault switches and admin routes."""
    state = state if state is not None else ClickUpState()
    faults = faults if faults is not None else Faults()
    app = FastAPI(title="ClickUp sandbox")
    app.state.clickup = state
    app.state.limit = limit if limit is not None else RateLimit(*LIMIT)
    app.state.webhook_transport = webhook_transport
    app.state.deliver_over_network = deliver_over_network
    app.state.delivered = 0

    def reset() -> None:
        state.reset()
        app.state.delivered = 0

    install(app, faults, app.state.limit, reset, error_body)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, invalid)
    for router in (api, time_router, admin):
        app.include_router(router)
    return app


__all__ = ["ClickUpState", "create_clickup_sandbox", "demo_clickup"]
