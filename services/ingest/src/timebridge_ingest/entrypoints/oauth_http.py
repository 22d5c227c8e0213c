"""HTTP API of connecting an OAuth tracker by consent: the admin's start, the provider's open
callback (authenticated by the one-time state alone, as the accounting tools' callback is)."""

import datetime as dt
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from timebridge_providers.installed import registry
from timebridge_providers.kit.registry import UnknownProviderError

from timebridge_common.api import WorkspaceIdPath
from timebridge_common.auth import Caller, WorkspaceAdmins
from timebridge_common.events import IntegrationSettings
from timebridge_common.http_errors import refusals
from timebridge_ingest.domain.errors import RejectedError
from timebridge_ingest.entrypoints.connections_http import ConnectionFields, IntegrationView
from timebridge_ingest.handlers.oauth_connect import OAuthConnect

ProviderPath = Annotated[str, Path(pattern=r"^[a-z0-9_-]{1,64}$")]


class StartBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fields: ConnectionFields = {}
    settings: IntegrationSettings = IntegrationSettings()
    history_from: dt.date | None = Field(
        default=None,
        description="Import the tracker's history from this day once the consent connects it"
        " (the initial import; its progress is on the imports API)",
    )


class StartView(BaseModel):
    authorize_url: str = Field(description="Send the admin's browser here")
    expires_at: dt.datetime = Field(description="The consent must come back before this")


def oauth_router(
    consent: OAuthConnect, admins: WorkspaceAdmins, console_url: str | None
) -> APIRouter:
    """``console_url``: a browser (``Accept: text/html``) is sent back to the console."""
    router = APIRouter(tags=["integrations"])
    Admin = Annotated[Caller, Depends(admins.require)]

    @router.post(
        "/v1/workspaces/{workspace_id}/integrations/{provider}/oauth/start",
        summary="Connect an OAuth tracker by consent: open authorize_url in the admin's browser",
        responses=refusals(404, 422, 503),
    )
    async def start(
        workspace_id: WorkspaceIdPath, provider: ProviderPath, body: StartBody, admin: Admin
    ) -> StartView:
        try:
            started = await consent.start(
                workspace_id,
                provider,
                admin.id,
                body.settings,
                body.fields,
                history_from=body.history_from,
            )
        except RejectedError as exc:
            raise HTTPException(exc.status, exc.reason) from None
        return StartView(authorize_url=started.authorize_url, expires_at=started.expires_at)

    @router.get(
        "/v1/oauth/{provider}/callback",
        summary="Where the tracker sends the admin's browser back (code and state)",
        response_model=IntegrationView,
        responses={
            **refusals(422, 503, 504),
            303: {"description": "A browser, when the console's URL is configured"},
        },
    )
    async def callback(provider: ProviderPath, request: Request) -> Response:
        params = {k: v[:2000] for k, v in request.query_params.items()}
        browser = "text/html" in request.headers.get("accept", "")
        try:
            done = await consent.complete(provider, params)
        except RejectedError as exc:
            if console_url is None or not browser:
                raise HTTPException(exc.status, exc.reason) from None
            query = urlencode({"tracker": _title(provider), "reason": exc.reason[:300]})
            return RedirectResponse(
                f"{console_url.rstrip('/')}/integrations/not-connected?{query}", status_code=303
            )
        integration = done.integration
        if console_url is None or not browser:
            return JSONResponse(IntegrationView.of(integration).model_dump(mode="json"))
        # To the console's landing page, which opens the integration's page itself: a session
        # cookie (SameSite=Lax) may not be sent along a redirect chain a consent form's POST began.
        landed = {"workspace": integration.workspace_id, "integration": integration.integration_id}
        if done.importing or done.import_error:
            landed["import"] = "started" if done.importing else "not_started"
        query = urlencode(landed)
        landing = f"{console_url.rstrip('/')}/integrations/connected?{query}"
        return RedirectResponse(landing, status_code=303)

    return router


def _title(provider: str) -> str:
    try:
        return registry().get(provider).profile.title
    except UnknownProviderError:
        return provider
