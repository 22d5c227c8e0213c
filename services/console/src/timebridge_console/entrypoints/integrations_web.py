"""Settings > Integrations: connect a tracker (Test Connection, Save), its settings, disconnect."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from timebridge_console.adapters.api import segment
from timebridge_console.domain.choices import FormError, provider_label, settings_from_form
from timebridge_console.domain.errors import ApiError
from timebridge_console.domain.session import Session
from timebridge_console.entrypoints.paths import Id, Ws
from timebridge_console.entrypoints.web import Web, redirect

API_KEY_PROVIDERS = ("everhour",)
"""Trackers connected with a pasted API key (the others need OAuth, not offered yet)."""


def integrations_router(web: Web) -> APIRouter:
    router = APIRouter(prefix="/w/{workspace_id}/integrations")
    SignedIn = Annotated[Session, Depends(web.session)]

    @router.get("")
    async def integrations(request: Request, workspace_id: Ws, session: SignedIn) -> Response:
        rows = await web.admin(session, workspace_id).overview()
        return web.page(
            request,
            "integrations.html",
            session,
            workspace_id=workspace_id,
            rows=rows,
            provider_label=provider_label,
            title="Integrations",
        )

    @router.get("/{integration_id}")
    async def detail(
        request: Request, workspace_id: Ws, integration_id: Id, session: SignedIn
    ) -> Response:
        return await _detail(request, workspace_id, integration_id, session)

    async def _detail(
        request: Request,
        workspace_id: str,
        integration_id: str,
        session: Session,
        *,
        error: str | None = None,
        status: int = 200,
    ) -> Response:
        admin = web.admin(session, workspace_id)
        integration = await admin.integration(integration_id)
        health, health_error = None, None
        try:
            health = await admin.health(integration_id)
        except ApiError as exc:
            health_error = str(exc)
        return web.page(
            request,
            "integration.html",
            session,
            status=status,
            workspace_id=workspace_id,
            integration=integration,
            settings=integration["settings"],
            health=health,
            health_error=health_error,
            error=error,
            provider_name=provider_label(integration["provider"]),
            title=provider_label(integration["provider"]),
        )

    @router.post("/{integration_id}/settings")
    async def update(
        request: Request, workspace_id: Ws, integration_id: Id, session: SignedIn
    ) -> Response:
        fields = await web.form(request, session)
        try:
            settings = settings_from_form(fields)
            await web.admin(session, workspace_id).update_settings(integration_id, settings)
        except FormError as exc:
            return await _detail(
                request,
                workspace_id,
                integration_id,
                session,
                error=f"Not saved: {exc}.",
                status=422,
            )
        except ApiError as exc:
            if exc.status in (401, 403, 404):
                raise
            return await _detail(
                request,
                workspace_id,
                integration_id,
                session,
                error=str(exc),
                status=exc.status if exc.status >= 400 else 503,
            )
        url = f"/w/{workspace_id}/integrations/{segment(integration_id)}?notice=saved"
        return redirect(url, request)

    @router.post("/{integration_id}/disconnect")
    async def disconnect(
        request: Request, workspace_id: Ws, integration_id: Id, session: SignedIn
    ) -> Response:
        await web.form(request, session)
        await web.admin(session, workspace_id).disconnect(integration_id)
        return redirect(f"/w/{workspace_id}/integrations?notice=disconnected", request)

    return router


def provider_of(provider: str) -> str:
    if provider not in API_KEY_PROVIDERS:
        raise HTTPException(404, f"no tracker {provider!r} to connect with an API key")
    return provider


def connect_router(web: Web) -> APIRouter:
    """Connect: paste the key, Test Connection (an htmx fragment, or the whole page), Save."""
    router = APIRouter(prefix="/w/{workspace_id}/integrations")
    SignedIn = Annotated[Session, Depends(web.session)]

    @router.get("/new/{provider}")
    async def new(request: Request, workspace_id: Ws, provider: str, session: SignedIn) -> Response:
        return web.page(
            request,
            "integration_new.html",
            session,
            workspace_id=workspace_id,
            provider=provider_of(provider),
            provider_name=provider_label(provider),
            settings={},
            title=f"Connect {provider_label(provider)}",
        )

    @router.post("/new/{provider}/test")
    async def test(
        request: Request, workspace_id: Ws, provider: str, session: SignedIn
    ) -> Response:
        provider = provider_of(provider)
        fields = await web.form(request, session)
        api_key = fields.get("api_key", "").strip()
        result: dict[str, object]
        if not api_key:
            result = {"ok": False, "message": "Paste the API key first."}
        else:
            try:
                result = await web.admin(session, workspace_id).test_connection(provider, api_key)
            except ApiError as exc:
                result = {"ok": False, "message": str(exc)}
        context: dict[str, Any] = {"result": result, "provider_name": provider_label(provider)}
        if request.headers.get("hx-request"):
            return web.page(request, "_test_result.html", session, **context)
        return web.page(
            request,
            "integration_new.html",
            session,
            workspace_id=workspace_id,
            provider=provider,
            settings=fields,
            api_key=api_key,
            title=f"Connect {provider_label(provider)}",
            **context,
        )

    @router.post("/new/{provider}")
    async def save(
        request: Request, workspace_id: Ws, provider: str, session: SignedIn
    ) -> Response:
        provider = provider_of(provider)
        fields = await web.form(request, session)
        api_key = fields.get("api_key", "").strip()
        try:
            if not api_key:
                raise FormError("paste the API key")
            settings = settings_from_form(fields)
            created = await web.admin(session, workspace_id).connect(provider, api_key, settings)
        except (FormError, ApiError) as exc:
            error = str(exc) if isinstance(exc, ApiError) else f"Not saved: {exc}."
            return web.page(
                request,
                "integration_new.html",
                session,
                status=exc.status if isinstance(exc, ApiError) and exc.status >= 400 else 422,
                workspace_id=workspace_id,
                provider=provider,
                provider_name=provider_label(provider),
                settings=fields,
                api_key=api_key,
                error=error,
                title=f"Connect {provider_label(provider)}",
            )
        url = (
            f"/w/{workspace_id}/integrations/{segment(created['integration_id'])}?notice=connected"
        )
        return redirect(url, request)

    return router
