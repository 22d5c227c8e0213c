"""Accounting > Projects and rates: the client each Core project bills, and its hourly rate."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from timebridge_console.domain.billing import project_rates, rate_from_form
from timebridge_console.domain.choices import FormError
from timebridge_console.domain.errors import ApiError
from timebridge_console.domain.session import Session
from timebridge_console.entrypoints.paths import Id, Ws
from timebridge_console.entrypoints.web import Web, redirect
from timebridge_console.handlers.accounting import Accounting
from timebridge_console.handlers.billing import Billing


def projects_router(web: Web) -> APIRouter:
    router = APIRouter(prefix="/w/{workspace_id}/projects")
    SignedIn = Annotated[Session, Depends(web.session)]

    def apis(session: Session, workspace_id: str) -> tuple[Billing, Accounting]:
        assert session.token is not None
        caller = web.apis.as_user(session.token)
        return Billing(caller, workspace_id), Accounting(caller, workspace_id)

    async def show(
        request: Request,
        session: Session,
        workspace_id: str,
        *,
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        billing, accounting = apis(session, workspace_id)
        projects, rates, clients = (
            await billing.projects(),
            await billing.rates(),
            await accounting.clients(),
        )
        tools = (await web.admin(session, workspace_id).providers()).accounting()
        return web.page(
            request,
            "projects.html",
            session,
            status=status,
            workspace_id=workspace_id,
            projects=[p for p in projects if not p.get("archived")],
            rates=project_rates(rates),
            clients=[c for c in clients if c.get("status") == "active"],
            providers=tools,
            error=error,
            title="Projects and rates",
        )

    async def change(
        request: Request, session: Session, workspace_id: str, action: str, project_id: str
    ) -> Response:
        fields = await web.form(request, session)
        billing, _ = apis(session, workspace_id)
        try:
            if action == "client":
                await billing.assign(project_id, fields.get("client_id") or None)
            else:
                await billing.set_rate(project_id, *rate_from_form(fields))
        except FormError as exc:
            return await show(
                request, session, workspace_id, error=f"Not saved: {exc}.", status=422
            )
        except ApiError as exc:
            if exc.status in (401, 403):
                raise
            status = exc.status if exc.status >= 400 else 503
            return await show(request, session, workspace_id, error=str(exc), status=status)
        notice = "project_client" if action == "client" else "project_rate"
        return redirect(f"/w/{workspace_id}/projects?notice={notice}", request)

    @router.get("")
    async def projects(request: Request, workspace_id: Ws, session: SignedIn) -> Response:
        return await show(request, session, workspace_id)

    @router.post("/{project_id}/client")
    async def assign(
        request: Request, workspace_id: Ws, project_id: Id, session: SignedIn
    ) -> Response:
        return await change(request, session, workspace_id, "client", project_id)

    @router.post("/{project_id}/rate")
    async def rate(
        request: Request, workspace_id: Ws, project_id: Id, session: SignedIn
    ) -> Response:
        return await change(request, session, workspace_id, "rate", project_id)

    return router
