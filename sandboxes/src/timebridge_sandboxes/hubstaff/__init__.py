"""An in-memory Hubstaff: API v2's organization members, projects, to-dos, daily activities (and
their ``updates`` cursor) and manual time entries.

Built from Hubstaff's Swagger description (``hubstaff-v2-swagger.json``; every test exchange is
validated against it, converted to OpenAPI 3). Played: ``Authorization: Bearer <access token>``
(``401`` ``{"code": "invalid_token", "error": ...}`` otherwise); errors as ``{"code", "error"}``;
``page_start_id``/``page_limit`` paging with ``pagination.next_page_start_id``; daily activities
per user, project, task and organization date in seconds (``tracked``, ``billable``), listed by
``date[start]``/``date[stop]`` (inclusive) or changed-in ``updated[start]``/``updated[stop]``;
``POST /v2/users/{id}/time_entries`` adding manual time (``201``); members visible to managers;
the account server's ``POST /access_tokens`` exchanging a personal access token or refresh token
for an access token and a new refresh token (rotation: a used one is ``400 invalid_grant``).

Assumed where the description is silent: deleting a day's time keeps its daily activity with
``tracked`` 0 (so ``updates`` lists the deletion); the rate limit is 1,000 requests an hour.

Webhooks (verification echo, activation, ``X-Hook-Signature``, ``timer.stop``): :mod:`.webhooks`.

Admin API (besides :mod:`~timebridge_sandboxes.faults`' ``/_sandbox/reset`` and ``/faults``):
``POST /_sandbox/daily_activities/{id}/delete_time``, ``POST /_sandbox/users/{id}/track`` (the
desktop app's tracked time, then ``timer.stop``), ``POST /_sandbox/webhooks/{id}/deactivate``.
"""

import httpx
from fastapi import FastAPI

from timebridge_sandboxes.faults import ApiError, Faults, RateLimit, install
from timebridge_sandboxes.hubstaff.oauth import consent
from timebridge_sandboxes.hubstaff.routes import LIMIT, admin, api, api_error, error_body, tokens
from timebridge_sandboxes.hubstaff.state import HubstaffState
from timebridge_sandboxes.hubstaff.webhooks import HubstaffHooks, hooks_admin, hooks_api


def demo_hubstaff(
    token: str, member_token: str, personal_access_token: str | None = None
) -> HubstaffState:
    """Ann (organization manager, Berlin) and Max (project user) with the Core demo's emails; the
    project "Website" with the to-do "Fix the login page". Ann's ``personal_access_token`` (a
    refresh token) is exchanged at ``POST /access_tokens``."""
    state = HubstaffState()
    ann = state.add_user(
        "Ann Admin", "ann@example.com", token, "Europe/Berlin", "organization_manager"
    )
    state.add_user(
        "Max Member", "max@example.com", member_token, "America/New_York", "project_user"
    )
    state.add_task(state.add_project("Website"), "Fix the login page", ann.id)
    if personal_access_token:
        state.refresh_tokens[personal_access_token] = ann.id
    return state


def create_hubstaff_sandbox(
    state: HubstaffState | None = None,
    faults: Faults | None = None,
    *,
    limit: RateLimit | None = None,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    deliver_over_network: bool = False,
) -> FastAPI:
    """``webhook_transport`` carries hooks' verification requests and deliveries (tests:
    in-process); ``deliver_over_network`` sends them over HTTP (``timebridge-sandbox hubstaff``)."""
    state = state if state is not None else HubstaffState()
    faults = faults if faults is not None else Faults()
    app = FastAPI(title="Hubstaff sandbox")
    app.state.hubstaff = state
    app.state.hubstaff_hooks = HubstaffHooks()
    app.state.webhook_transport = webhook_transport
    app.state.deliver_over_network = deliver_over_network
    app.state.limit = limit if limit is not None else RateLimit(*LIMIT)
    install(app, faults, app.state.limit, state.reset, error_body)
    app.add_exception_handler(ApiError, api_error)
    app.include_router(api)
    app.include_router(hooks_api)
    app.include_router(admin)
    app.include_router(hooks_admin)
    app.include_router(consent)  # an app's consent at the account server: .oauth
    app.include_router(tokens)
    return app


__all__ = ["HubstaffState", "create_hubstaff_sandbox", "demo_hubstaff"]
