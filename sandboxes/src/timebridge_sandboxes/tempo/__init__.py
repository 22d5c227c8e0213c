"""An in-memory Tempo Cloud (REST API v4 worklogs).

Built from Tempo's documentation (apidocs.tempo.io; no OpenAPI description of it is in
``../shared/provider-specs``, and Tempo publishes no official Python SDK - the community
``tempo-api-python-client`` is not driven here). Played: ``Authorization: Bearer`` (``401``
otherwise); errors ``{"errors": [{"message": ...}]}``; worklogs listed by ``from``/``to``,
``updatedFrom``, ``issueId`` with ``offset``/``limit`` and ``metadata.next``; ``POST``, ``PUT``
(a replacement), ``DELETE``; seconds (``timeSpentSeconds``, ``billableSeconds``); local
``startDate``/``startTime``; a per-token limit answered ``429`` with ``Retry-After``.

Assumed where the documentation is silent: a change of a worklog in an approved timesheet is
``400`` "... the timesheet is approved ...".

Jira Cloud's REST API v3 on the same app (``/rest/api/3/...``, :mod:`.jira`): the directory Tempo
lacks (users, projects, issues), with basic auth (email + Jira API token, by default
``jira-<Tempo token>``) and Jira's error shape.

Admin API (besides :mod:`~timebridge_sandboxes.faults`' ``/_sandbox/reset`` and ``/faults``):
``POST /_sandbox/worklogs/{id}/approve``, ``POST /_sandbox/page-cap?size=N``.
"""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from timebridge_sandboxes.faults import Faults, RateLimit, install
from timebridge_sandboxes.tempo.jira import JiraError, jira, jira_error
from timebridge_sandboxes.tempo.routes import admin, api
from timebridge_sandboxes.tempo.state import TempoState

LIMIT = (300, 60.0)


def error_body(_status: int, message: str) -> dict[str, Any]:
    """Tempo's error shape: the status is the answer's own."""
    return {"errors": [{"message": message}]}


def jira_token(token: str) -> str:
    """A demo user's Jira API token: derived from their Tempo token."""
    return f"jira-{token}"


def demo_tempo(token: str, member_token: str) -> TempoState:
    """Ann (Berlin) and Max (New York) with the Core demo's emails; the Jira project WEB
    "Website" (id 10000) with the issues WEB-1 "Fix the login page" (id 10001) and WEB-2
    "Update the pricing page" (10002). Jira API tokens: :func:`jira_token` of the Tempo ones."""
    state = TempoState()
    state.add_user(
        "5b10a2844c20165700ede21g", "Ann Admin", "ann@example.com", token, "Europe/Berlin",
        jira_token=jira_token(token),
    )  # fmt: skip
    state.add_user(
        "5b10ac8d82e05b22cc7d4ef5", "Max Member", "max@example.com", member_token,
        "America/New_York", jira_token=jira_token(member_token),
    )  # fmt: skip
    state.add_project(10000, "WEB", "Website")
    state.add_issue(10001, "WEB-1", "Fix the login page")
    state.add_issue(10002, "WEB-2", "Update the pricing page")
    return state


def create_tempo_sandbox(
    state: TempoState | None = None, faults: Faults | None = None, *, limit: RateLimit | None = None
) -> FastAPI:
    state = state if state is not None else TempoState()
    app = FastAPI(title="Tempo Cloud sandbox")
    app.state.tempo = state
    app.state.limit = limit if limit is not None else RateLimit(*LIMIT)
    install(app, faults or Faults(), app.state.limit, state.reset, error_body)

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(error_body(400, str(exc)), status_code=400)

    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(JiraError, jira_error)
    app.include_router(api)
    app.include_router(jira)
    app.include_router(admin)
    return app


__all__ = ["TempoState", "create_tempo_sandbox", "demo_tempo", "jira_token"]
