"""An in-memory Zoho Projects REST API (``/restapi``), as Zoho documents it
(zoho.com/projects/help/rest-api).

Played: ``Authorization: Zoho-oauthtoken <token>`` (``401`` code 6401 otherwise); the portal by
id or name in every path; ``GET /portals/`` (``login_id``); portal users; projects and tasks
(``index``/``range``, ``204`` when empty; task creation); task logs listed per project by
``users_list``, ``view_type`` (day, week Sunday to Saturday, month) around ``date``
(``MM-DD-YYYY``), ``bill_status`` and ``component_type``, grouped by day with ``grandtotal``;
added, updated (``POST .../logs/{id}/``), deleted and approved; ``hours`` as ``HH:MM``;
parameters as form fields or in the query; errors ``{"error": {"code", "message"}}`` (6831
missing, 6832 pattern, 6404 not found); 100 requests per two minutes per user (``429``).

Assumed where Zoho is silent: a change of an approved log is ``400`` (code 6890) saying so; the
task's log list without a period lists all of its logs; over the limit is ``429`` (Zoho blocks
the user for 30 minutes). Only task logs are kept (bug and general logs are not played).

Zoho Accounts' consent page and token endpoint are served here too (:mod:`.oauth`).

Admin API: :mod:`~timebridge_sandboxes.faults`' ``/_sandbox/reset`` and ``/faults``.
"""

from fastapi import FastAPI

from timebridge_sandboxes.faults import Faults, RateLimit, install
from timebridge_sandboxes.zoho.oauth import accounts, consent
from timebridge_sandboxes.zoho.routes import ZohoError, error_body, router, zoho_error
from timebridge_sandboxes.zoho.state import ZohoState

LIMIT = (100, 120.0)


def demo_zoho(token: str, member_token: str) -> ZohoState:
    """Ann (admin) and Max (employee) with the Core demo's emails; the project "Website" with
    the task "Fix the login page"."""
    state = ZohoState()
    state.add_user("Ann Admin", "ann@example.com", token)
    state.add_user("Max Member", "max@example.com", member_token, role="employee")
    project = state.add_project("Website")
    state.add_task(project, "Fix the login page")
    return state


def create_zoho_sandbox(
    state: ZohoState | None = None, faults: Faults | None = None, *, limit: RateLimit | None = None
) -> FastAPI:
    state = state if state is not None else ZohoState()
    faults = faults if faults is not None else Faults()
    app = FastAPI(title="Zoho Projects sandbox")
    app.state.zoho = state
    app.state.limit = limit if limit is not None else RateLimit(*LIMIT)
    install(app, faults, app.state.limit, state.reset, error_body)
    app.add_exception_handler(ZohoError, zoho_error)
    app.include_router(consent)
    app.include_router(accounts)
    app.include_router(router)
    return app


__all__ = ["ZohoState", "create_zoho_sandbox", "demo_zoho"]
