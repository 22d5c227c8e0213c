"""The console's web plumbing: sessions, CSRF, page rendering, and the sign-in/out pages.

Pages are rendered on the server (Jinja2); htmx (vendored, no build step) only swaps fragments
such as the Test Connection result, and every form also works without JavaScript.
"""

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from timebridge_common.api import WORKSPACE_ID_PATTERN
from timebridge_console.adapters.api import ServiceApis
from timebridge_console.adapters.session_cookie import COOKIE, SessionCodec
from timebridge_console.domain import choices
from timebridge_console.domain.conflicts import duration
from timebridge_console.domain.errors import ApiError
from timebridge_console.domain.providers import initials
from timebridge_console.domain.session import Session, anonymous, signed_in
from timebridge_console.handlers.admin import Admin

PACKAGE = Path(__file__).resolve().parent.parent
NOTICES = {
    "connected": "The integration is connected.",
    "connected_importing": "The integration is connected; its history is being imported (below).",
    "connected_import_not_started": "The integration is connected, but its history import did"
    " not start: start it below (the import's form says why if it is refused again).",
    "import_started": "Import started: the bar fills as each week of the period is read.",
    "reconnected": "Re-connected: the new key is saved; the integration and its mappings are kept.",
    "saved": "Settings saved.",
    "disconnected": "The integration is disconnected: its key is wiped and its webhook removed.",
    "mapped": "Mapping saved.",
    "unmapped": "Mapping removed.",
    "refreshed": "Users read again from both systems.",
    "assigned": "Entry assigned: its person is mapped now, and their held entries are released.",
    "assigned_held": "Person mapped, but the entry is still held: the queue below says why.",
    "resolved": "Conflict resolved.",
    "signed_out": "You are signed out.",
    "accounting_connected": "Connected: the tool's clients are mirrored in a moment.",
    "accounting_company": "Company chosen: its clients are mirrored in a moment.",
    "accounting_disconnect": "Disconnected: syncing stopped and its tokens are forgotten;"
    " its clients and invoices stay here as history.",
    "client_archive": "Client archived: it stays listed here, and its invoices are kept.",
    "client_unarchive": "Client active again: new invoices can be created for it.",
    "project_client": "Client saved: the project's billable time goes to its invoices.",
    "project_rate": "Rate saved: new invoice drafts use it.",
    "invoice_export": "Export requested: the invoice is copied to the tool as a draft.",
    "invoice_sync": "Status read again from the accounting tool.",
    "invoice_delete": "Invoice deleted here: its entries are uninvoiced again.",
    "report_saved": "Report saved.",
    "report_deleted": "Report deleted (its past runs stay in the history).",
    "report_started": "Run started: the report is generated, then mailed to its recipients.",
}
MAX_FIELD = 4096


class SignInRequired(Exception):
    """No valid session: the page redirects to the sign-in form."""


class Refused(Exception):
    """A request the console itself refuses (bad CSRF token, bad form)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Web:
    """What every page needs: templates, the session codec, the service APIs, the clock."""

    def __init__(
        self,
        codec: SessionCodec,
        apis: ServiceApis,
        *,
        ttl: dt.timedelta,
        secure_cookies: bool,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.codec = codec
        self.apis = apis
        self.ttl = ttl
        self.secure_cookies = secure_cookies
        self.clock = clock
        self.templates = Jinja2Templates(directory=PACKAGE / "templates")
        self.templates.env.globals.update(choices=choices, duration=duration, initials=initials)
        self.templates.env.filters["when"] = _when

    def current(self, request: Request) -> Session | None:
        session = self.codec.open(request.cookies.get(COOKIE))
        if session is None or session.expired(self.clock()):
            return None
        return session

    def session(self, request: Request) -> Session:
        """Dependency: the signed-in session, or a redirect to sign in."""
        session = self.current(request)
        if session is None or not session.signed_in:
            raise SignInRequired
        return session

    def admin(self, session: Session, workspace_id: str) -> Admin:
        """The APIs as this admin, for the workspace in the URL (the services check the rights)."""
        assert session.token is not None
        return Admin(self.apis.as_user(session.token), workspace_id)

    async def form(self, request: Request, session: Session) -> dict[str, str]:
        """The submitted form, once its CSRF token (field or htmx header) is the session's."""
        data: FormData = await request.form()
        fields = {k: v for k, v in data.items() if isinstance(v, str)}
        token = fields.get("csrf_token") or request.headers.get("x-csrf-token")
        if not session.accepts(token):
            raise Refused(403, "This form expired or did not come from this console. Reload it.")
        if any(len(v) > MAX_FIELD or "\x00" in v for v in fields.values()):
            raise Refused(400, "A field is too long or contains characters that are not text.")
        return fields

    def set_cookie(self, response: Response, session: Session) -> None:
        response.set_cookie(
            COOKIE,
            self.codec.seal(session),
            max_age=int((session.expires_at - self.clock()).total_seconds()),
            httponly=True,
            samesite="lax",
            secure=self.secure_cookies,
            path="/",
        )

    def page(
        self,
        request: Request,
        name: str,
        session: Session | None,
        *,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        notice = NOTICES.get(request.query_params.get("notice", ""))
        return self.templates.TemplateResponse(
            request,
            name,
            {"session": session, "csrf": session.csrf if session else "", "notice": notice}
            | context,
            status_code=status,
        )


def landing(web: Web, request: Request, page: str, message: str, link: str) -> Response:
    """Back from a consent page on another site: a page of this site that opens ``page``
    (refresh, or the link). A navigation this site starts carries the SameSite=Lax session
    cookie in every browser; a redirect chain that another site's form POST began may not
    (Chromium 156 sends it, the rules leave it to the browser), so neither OAuth return
    relies on it."""
    return web.page(
        request, "landing.html", None, page=page, message=message, link=link, title="Connected"
    )


def _when(value: str | None) -> str:
    """An API timestamp as a short UTC time for tables."""
    if not value:
        return "—"
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    return parsed.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def redirect(url: str, request: Request) -> Response:
    """303 to ``url``; htmx requests follow ``HX-Redirect`` instead of swapping the page in."""
    if request.headers.get("hx-request"):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=303)


def install(app: FastAPI, web: Web) -> None:
    """Error pages: sign-in redirects, the console's refusals and the services' refusals."""

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _: Exception) -> Response:
        return redirect("/signin", request)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        session = web.current(request)
        return web.page(
            request, "error.html", session, status=exc.status, message=exc.message, title="Refused"
        )

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        session = web.current(request)
        status = exc.status if exc.status >= 400 else 503
        workspace = request.path_params.get("workspace_id")
        elsewhere = session is not None and workspace not in (None, session.workspace_id)
        return web.page(
            request,
            "error.html",
            session,
            status=status,
            message=str(exc),
            elsewhere=workspace if elsewhere else None,
            signed_out=exc.signed_out,
            title="Refused" if status in (401, 403) else "Something went wrong",
        )

    @app.middleware("http")
    async def _headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self';"
            " frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
        )
        return response


def auth_router(web: Web) -> APIRouter:
    router = APIRouter()
    SignedIn = Annotated[Session, Depends(web.session)]

    @router.get("/", include_in_schema=False)
    async def home(request: Request) -> Response:
        session = web.current(request)
        if session is None or not session.signed_in:
            return redirect("/signin", request)
        return redirect(f"/w/{session.workspace_id}/integrations", request)

    @router.get("/signin")
    async def sign_in_form(request: Request) -> Response:
        session = web.current(request) or anonymous(web.clock(), web.ttl)
        response = web.page(request, "signin.html", session, title="Sign in")
        web.set_cookie(response, session)
        return response

    @router.post("/signin")
    async def sign_in(request: Request) -> Response:
        session = web.current(request)
        if session is None:
            raise Refused(403, "The sign-in form expired. Reload the page and sign in again.")
        fields = await web.form(request, session)
        workspace_id = fields.get("workspace_id", "").strip()
        token = fields.get("token", "").strip()
        error, status = None, 400
        if not _valid_workspace(workspace_id):
            error = "Enter the workspace id: letters, digits, '-' or '_' (at most 64)."
        elif not token:
            error = "Paste your Core user token."
        else:
            new = signed_in(workspace_id, token, web.clock(), web.ttl)
            try:
                await web.admin(new, workspace_id).check_access()
            except ApiError as exc:
                error, status = str(exc), exc.status if exc.status >= 400 else 503
            else:
                response = redirect(f"/w/{workspace_id}/integrations", request)
                web.set_cookie(response, new)
                return response
        return web.page(
            request,
            "signin.html",
            session,
            status=status,
            error=error,
            workspace_id=workspace_id,
            title="Sign in",
        )

    @router.post("/signout")
    async def sign_out(request: Request, session: SignedIn) -> Response:
        await web.form(request, session)
        response = redirect("/signin?notice=signed_out", request)
        response.delete_cookie(COOKIE, path="/")
        return response

    @router.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "console"}

    @router.get("/readyz", include_in_schema=False)
    async def readyz() -> dict[str, str]:
        """Ready once listening: a service that is down shows on the pages that need it."""
        return {"status": "ready", "service": "console"}

    return router


def _valid_workspace(workspace_id: str) -> bool:
    return re.fullmatch(WORKSPACE_ID_PATTERN, workspace_id) is not None
