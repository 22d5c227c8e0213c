"""HTTP API of accounting connections: connect a tool (OAuth), choose its company, disconnect."""

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field
from timebridge_providers.core.client import CoreUser

from timebridge_common.auth import WorkspaceAdmins
from timebridge_common.http_errors import refusals
from timebridge_common.refusals import RefusedError
from timebridge_invoice_export.domain.accounting import title
from timebridge_invoice_export.domain.connections import AccountingConnection
from timebridge_invoice_export.entrypoints.paths import WS, Id, ProviderPath, WorkspaceIdPath
from timebridge_invoice_export.handlers.connections import Connections


class AuthorizeView(BaseModel):
    authorize_url: str = Field(description="Send the admin's browser here")
    state: str
    redirect_uri: str
    expires_at: dt.datetime


class TenantView(BaseModel):
    id: str
    name: str


class ConnectionView(BaseModel):
    connection_id: str
    provider: str
    provider_name: str
    status: str
    tenant_id: str | None
    tenant_name: str | None
    tenants: list[TenantView] = Field(description="Offered companies, when one must be chosen")
    mirrored_at: dt.datetime | None
    last_poll_at: dt.datetime | None
    last_error: str | None
    webhooks_registered_at: dt.datetime | None = Field(
        description="Tools with per-company webhooks: when they were registered"
    )
    verified_webhooks: int = Field(
        description="Per-company webhook registrations the tool confirmed"
    )

    @classmethod
    def of(cls, c: AccountingConnection) -> "ConnectionView":
        return cls(
            connection_id=c.connection_id,
            provider=c.provider,
            provider_name=title(c.provider),
            status=c.status,
            tenant_id=c.tenant_id,
            tenant_name=c.tenant_name,
            tenants=[TenantView(id=t.id, name=t.name) for t in c.tenants],
            mirrored_at=c.mirrored_at,
            last_poll_at=c.last_poll_at,
            last_error=c.last_error,
            webhooks_registered_at=c.webhooks_registered_at,
            verified_webhooks=c.verified_webhooks,
        )


class TenantChoice(BaseModel):
    tenant_id: str = Field(min_length=1)


def connections_router(connections: Connections, admins: WorkspaceAdmins) -> APIRouter:
    router = APIRouter()
    Admin = Annotated[CoreUser, Depends(admins.require)]

    @router.post(f"{WS}/accounting/{{provider}}/authorize", tags=["connections"])
    async def authorize(
        workspace_id: WorkspaceIdPath, provider: ProviderPath, admin: Admin
    ) -> AuthorizeView:
        """Start connecting QuickBooks Online, Xero or FreshBooks: open ``authorize_url``."""
        a = await connections.authorize(workspace_id, provider, admin.id)
        return AuthorizeView(
            authorize_url=a.authorize_url,
            state=a.state,
            redirect_uri=a.redirect_uri,
            expires_at=a.expires_at,
        )

    @router.get(f"{WS}/accounting/connections", tags=["connections"])
    async def list_connections(workspace_id: WorkspaceIdPath) -> list[ConnectionView]:
        return [ConnectionView.of(c) for c in await connections.list(workspace_id)]

    @router.get(f"{WS}/accounting/connections/{{connection_id}}", tags=["connections"])
    async def get_connection(workspace_id: WorkspaceIdPath, connection_id: Id) -> ConnectionView:
        return ConnectionView.of(await connections.get(workspace_id, connection_id))

    @router.post(f"{WS}/accounting/connections/{{connection_id}}/tenant", tags=["connections"])
    async def choose_tenant(
        workspace_id: WorkspaceIdPath, connection_id: Id, body: TenantChoice
    ) -> ConnectionView:
        """Choose the company when the consent covered several."""
        chosen = await connections.choose_tenant(workspace_id, connection_id, body.tenant_id)
        return ConnectionView.of(chosen)

    @router.delete(f"{WS}/accounting/connections/{{connection_id}}", tags=["connections"])
    async def disconnect(workspace_id: WorkspaceIdPath, connection_id: Id) -> ConnectionView:
        return ConnectionView.of(await connections.disconnect(workspace_id, connection_id))

    return router


def oauth_router(connections: Connections, console_url: str | None = None) -> APIRouter:
    """``console_url``: a browser (``Accept: text/html``) is sent back to the console."""
    router = APIRouter(tags=["connections"], responses=refusals(404, 409, 422, 502))

    @router.get(
        "/v1/oauth/{provider}/callback",
        response_model=ConnectionView,
        responses={303: {"description": "A browser, when the console's URL is configured"}},
    )
    async def callback(provider: ProviderPath, request: Request) -> Response:
        """Where the tool sends the admin's browser back (with ``code``, ``state``, and for
        QuickBooks ``realmId``)."""
        params = dict(request.query_params)
        browser = "text/html" in request.headers.get("accept", "")
        if console_url is None or not browser:
            done = await connections.complete(provider, params)
            return JSONResponse(ConnectionView.of(done).model_dump(mode="json"))
        return await back_to_console(console_url, connections, provider, params)

    return router


async def back_to_console(
    console_url: str, connections: Connections, provider: str, params: dict[str, str]
) -> Response:
    """Complete the consent and send the browser to the console's landing page (on to its
    Accounting page), or to its page saying why not (the refusal's reason, which names no
    secret)."""
    base = console_url.rstrip("/")
    try:
        done = await connections.complete(provider, params)
    except RefusedError as exc:
        query = urlencode({"tool": title(provider), "reason": exc.reason[:300]})
        return RedirectResponse(f"{base}/accounting/not-connected?{query}", status_code=303)
    # To the console's landing page, which opens the Accounting page itself: the session cookie
    # (SameSite=Lax) is not sent along a redirect chain a consent form's POST began.
    query = urlencode({"workspace": done.workspace_id, "connection": done.connection_id})
    return RedirectResponse(f"{base}/accounting/connected?{query}", status_code=303)
