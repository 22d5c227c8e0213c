"""Reports: definitions (schedule, recipients), run now with its progress, history, downloads."""

import secrets
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from timebridge_console.adapters.api import segment
from timebridge_console.domain import reports as choices
from timebridge_console.domain.choices import FormError
from timebridge_console.domain.errors import ApiError
from timebridge_console.domain.reports import (
    NEW_DEFINITION,
    definition_from_form,
    form_of,
    run_progress,
    schedule_text,
)
from timebridge_console.domain.session import Session
from timebridge_console.entrypoints.paths import Id, Ws
from timebridge_console.entrypoints.web import Refused, Web, redirect
from timebridge_console.handlers.reports import Reports

DOWNLOADS = ("pdf", "csv", "xlsx", "json")


def _helpers(web: Web) -> tuple[Callable[[Session, str], Reports], Callable[..., Response]]:
    """The reporting API as the signed-in admin; a page that knows the reports' words."""

    def api(session: Session, workspace_id: str) -> Reports:
        assert session.token is not None
        return Reports(web.apis.as_user(session.token), workspace_id)

    def page(
        request: Request, session: Session, name: str, status: int = 200, **context: Any
    ) -> Response:
        return web.page(
            request,
            name,
            session,
            status=status,
            report_choices=choices,
            schedule_text=schedule_text,
            progress=run_progress,
            run_key=secrets.token_urlsafe(16),
            **context,
        )

    return api, page


def reports_router(web: Web) -> APIRouter:
    """Definitions: list, create, show (with its runs), change."""
    router = APIRouter(prefix="/w/{workspace_id}")
    SignedIn = Annotated[Session, Depends(web.session)]

    api, page = _helpers(web)

    @router.get("/reports")
    async def definitions(request: Request, workspace_id: Ws, session: SignedIn) -> Response:
        reports = api(session, workspace_id)
        found = await reports.definitions()
        runs = await reports.runs(limit=20)
        return page(
            request,
            session,
            "reports.html",
            workspace_id=workspace_id,
            definitions=found,
            names={d["definition_id"]: d["name"] for d in found},
            runs=runs,
            title="Reports",
        )

    async def form_page(
        request: Request,
        session: Session,
        workspace_id: str,
        values: dict[str, str],
        *,
        definition: dict[str, Any] | None = None,
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        runs: list[dict[str, Any]] = []
        if definition is not None:
            runs = await api(session, workspace_id).runs(definition["definition_id"])
        return page(
            request,
            session,
            "report.html",
            status,
            workspace_id=workspace_id,
            values=values,
            definition=definition,
            runs=runs,
            error=error,
            title=definition["name"] if definition else "New report",
        )

    async def submitted(
        request: Request, session: Session, workspace_id: str, definition_id: str | None
    ) -> Response:
        fields = await web.form(request, session)
        reports = api(session, workspace_id)
        definition = None if definition_id is None else await reports.definition(definition_id)
        try:
            body = definition_from_form(fields)
            if definition_id is None:
                definition_id = str((await reports.create(body))["definition_id"])
            else:
                await reports.change(definition_id, body)
        except (FormError, ApiError) as exc:
            if isinstance(exc, ApiError) and exc.status in (401, 403):
                raise
            status = exc.status if isinstance(exc, ApiError) and exc.status >= 400 else 422
            message = f"Not saved: {exc}." if isinstance(exc, FormError) else str(exc)
            return await form_page(
                request,
                session,
                workspace_id,
                fields,
                definition=definition,
                error=message,
                status=status,
            )
        url = f"/w/{workspace_id}/reports/{segment(definition_id)}?notice=report_saved"
        return redirect(url, request)

    @router.get("/reports/new")
    async def new(request: Request, workspace_id: Ws, session: SignedIn) -> Response:
        return await form_page(request, session, workspace_id, dict(NEW_DEFINITION))

    @router.post("/reports")
    async def create(request: Request, workspace_id: Ws, session: SignedIn) -> Response:
        return await submitted(request, session, workspace_id, None)

    @router.get("/reports/{definition_id}")
    async def show(
        request: Request, workspace_id: Ws, definition_id: Id, session: SignedIn
    ) -> Response:
        definition = await api(session, workspace_id).definition(definition_id)
        return await form_page(
            request, session, workspace_id, form_of(definition), definition=definition
        )

    @router.post("/reports/{definition_id}")
    async def change(
        request: Request, workspace_id: Ws, definition_id: Id, session: SignedIn
    ) -> Response:
        return await submitted(request, session, workspace_id, definition_id)

    return router


def report_actions_router(web: Web) -> APIRouter:
    """Delete, run now, the runs' progress, downloads."""
    router = APIRouter(prefix="/w/{workspace_id}")
    SignedIn = Annotated[Session, Depends(web.session)]
    api, page = _helpers(web)

    @router.post("/reports/{definition_id}/delete")
    async def delete(
        request: Request, workspace_id: Ws, definition_id: Id, session: SignedIn
    ) -> Response:
        await web.form(request, session)
        await api(session, workspace_id).delete(definition_id)
        return redirect(f"/w/{workspace_id}/reports?notice=report_deleted", request)

    @router.post("/reports/{definition_id}/run")
    async def run_now(
        request: Request, workspace_id: Ws, definition_id: Id, session: SignedIn
    ) -> Response:
        fields = await web.form(request, session)
        key = fields.get("run_key", "")
        if not 8 <= len(key) <= 100 or not key.isascii() or not key.isprintable():
            raise Refused(400, "This form is incomplete. Reload the page and try again.")
        await api(session, workspace_id).run_now(definition_id, key)
        url = f"/w/{workspace_id}/reports/{segment(definition_id)}?notice=report_started"
        return redirect(url, request)

    @router.get("/reports/{definition_id}/runs")
    async def runs_fragment(
        request: Request, workspace_id: Ws, definition_id: Id, session: SignedIn
    ) -> Response:
        """The runs table alone: polled by the page while a run is still in progress."""
        reports = api(session, workspace_id)
        definition = await reports.definition(definition_id)
        return page(
            request,
            session,
            "_report_runs.html",
            workspace_id=workspace_id,
            definition=definition,
            runs=await reports.runs(definition_id),
        )

    @router.get("/report-runs/{run_id}/download/{fmt}")
    async def download(workspace_id: Ws, run_id: Id, fmt: str, session: SignedIn) -> Response:
        if fmt not in DOWNLOADS:
            raise Refused(404, "There is no such format of a report.")
        found = await api(session, workspace_id).download(run_id, fmt)
        disposition = found.disposition or f'attachment; filename="{run_id}.{fmt}"'
        return Response(
            found.body, media_type=found.media_type, headers={"content-disposition": disposition}
        )

    return router
