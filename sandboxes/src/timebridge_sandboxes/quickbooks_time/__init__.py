"""An in-memory QuickBooks Time (formerly TSheets, API v1 at ``/api/v1``).

Built from the API's Postman collection (``../shared/provider-specs/
quickbooks-time-v1.postman_collection.json``: its request forms; it carries no example answers)
and documentation (tsheetsteam.github.io/api_docs: the answer shapes). Played: ``Authorization:
Bearer`` (``401`` otherwise); whole-request errors ``{"error": {"code", "message"}}``; lists as
``{"results": {"<resource>": {"<id>": ...}}, "more", "supplemental_data"}`` paged by
``page``/``limit``; writes of ``{"data": [...]}`` answered per item with ``_status_code``,
``_status_message`` and ``_status_extra``; timesheets ``regular`` (start/end with offsets, running
while it has no end: ``on_the_clock``) or ``manual`` (date + duration seconds); tombstones at
``/timesheets_deleted``; approvals by ``PUT /users`` ``approved_to``/``submitted_to``; a
per-token limit answered ``429`` with ``Retry-After``; OAuth 2.0 at ``POST /api/v1/grant``
(:mod:`.grant`: the app's client id and secret in the form body, rotating refresh tokens) after
the consent page ``GET /api/v1/authorize`` (:mod:`.consent`).

Assumed where the documentation is silent: a change of a locked, approved or submitted timesheet
is item status ``417`` whose ``_status_extra`` names the lock or approval.

Admin API (besides :mod:`~timebridge_sandboxes.faults`' ``/_sandbox/reset`` and ``/faults``):
``POST /_sandbox/timesheets/{id}/lock``, ``POST /_sandbox/page-cap?size=N``.
"""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from timebridge_sandboxes.faults import Faults, RateLimit, install
from timebridge_sandboxes.quickbooks_time.consent import consent
from timebridge_sandboxes.quickbooks_time.grant import grant
from timebridge_sandboxes.quickbooks_time.routes import admin, api
from timebridge_sandboxes.quickbooks_time.state import QuickBooksTimeState

LIMIT = (300, 300.0)


def error_body(status: int, message: str) -> dict[str, Any]:
    """QuickBooks Time's error shape."""
    return {"error": {"code": status, "message": message}}


def demo_quickbooks_time(token: str, member_token: str) -> QuickBooksTimeState:
    """Ann and Max with the Core demo's emails; the job "Website" (jobcode 17288283) with the
    task "Fix the login page" (17288284, billable) and "Design" (17288285)."""
    state = QuickBooksTimeState()
    state.add_user(1242515, "Ann", "Admin", "ann@example.com", token)
    state.add_user(1242516, "Max", "Member", "max@example.com", member_token)
    state.add_jobcode(17288283, "Website")
    state.add_jobcode(17288284, "Fix the login page", 17288283, billable=True)
    state.add_jobcode(17288285, "Design", 17288283)
    return state


def create_quickbooks_time_sandbox(
    state: QuickBooksTimeState | None = None,
    faults: Faults | None = None,
    *,
    limit: RateLimit | None = None,
) -> FastAPI:
    state = state if state is not None else QuickBooksTimeState()
    app = FastAPI(title="QuickBooks Time sandbox")
    app.state.qbt = state
    app.state.limit = limit if limit is not None else RateLimit(*LIMIT)
    install(app, faults or Faults(), app.state.limit, state.reset, error_body)

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(error_body(400, str(exc)), status_code=400)

    app.add_exception_handler(RequestValidationError, invalid)
    app.include_router(consent)
    app.include_router(grant)
    app.include_router(api)
    app.include_router(admin)
    return app


__all__ = ["QuickBooksTimeState", "create_quickbooks_time_sandbox", "demo_quickbooks_time"]
