"""An in-memory Xero Projects API (``/projects.xro/2.0``), as ``xero-projects.yaml`` describes it.

Played: OAuth 2.0 bearer tokens shaped as Xero's (a JWT naming ``xero_userid``), issued here
after consent by Xero's identity server as :mod:`.oauth` plays it (consent page, token endpoint,
``/connections``) and ``Xero-Tenant-Id`` (``401``/``403``
problem documents otherwise); case-insensitive paths (the seeds' ``/projects/{id}/time`` and the
spec's ``/Projects/{id}/Time``); ``page``/``pageSize`` (1..500) with ``pagination``; project
users, projects (``projectIds``, ``contactID``, ``states``), tasks (create with ``rate`` and
``chargeType``; delete only without time), time entries (``userId``, ``taskId``, ``states``,
``isChargeable``, ``dateAfterUtc``/``dateBeforeUtc``; ``POST`` answers ``200`` with the entry,
``PUT`` and ``DELETE`` ``204``; ``duration`` 1..59940 minutes; ``400`` with ``modelState``);
``Idempotency-Key`` on writes (a repeat gets the first answer); 60 calls a minute and 5,000 a day
per tenant (``429`` with ``Retry-After`` and ``X-Rate-Limit-Problem``). Xero has no webhooks
for projects.

Assumed where Xero is silent: changing or deleting an ``INVOICED``/``LOCKED`` entry is a ``400``
whose message names the status; ``dateAfterUtc``/``dateBeforeUtc`` are inclusive.

Admin API (besides :mod:`~timebridge_sandboxes.faults`' ``/_sandbox/reset`` and ``/faults``):
``POST /_sandbox/time/{id}/invoice`` (the entry is invoiced), ``POST /_sandbox/page_size?size=``.
"""

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from timebridge_sandboxes.faults import Faults, RateLimit, install
from timebridge_sandboxes.xero_projects.http import (
    DAY,
    MINUTE,
    CaseInsensitivePaths,
    ModelStateError,
    error_body,
    invalid,
    model_state_error,
)
from timebridge_sandboxes.xero_projects.oauth import consent, identity
from timebridge_sandboxes.xero_projects.routes import admin, router
from timebridge_sandboxes.xero_projects.state import XeroProjectsState


def demo_xero_projects(
    token_secret: str, member_secret: str
) -> tuple[XeroProjectsState, dict[str, str]]:
    """Ann and Max (the Core demo's emails) in an organisation in London; the project "Website"
    with the tasks "Fix the login page" (charged by time) and "Meetings" (not chargeable).
    Returns the state and each user's access token by email."""
    state = XeroProjectsState()
    ann, ann_token = state.add_user("Ann Admin", "ann@example.com", token_secret)
    _, max_token = state.add_user("Max Member", "max@example.com", member_secret)
    project = state.add_project("Website")
    state.add_task(project, "Fix the login page")
    state.add_task(project, "Meetings", "NON_CHARGEABLE")
    return state, {ann.email: ann_token, "max@example.com": max_token}


def create_xero_projects_sandbox(
    state: XeroProjectsState | None = None,
    faults: Faults | None = None,
    *,
    minute: RateLimit | None = None,
    day: RateLimit | None = None,
) -> FastAPI:
    """The sandbox app (paths matched in any case), with its fault switches and admin routes."""
    state = state if state is not None else XeroProjectsState()
    faults = faults if faults is not None else Faults()
    app = FastAPI(title="Xero Projects sandbox")
    app.state.xero_projects = state
    app.state.minute = minute if minute is not None else RateLimit(*MINUTE)
    app.state.day = day if day is not None else RateLimit(*DAY)

    def reset() -> None:
        state.reset()
        app.state.day.forget()

    install(app, faults, app.state.minute, reset, error_body)
    app.add_exception_handler(ModelStateError, model_state_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.include_router(consent)
    app.include_router(identity)
    app.include_router(router)
    app.include_router(admin)
    app.add_middleware(CaseInsensitivePaths)
    return app


__all__ = ["XeroProjectsState", "create_xero_projects_sandbox", "demo_xero_projects"]
