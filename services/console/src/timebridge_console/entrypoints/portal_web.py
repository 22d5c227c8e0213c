"""The portal for clients and managers: sign in by an emailed one-time link, see the reports
you receive, download them, request one for a period.

A separate session from the admin console: its own cookie (``tb_portal``, path ``/portal``,
sealed under its own context, so neither cookie opens as the other), holding the portal session
token the reporting service gave for the link, never a Core token. The link's page does not sign
in by itself: it shows a button, so a mail scanner that opens links cannot use up the link.
"""

import contextlib
import datetime as dt
import re
import secrets
from typing import Any

import structlog
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from timebridge_common.api import WORKSPACE_ID_PATTERN
from timebridge_console.adapters.session_cookie import SessionCodec
from timebridge_console.domain import portal as words
from timebridge_console.domain.errors import ApiError
from timebridge_console.domain.portal import PortalFormError, link_request, report_request
from timebridge_console.domain.session import Session, anonymous, signed_in
from timebridge_console.entrypoints.paths import Id
from timebridge_console.entrypoints.web import Refused, Web, redirect
from timebridge_console.handlers.portal import PortalApi

log = structlog.get_logger(__name__)
COOKIE = "tb_portal"
CONTEXT = "portal-session"
DOWNLOADS = ("pdf", "csv", "xlsx", "json")
NOTICES = {
    "signed_out": "You are signed out of the reports portal.",
    "requested": "Report requested: it is being generated, and it is mailed to you as well.",
    "expired": "Your sign-in has ended. Ask for a new sign-in link below.",
}
UNREACHABLE = "The reports service cannot be reached right now. Please try again in a minute."


class PortalWeb:
    """The portal's session cookie and pages (the console's templates, its own layout)."""

    def __init__(self, web: Web, codec: SessionCodec) -> None:
        self.web, self.codec = web, codec

    def current(self, request: Request) -> Session | None:
        session = self.codec.open(request.cookies.get(COOKIE))
        if session is None or session.expired(self.web.clock()):
            return None
        return session

    def signed(self, request: Request) -> Session | None:
        session = self.current(request)
        return session if session is not None and session.signed_in else None

    def set_cookie(self, response: Response, session: Session) -> None:
        response.set_cookie(
            COOKIE,
            self.codec.seal(session),
            max_age=max(1, int((session.expires_at - self.web.clock()).total_seconds())),
            httponly=True,
            samesite="lax",
            secure=self.web.secure_cookies,
            path="/portal",
        )

    def page(
        self, request: Request, name: str, session: Session, *, status: int = 200, **context: Any
    ) -> HTMLResponse:
        notice = NOTICES.get(request.query_params.get("notice", ""))
        return self.web.templates.TemplateResponse(
            request,
            name,
            {"portal": session, "csrf": session.csrf, "notice": notice, "words": words} | context,
            status_code=status,
        )

    def anonymous_page(
        self, request: Request, name: str, *, status: int = 200, **context: Any
    ) -> Response:
        """A page before sign-in, with a fresh CSRF token for its form when needed."""
        session = self.current(request)
        if session is None or session.signed_in:
            session = anonymous(self.web.clock(), self.web.ttl)
        response = self.page(request, name, session, status=status, **context)
        self.set_cookie(response, session)
        return response

    def ended(self, request: Request) -> Response:
        response = redirect("/portal?notice=expired", request)
        response.delete_cookie(COOKIE, path="/portal")
        return response


def portal_router(web: Web, codec: SessionCodec) -> APIRouter:
    router = APIRouter(prefix="/portal")
    portal = PortalWeb(web, codec)
    _sign_in_routes(router, portal)
    _report_routes(router, portal)
    return router


def _sign_in_routes(router: APIRouter, portal: PortalWeb) -> None:
    web = portal.web

    @router.get("")
    async def start(request: Request) -> Response:
        if portal.signed(request) is not None:
            return redirect("/portal/reports", request)
        given = request.query_params.get("workspace", "")
        valid = re.fullmatch(WORKSPACE_ID_PATTERN, given) is not None
        return portal.anonymous_page(
            request, "portal_signin.html", workspace_id=given if valid else "", title="Sign in"
        )

    @router.post("")
    async def ask(request: Request) -> Response:
        session = portal.current(request)
        if session is None:
            raise Refused(403, "The sign-in form expired. Reload the page and try again.")
        fields = await web.form(request, session)
        values = {k: fields.get(k, "") for k in ("workspace_id", "email")}
        try:
            workspace, email = link_request(fields)
            await PortalApi(web.apis).ask_link(workspace, email)
        except (PortalFormError, ApiError) as exc:
            status = 422 if isinstance(exc, PortalFormError) else _status(exc)
            message = str(exc) if isinstance(exc, PortalFormError) else _words(exc)
            return portal.page(
                request, "portal_signin.html", session, status=status, error=message,
                title="Sign in", **values,
            )  # fmt: skip
        return portal.page(
            request, "portal_sent.html", session, email=email, title="Check your mail"
        )

    @router.get("/sign-in")
    async def landing(request: Request) -> Response:
        token = request.query_params.get("token", "")
        usable = 0 < len(token) <= 200 and token.isascii() and token.isprintable()
        return portal.anonymous_page(
            request,
            "portal_link.html",
            status=200 if usable else 400,
            token=token if usable else "",
            error=None if usable else "This sign-in link is incomplete: open it from the mail.",
            title="Sign in",
        )

    @router.post("/sign-in")
    async def sign_in(request: Request) -> Response:
        session = portal.current(request)
        if session is None:
            raise Refused(403, "This page expired. Open the link from your mail again.")
        fields = await web.form(request, session)
        token = fields.get("token", "")
        try:
            found = await PortalApi(web.apis).exchange(token)
        except ApiError as exc:
            message = (
                "This sign-in link cannot be used: it was used already, it has expired, or it"
                " is not a Timebridge link. Ask for a new one."
                if exc.status in (401, 422)
                else _words(exc)
            )
            return portal.page(
                request, "portal_link.html", session, status=_status(exc), error=message,
                token="", title="Sign in",
            )  # fmt: skip
        now = web.clock()
        expires = min(dt.datetime.fromisoformat(found["expires_at"]), now + web.ttl)
        new = signed_in(found["workspace_id"], found["session_token"], now, expires - now)
        response = redirect("/portal/reports", request)
        portal.set_cookie(response, new)
        return response

    @router.post("/signout")
    async def sign_out(request: Request) -> Response:
        session = portal.signed(request)
        if session is not None:
            await web.form(request, session)
            assert session.token is not None
            with contextlib.suppress(ApiError):  # already ended there; the cookie goes anyway
                await PortalApi(web.apis, session.token).sign_out()
        response = redirect("/portal?notice=signed_out", request)
        response.delete_cookie(COOKIE, path="/portal")
        return response


def _report_routes(router: APIRouter, portal: PortalWeb) -> None:
    web = portal.web

    async def listing(
        request: Request, session: Session, *, status: int = 200, **context: Any
    ) -> Response:
        assert session.token is not None
        api = PortalApi(web.apis, session.token)
        try:
            me, reports, runs = await api.me(), await api.reports(), await api.runs()
        except ApiError as exc:
            if exc.status == 401:
                return portal.ended(request)
            raise
        start, end = words.last_month(web.clock().date())
        values = context.pop("values", None) or {"start": start, "end": end}
        return portal.page(
            request, "portal_reports.html", session, status=status, me=me, reports=reports,
            runs=runs, values=values, request_key=secrets.token_urlsafe(16),
            pending=any(r["status"] == "pending" for r in runs), title="Your reports", **context,
        )  # fmt: skip

    @router.get("/reports")
    async def reports(request: Request) -> Response:
        session = portal.signed(request)
        if session is None:
            return redirect("/portal", request)
        return await listing(request, session)

    @router.post("/requests")
    async def request_report(request: Request) -> Response:
        session = portal.signed(request)
        if session is None:
            return redirect("/portal", request)
        fields = await web.form(request, session)
        assert session.token is not None
        api = PortalApi(web.apis, session.token)
        key = fields.get("request_key", "")
        if not 8 <= len(key) <= 100 or not key.isascii() or not key.isprintable():
            raise Refused(400, "This form is incomplete. Reload the page and try again.")
        try:
            offered = {d["definition_id"] for d in await api.reports()}
            ask = report_request(fields, offered)
            await api.request(ask.definition_id, ask.start, ask.end, key)
        except (PortalFormError, ApiError) as exc:
            if isinstance(exc, ApiError) and exc.status == 401:
                return portal.ended(request)
            status = 422 if isinstance(exc, PortalFormError) else _status(exc)
            message = str(exc) if isinstance(exc, PortalFormError) else _words(exc)
            return await listing(request, session, status=status, error=message, values=fields)
        return redirect("/portal/reports?notice=requested", request)

    @router.get("/runs/{run_id}/download/{fmt}")
    async def download(request: Request, run_id: Id, fmt: str) -> Response:
        session = portal.signed(request)
        if session is None:
            return redirect("/portal", request)
        assert session.token is not None
        try:
            if fmt not in DOWNLOADS:
                raise ApiError("reporting", 404, "no such format")
            found = await PortalApi(web.apis, session.token).download(run_id, fmt)
        except ApiError as exc:
            if exc.status == 401:
                return portal.ended(request)
            return portal.page(
                request, "portal_error.html", session, status=_status(exc), message=_words(exc),
                title="Not available",
            )  # fmt: skip
        disposition = found.disposition or f'attachment; filename="{run_id}.{fmt}"'
        return Response(
            found.body, media_type=found.media_type, headers={"content-disposition": disposition}
        )


def _status(error: ApiError) -> int:
    return error.status if error.status >= 400 else 503


def _words(error: ApiError) -> str:
    """A refusal of the reporting service in a recipient's words (not an admin's); the
    service's own answer goes to the log."""
    log.info("portal call refused", status=error.status, reason=error.reason)
    if error.status == 404:
        return "There is no such report for you."
    if error.status == 429:
        return f"You have requested many reports in the last hour: {error.reason}."
    if error.status == 422:
        return f"That was not accepted: {error.reason}."
    return UNREACHABLE
