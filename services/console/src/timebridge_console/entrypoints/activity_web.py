"""Sync log (reporting's API) and the review queue of conflicts (the conflict-resolver's API)."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from timebridge_console.adapters.api import segment
from timebridge_console.domain.choices import FormError
from timebridge_console.domain.conflicts import compare
from timebridge_console.domain.errors import ApiError
from timebridge_console.domain.filters import sync_log_query
from timebridge_console.domain.session import Session
from timebridge_console.entrypoints.paths import Id, Ws
from timebridge_console.entrypoints.web import Web, redirect


def activity_router(web: Web) -> APIRouter:
    router = APIRouter(prefix="/w/{workspace_id}")
    SignedIn = Annotated[Session, Depends(web.session)]

    @router.get("/sync-log")
    async def sync_log(request: Request, workspace_id: Ws, session: SignedIn) -> Response:
        filters = dict(request.query_params)
        error, rows, status = None, [], 200
        admin = web.admin(session, workspace_id)
        try:
            rows = await admin.sync_log(sync_log_query(filters))
        except FormError as exc:
            error, status = f"Filter not applied: {exc}.", 422
        return web.page(
            request,
            "sync_log.html",
            session,
            status=status,
            workspace_id=workspace_id,
            rows=rows,
            filters=filters,
            error=error,
            provider_label=(await admin.providers()).label,
            integrations=await admin.integrations(),
            title="Sync log",
        )

    async def show_conflicts(
        request: Request,
        session: Session,
        workspace_id: str,
        integration_id: str,
        *,
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        admin = web.admin(session, workspace_id)
        integration = await admin.integration(integration_id)
        which = request.query_params.get("status", "open")
        which = which if which in ("open", "resolved") else "open"
        conflicts: list[dict[str, Any]] = await admin.conflicts(integration_id, which)
        label = (await admin.providers()).label
        return web.page(
            request,
            "conflicts.html",
            session,
            status=status,
            workspace_id=workspace_id,
            integration=integration,
            provider_name=label(integration["provider"]),
            provider_label=label,
            conflicts=[
                (c, compare(c.get("source_version"), c.get("target_version"))) for c in conflicts
            ],
            which=which,
            error=error,
            title="Conflicts",
        )

    @router.get("/integrations/{integration_id}/conflicts")
    async def conflicts(
        request: Request, workspace_id: Ws, integration_id: Id, session: SignedIn
    ) -> Response:
        return await show_conflicts(request, session, workspace_id, integration_id)

    @router.post("/integrations/{integration_id}/conflicts/{conflict_id}")
    async def resolve(
        request: Request, workspace_id: Ws, integration_id: Id, conflict_id: Id, session: SignedIn
    ) -> Response:
        fields = await web.form(request, session)
        try:
            await web.admin(session, workspace_id).resolve(conflict_id, fields.get("keep", ""))
        except ApiError as exc:
            if exc.status in (401, 403):
                raise
            return await show_conflicts(
                request,
                session,
                workspace_id,
                integration_id,
                error=str(exc),
                status=exc.status if exc.status >= 400 else 503,
            )
        url = f"/w/{workspace_id}/integrations/{segment(integration_id)}/conflicts?notice=resolved"
        return redirect(url, request)

    return router
