"""An in-memory Toggl Track: API v9, Reports API v3's summary and Webhooks API v1.

Built from Toggl's documentation (engineering.toggl.com/docs; no OpenAPI description is
published, and Toggl has no official Python SDK - the community TogglPy speaks the retired v8).
Played: Basic authentication ``<api token>:api_token`` (``403`` "Incorrect username and/or
password" otherwise); errors as a JSON string; the leaky bucket (``429`` with ``Retry-After``)
and the hourly quota (``402`` with ``X-Toggl-Quota-Remaining``/``-Resets-In``); time entries in
seconds, negative while running, ``start``/``stop`` RFC 3339, ``created_with`` required,
``user_id`` for an admin logging for a member, ``PUT`` changing only what is sent, ``PATCH
.../stop``, ``DELETE`` leaving ``server_deleted_at`` seen by ``GET /me/time_entries?since=``;
billable and tasks only on a paid plan (``402``); workspace users, projects (``page``/
``per_page``), tasks; the summary by users/projects/tasks with dates in each user's zone;
webhook subscriptions with a secret, a validation ping (``validation_code``) and
``X-Webhook-Signature-256: sha256=<hmac>`` deliveries.

Assumed where the documentation is silent: a locked entry's change is ``403`` "Time entry is
locked ..."; a ``start_date`` given as a date is midnight in the user's zone.

Admin API (besides :mod:`~timebridge_sandboxes.faults`' ``/_sandbox/reset`` and ``/faults``):
``POST /_sandbox/time_entries/{id}/lock``, ``GET /_sandbox/outbox`` (deliveries sent).
"""

import httpx
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from timebridge_sandboxes.faults import ApiError, Faults, RateLimit, install
from timebridge_sandboxes.toggl.http import BUCKET, QUOTA, api_error, error_body, invalid
from timebridge_sandboxes.toggl.state import TogglState
from timebridge_sandboxes.toggl.time_entries import router as time_router
from timebridge_sandboxes.toggl.workspace import admin, api, hooks, reports


def demo_toggl(token: str, member_token: str) -> TogglState:
    """Ann (admin, Berlin) and Max (member) with the Core demo's emails; the project "Website"
    with the task "Fix the login page"."""
    state = TogglState()
    state.add_user("Ann Admin", "ann@example.com", token, "Europe/Berlin")
    state.add_user("Max Member", "max@example.com", member_token, "America/New_York", admin=False)
    project = state.add_project("Website")
    state.add_task(project, "Fix the login page")
    return state


def create_toggl_sandbox(
    state: TogglState | None = None,
    faults: Faults | None = None,
    *,
    bucket: RateLimit | None = None,
    quota: RateLimit | None = None,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    deliver_over_network: bool = False,
) -> FastAPI:
    """The sandbox app, with its fault switches and admin routes. Webhook deliveries go through
    ``webhook_transport`` (in-process tests) or, with ``deliver_over_network``, over the net."""
    state = state if state is not None else TogglState()
    faults = faults if faults is not None else Faults()
    app = FastAPI(title="Toggl Track sandbox")
    app.state.toggl = state
    app.state.bucket = bucket if bucket is not None else RateLimit(*BUCKET)
    app.state.quota = quota if quota is not None else RateLimit(*QUOTA)
    app.state.webhook_transport = webhook_transport
    app.state.deliver_over_network = deliver_over_network
    app.state.delivered = 0

    def reset() -> None:
        state.reset()
        app.state.delivered = 0
        app.state.quota.forget()

    install(app, faults, app.state.bucket, reset, error_body)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, invalid)
    for router in (api, time_router, reports, hooks, admin):
        app.include_router(router)
    return app


__all__ = ["TogglState", "create_toggl_sandbox", "demo_toggl"]
