"""An integration's history imports (backfill a period, the progress fragment) and its
re-connect with a new key that keeps the integration."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from timebridge_console.adapters.api import segment
from timebridge_console.domain import imports
from timebridge_console.domain.choices import FormError
from timebridge_console.domain.errors import ApiError
from timebridge_console.domain.session import Session
from timebridge_console.entrypoints.integrations_web import detail_page, history_of, imports_of
from timebridge_console.entrypoints.paths import Id, Ws
from timebridge_console.entrypoints.web import Web, redirect
from timebridge_console.handlers.reconnect import replace_key


def history_router(web: Web) -> APIRouter:
    router = APIRouter(prefix="/w/{workspace_id}/integrations")
    SignedIn = Annotated[Session, Depends(web.session)]

    @router.post("/{integration_id}/reconnect")
    async def reconnect(
        request: Request, workspace_id: Ws, integration_id: Id, session: SignedIn
    ) -> Response:
        """Re-connect with a new key, keeping the integration and its mappings."""
        fields = await web.form(request, session)
        api_key = fields.get("api_key", "").strip()
        failed: dict[str, Any] | None = None
        if not api_key:
            failed = {"ok": False, "message": "Paste the new API key first."}
        else:
            assert session.token is not None
            caller = web.apis.as_user(session.token)
            try:
                await replace_key(caller, workspace_id, integration_id, api_key)
            except ApiError as exc:
                if exc.status in (401, 403):
                    raise
                failed = {"ok": False, "message": str(exc)}
        if failed is not None:
            return await detail_page(
                web, request, workspace_id, integration_id, session, retest=failed, status=422
            )
        url = f"/w/{workspace_id}/integrations/{segment(integration_id)}?notice=reconnected"
        return redirect(url, request)

    @router.get("/{integration_id}/imports")
    async def import_runs(
        request: Request, workspace_id: Ws, integration_id: Id, session: SignedIn
    ) -> Response:
        """The imports' progress (the fragment the page asks for every second meanwhile)."""
        integration = {"integration_id": integration_id, "status": "connected"}
        found = await imports_of(web, session, workspace_id, integration)
        return web.page(
            request,
            "_imports.html",
            session,
            workspace_id=workspace_id,
            integration=integration,
            **found,
        )

    @router.post("/{integration_id}/imports")
    async def start_import(
        request: Request, workspace_id: Ws, integration_id: Id, session: SignedIn
    ) -> Response:
        """Backfill a period: ingest reads it window by window; the page shows the progress."""
        fields = await web.form(request, session)
        try:
            first, last = imports.period(fields, today=web.clock().date())
            await history_of(web, session, workspace_id, integration_id).start(
                first, last, kind="backfill"
            )
        except (FormError, ApiError) as exc:
            if isinstance(exc, ApiError) and exc.status in (401, 403, 404):
                raise
            status = exc.status if isinstance(exc, ApiError) and exc.status >= 400 else 422
            words = str(exc) if isinstance(exc, ApiError) else f"Not started: {exc}."
            return await detail_page(
                web,
                request,
                workspace_id,
                integration_id,
                session,
                import_error=words,
                status=status,
            )
        url = f"/w/{workspace_id}/integrations/{segment(integration_id)}?notice=import_started"
        return redirect(url + "#imports-h", request)

    return router
