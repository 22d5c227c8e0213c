"""Accounting: Add Integration (OAuth through the tool's consent page), company choice, clients
with the tool's icon, invoices with their state in the tool, the invoice preview and its actions.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from timebridge_console.adapters.api import segment
from timebridge_console.domain.errors import ApiError
from timebridge_console.domain.session import Session
from timebridge_console.entrypoints.paths import Id, Ws
from timebridge_console.entrypoints.web import Refused, Web, landing, redirect
from timebridge_console.handlers.accounting import Accounting

INVOICE_ACTIONS = {"export": "exported", "sync": "synced", "delete": "deleted"}


def _helpers(
    web: Web,
) -> tuple[Callable[[Session, str], Accounting], Callable[..., Awaitable[Response]]]:
    """The accounting API as the signed-in admin; a page that knows the tools' names (the
    installed accounting tools, as mapping's providers API lists them)."""

    def accounting(session: Session, workspace_id: str) -> Accounting:
        assert session.token is not None
        return Accounting(web.apis.as_user(session.token), workspace_id)

    async def page(request: Request, session: Session, name: str, **context: Any) -> Response:
        tools = await _tools(web, session, context["workspace_id"])
        return web.page(request, name, session, providers=tools, **context)

    return accounting, page


async def _tools(web: Web, session: Session, workspace_id: str) -> dict[str, str]:
    """The installed accounting tools by name, with their titles."""
    return (await web.admin(session, workspace_id).providers()).accounting()


def accounting_router(web: Web) -> APIRouter:
    """Connections and clients."""
    router = APIRouter(prefix="/w/{workspace_id}")
    SignedIn = Annotated[Session, Depends(web.session)]

    accounting, page = _helpers(web)

    @router.get("/accounting")
    async def connections(request: Request, workspace_id: Ws, session: SignedIn) -> Response:
        found = await accounting(session, workspace_id).connections()
        return await page(
            request,
            session,
            "accounting.html",
            workspace_id=workspace_id,
            connections=found,
            title="Accounting",
        )

    @router.post("/accounting/{provider}/connect")
    async def connect(
        request: Request, workspace_id: Ws, provider: str, session: SignedIn
    ) -> Response:
        """The tool's consent page is another site: a link to it (CSP keeps forms on this one)."""
        tools = await _tools(web, session, workspace_id)
        if provider not in tools:
            raise HTTPException(404, f"no accounting tool {provider!r}")
        await web.form(request, session)
        url = await accounting(session, workspace_id).authorize(provider)
        return await page(
            request,
            session,
            "accounting_consent.html",
            workspace_id=workspace_id,
            provider_name=tools[provider],
            authorize_url=url,
            title=f"Connect {tools[provider]}",
        )

    @router.post("/accounting/{connection_id}/{action}")
    async def change_connection(
        request: Request, workspace_id: Ws, connection_id: Id, action: str, session: SignedIn
    ) -> Response:
        fields = await web.form(request, session)
        api = accounting(session, workspace_id)
        if action == "company":
            await api.choose_company(connection_id, fields.get("tenant_id", ""))
        elif action == "disconnect":
            await api.disconnect(connection_id)
        else:
            raise HTTPException(404, "no such action")
        return redirect(f"/w/{workspace_id}/accounting?notice=accounting_{action}", request)

    @router.get("/clients")
    async def clients(request: Request, workspace_id: Ws, session: SignedIn) -> Response:
        found = await accounting(session, workspace_id).clients()
        return await page(
            request,
            session,
            "clients.html",
            workspace_id=workspace_id,
            clients=found,
            title="Clients",
        )

    @router.post("/clients/{client_id}/{action}")
    async def archive(
        request: Request, workspace_id: Ws, client_id: Id, action: str, session: SignedIn
    ) -> Response:
        if action not in ("archive", "unarchive"):
            raise HTTPException(404, "no such action")
        await web.form(request, session)
        await accounting(session, workspace_id).archive(client_id, action == "archive")
        return redirect(f"/w/{workspace_id}/clients?notice=client_{action}", request)

    return router


def invoices_router(web: Web) -> APIRouter:
    """Invoices, the invoice preview and its actions."""
    router = APIRouter(prefix="/w/{workspace_id}")
    SignedIn = Annotated[Session, Depends(web.session)]

    accounting, page = _helpers(web)

    @router.get("/invoices")
    async def invoices(request: Request, workspace_id: Ws, session: SignedIn) -> Response:
        api = accounting(session, workspace_id)
        found, clients = await api.invoices(), await api.clients()
        return await page(
            request,
            session,
            "invoices.html",
            workspace_id=workspace_id,
            invoices=found,
            clients=[c for c in clients if c["status"] == "active"],
            title="Invoices",
        )

    @router.post("/invoices")
    async def create(request: Request, workspace_id: Ws, session: SignedIn) -> Response:
        fields = await web.form(request, session)
        start, end = fields.get("period_start", ""), fields.get("period_end", "")
        if not (fields.get("client_id") and start and end):
            raise Refused(422, "Not created: choose a client and the period's first and last day.")
        created = await accounting(session, workspace_id).create_invoice(
            fields["client_id"], start, end
        )
        url = f"/w/{workspace_id}/invoices/{segment(created['invoice_id'])}"
        return redirect(url, request)

    @router.get("/invoices/{invoice_id}")
    async def preview(
        request: Request, workspace_id: Ws, invoice_id: Id, session: SignedIn
    ) -> Response:
        return await show(request, session, workspace_id, invoice_id)

    async def show(
        request: Request,
        session: Session,
        workspace_id: str,
        invoice_id: str,
        *,
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        invoice = await accounting(session, workspace_id).invoice(invoice_id)
        return web.page(
            request,
            "invoice.html",
            session,
            status=status,
            workspace_id=workspace_id,
            invoice=invoice,
            providers=await _tools(web, session, workspace_id),
            error=error,
            title=f"Invoice {invoice.get('tool', {}).get('number') or invoice_id}",
        )

    @router.post("/invoices/{invoice_id}/{action}")
    async def act(
        request: Request, workspace_id: Ws, invoice_id: Id, action: str, session: SignedIn
    ) -> Response:
        if action not in INVOICE_ACTIONS:
            raise HTTPException(404, "no such action")
        await web.form(request, session)
        try:
            await accounting(session, workspace_id).invoice_action(invoice_id, action)
        except ApiError as exc:
            if exc.status in (401, 403, 404):
                raise
            return await show(
                request,
                session,
                workspace_id,
                invoice_id,
                error=str(exc),
                status=exc.status if exc.status >= 400 else 503,
            )
        url = f"/w/{workspace_id}/invoices/{segment(invoice_id)}?notice=invoice_{action}"
        return redirect(url, request)

    return router


def consent_result_router(web: Web) -> APIRouter:
    """Where invoice-export sends a browser back from a tool's consent (``TB_CONSOLE_URL`` set
    there): connected, on to the Accounting page; not connected, the reason and the way back."""
    router = APIRouter()

    @router.get("/accounting/connected")
    async def connected(request: Request, workspace: str = "", connection: str = "") -> Response:
        """A page of this site opens the Accounting page (see :func:`landing`)."""
        if not workspace or not connection or len(workspace) + len(connection) > 400:
            raise HTTPException(404, "no connection named")
        query = urlencode({"notice": "accounting_connected", "connection": connection})
        page = f"/w/{segment(workspace)}/accounting?{query}"
        return landing(web, request, page, "The accounting tool is connected.", "Open Accounting")

    @router.get("/accounting/not-connected")
    async def not_connected(request: Request, tool: str = "", reason: str = "") -> Response:
        session = web.current(request)
        tool, reason = tool[:80] or "The accounting tool", reason[:300]
        message = f"{tool} was not connected: {reason or 'no reason given'}."
        workspace = session.workspace_id if session and session.signed_in else None
        return web.page(
            request,
            "accounting_not_connected.html",
            session,
            status=422,
            message=message,
            workspace_id=workspace,
            title="Not connected",
        )

    return router
