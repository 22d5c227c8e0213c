"""Settings > Integrations: connect a tracker (Test Connection, Save), its settings, disconnect."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response

from timebridge_console.adapters.api import segment
from timebridge_console.domain import imports
from timebridge_console.domain.choices import FormError, settings_from_form
from timebridge_console.domain.errors import ApiError
from timebridge_console.domain.providers import Catalog
from timebridge_console.domain.session import Session
from timebridge_console.domain.team import team
from timebridge_console.entrypoints.paths import Id, Ws
from timebridge_console.entrypoints.web import Web, landing, redirect
from timebridge_console.handlers.admin import Admin
from timebridge_console.handlers.imports import HistoryImports

LANDED = {"started": "connected_importing", "not_started": "connected_import_not_started"}
"""Back from a consent: the notice for what became of the history import asked for."""


def integrations_router(web: Web) -> APIRouter:
    router = APIRouter(prefix="/w/{workspace_id}/integrations")
    SignedIn = Annotated[Session, Depends(web.session)]

    @router.get("")
    async def integrations(request: Request, workspace_id: Ws, session: SignedIn) -> Response:
        admin = web.admin(session, workspace_id)
        rows = await admin.overview()
        catalog = await admin.providers()
        return web.page(
            request,
            "integrations.html",
            session,
            workspace_id=workspace_id,
            rows=rows,
            trackers=catalog.connectable_trackers(),
            catalog_error=catalog.unavailable,
            provider_label=catalog.label,
            title="Integrations",
        )

    @router.get("/{integration_id}")
    async def detail(
        request: Request, workspace_id: Ws, integration_id: Id, session: SignedIn
    ) -> Response:
        return await detail_page(web, request, workspace_id, integration_id, session)

    @router.post("/{integration_id}/settings")
    async def update(
        request: Request, workspace_id: Ws, integration_id: Id, session: SignedIn
    ) -> Response:
        fields = await web.form(request, session)
        try:
            settings = settings_from_form(fields)
            await web.admin(session, workspace_id).update_settings(integration_id, settings)
        except FormError as exc:
            return await detail_page(
                web,
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
            return await detail_page(
                web,
                request,
                workspace_id,
                integration_id,
                session,
                error=str(exc),
                status=exc.status if exc.status >= 400 else 503,
            )
        url = f"/w/{workspace_id}/integrations/{segment(integration_id)}?notice=saved"
        return redirect(url, request)

    @router.post("/{integration_id}/retest")
    async def retest(
        request: Request, workspace_id: Ws, integration_id: Id, session: SignedIn
    ) -> Response:
        """Test Connection again with the saved key: the answer shown on the page, in words."""
        await web.form(request, session)
        result: dict[str, Any]
        try:
            result = await web.admin(session, workspace_id).retest(integration_id)
        except ApiError as exc:
            if exc.status in (401, 403, 404):
                raise
            result = {"ok": False, "message": str(exc)}
        return await detail_page(web, request, workspace_id, integration_id, session, retest=result)

    @router.post("/{integration_id}/disconnect")
    async def disconnect(
        request: Request, workspace_id: Ws, integration_id: Id, session: SignedIn
    ) -> Response:
        await web.form(request, session)
        await web.admin(session, workspace_id).disconnect(integration_id)
        return redirect(f"/w/{workspace_id}/integrations?notice=disconnected", request)

    return router


async def detail_page(
    web: Web,
    request: Request,
    workspace_id: str,
    integration_id: str,
    session: Session,
    *,
    error: str | None = None,
    status: int = 200,
    retest: dict[str, Any] | None = None,
    import_error: str | None = None,
) -> Response:
    """The integration page (``error``: the settings form's; ``import_error``: the import
    form's)."""
    admin = web.admin(session, workspace_id)
    integration = await admin.integration(integration_id)
    catalog = await admin.providers()
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
        **(await _connection_of(admin, integration)),
        **(await imports_of(web, session, workspace_id, integration)),
        import_error=import_error,
        result=retest,
        error=error,
        provider_name=catalog.label(integration["provider"]),
        title=catalog.label(integration["provider"]),
        not_allowed=catalog.directions(integration["provider"]),
    )


def history_of(
    web: Web, session: Session, workspace_id: str, integration_id: str
) -> HistoryImports:
    assert session.token is not None
    return HistoryImports(web.apis.as_user(session.token), workspace_id, integration_id)


async def imports_of(
    web: Web, session: Session, workspace_id: str, integration: dict[str, Any]
) -> dict[str, Any]:
    """The integration's imports, newest first, and whether the page should keep asking."""
    found: dict[str, Any] = {
        "imports": [],
        "imports_active": False,
        "imports_unreadable": None,
        "import_state": imports.state_label,
    }
    if integration["status"] == "disconnected":
        return found
    try:
        runs = await history_of(web, session, workspace_id, integration["integration_id"]).runs()
    except ApiError as exc:
        if exc.status in (401, 403):
            raise
        found["imports_unreadable"] = str(exc)
        return found
    found.update(imports=runs, imports_active=imports.any_active(runs))
    return found


async def _connection_of(admin: Admin, integration: dict[str, Any]) -> dict[str, Any]:
    """A connected integration's health as ingest sees it, and the people its default users
    are chosen from (none listed: the ids are typed instead)."""
    found: dict[str, Any] = {
        "connection": None,
        "connection_error": None,
        "team": None,
        "held": None,
    }
    if integration["status"] == "disconnected":
        return found
    integration_id = integration["integration_id"]
    try:
        found["connection"] = await admin.connection_health(integration_id)
    except ApiError as exc:
        found["connection_error"] = str(exc)
    try:
        found["team"] = team(await admin.users(integration_id), integration["settings"])
        found["held"] = len(await admin.held_entries(integration_id))
    except ApiError as exc:
        if exc.status in (401, 403):
            raise
    return found


async def provider_of(
    web: Web, session: Session, workspace_id: str, provider: str, *, consent: bool = False
) -> Catalog:
    """The installed providers, once ``provider`` is a tracker connected with an API key (or,
    ``consent``, by its consent page: OAuth)."""
    catalog = await web.admin(session, workspace_id).providers()
    offered = catalog.oauth_trackers() if consent else catalog.key_trackers()
    if provider not in offered:
        how = "by consent" if consent else "with an API key"
        raise HTTPException(404, f"no tracker {provider!r} to connect {how}")
    return catalog


def connect_router(web: Web) -> APIRouter:
    """Connect: paste the key, Test Connection (an htmx fragment, or the whole page), Save; an
    OAuth tracker: Continue to its consent page instead."""
    router = APIRouter(prefix="/w/{workspace_id}/integrations")
    SignedIn = Annotated[Session, Depends(web.session)]

    @router.get("/new/{provider}")
    async def new(request: Request, workspace_id: Ws, provider: str, session: SignedIn) -> Response:
        catalog = await web.admin(session, workspace_id).providers()
        consent = provider in catalog.oauth_trackers()
        await provider_of(web, session, workspace_id, provider, consent=consent)
        return web.page(
            request,
            "integration_new.html",
            session,
            workspace_id=workspace_id,
            provider=provider,
            provider_name=catalog.label(provider),
            settings={},
            not_allowed=catalog.directions(provider),
            connection_fields=catalog.fields(provider),
            consent=consent,
            title=f"Connect {catalog.label(provider)}",
        )

    @router.post("/new/{provider}/consent")
    async def consent(
        request: Request, workspace_id: Ws, provider: str, session: SignedIn
    ) -> Response:
        """An OAuth tracker: a link to its consent page; ingest's callback brings the browser
        back to the integration's page, connected (or to a page saying why not)."""
        catalog = await provider_of(web, session, workspace_id, provider, consent=True)
        fields = await web.form(request, session)
        try:
            authorize_url = await web.admin(session, workspace_id).start_consent(
                provider,
                settings_from_form(fields),
                catalog.entered(provider, fields),
                history_from=imports.optional_start(fields),
            )
        except (FormError, ApiError) as exc:
            return web.page(
                request,
                "integration_new.html",
                session,
                status=exc.status if isinstance(exc, ApiError) and exc.status >= 400 else 422,
                workspace_id=workspace_id,
                provider=provider,
                provider_name=catalog.label(provider),
                settings=fields,
                error=str(exc) if isinstance(exc, ApiError) else f"Not connected: {exc}.",
                not_allowed=catalog.directions(provider),
                connection_fields=catalog.fields(provider),
                consent=True,
                title=f"Connect {catalog.label(provider)}",
            )
        # The consent page is another site: a link to it (the CSP keeps forms on this one).
        return web.page(
            request,
            "integration_consent.html",
            session,
            workspace_id=workspace_id,
            provider_name=catalog.label(provider),
            authorize_url=authorize_url,
            title=f"Connect {catalog.label(provider)}",
        )

    @router.post("/new/{provider}/test")
    async def test(
        request: Request, workspace_id: Ws, provider: str, session: SignedIn
    ) -> Response:
        catalog = await provider_of(web, session, workspace_id, provider)
        fields = await web.form(request, session)
        api_key = fields.get("api_key", "").strip()
        result: dict[str, object]
        if not api_key:
            result = {"ok": False, "message": "Paste the API key first."}
        else:
            try:
                result = await web.admin(session, workspace_id).test_connection(
                    provider, api_key, catalog.entered(provider, fields)
                )
            except ApiError as exc:
                result = {"ok": False, "message": str(exc)}
        context: dict[str, Any] = {"result": result, "provider_name": catalog.label(provider)}
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
            not_allowed=catalog.directions(provider),
            connection_fields=catalog.fields(provider),
            title=f"Connect {catalog.label(provider)}",
            **context,
        )

    @router.post("/new/{provider}")
    async def save(
        request: Request, workspace_id: Ws, provider: str, session: SignedIn
    ) -> Response:
        catalog = await provider_of(web, session, workspace_id, provider)
        fields = await web.form(request, session)
        api_key = fields.get("api_key", "").strip()
        try:
            if not api_key:
                raise FormError("paste the API key")
            settings = settings_from_form(fields)
            history_from = imports.optional_start(fields)
            created = await web.admin(session, workspace_id).connect(
                provider, api_key, settings, catalog.entered(provider, fields)
            )
        except (FormError, ApiError) as exc:
            error = str(exc) if isinstance(exc, ApiError) else f"Not saved: {exc}."
            return web.page(
                request,
                "integration_new.html",
                session,
                status=exc.status if isinstance(exc, ApiError) and exc.status >= 400 else 422,
                workspace_id=workspace_id,
                provider=provider,
                provider_name=catalog.label(provider),
                settings=fields,
                api_key=api_key,
                error=error,
                not_allowed=catalog.directions(provider),
                connection_fields=catalog.fields(provider),
                title=f"Connect {catalog.label(provider)}",
            )
        integration_id = str(created["integration_id"])
        notice = "connected"
        if history_from is not None:
            try:
                await history_of(web, session, workspace_id, integration_id).start(
                    history_from, None, kind="initial"
                )
            except ApiError as exc:  # connected all the same: say why nothing is imported
                return await detail_page(
                    web, request, workspace_id, integration_id, session, import_error=str(exc)
                )
            notice = "connected_importing"
        url = f"/w/{workspace_id}/integrations/{segment(integration_id)}?notice={notice}"
        return redirect(url, request)

    return router


def consent_refused_router(web: Web) -> APIRouter:
    """Where ingest sends a browser back from a tracker's consent (``TB_CONSOLE_URL`` set
    there): connected, on to the integration's page; not connected, the reason and the way
    back."""
    router = APIRouter()

    @router.get("/integrations/connected")
    async def connected(
        request: Request,
        workspace: str = "",
        integration: str = "",
        history: Annotated[str, Query(alias="import")] = "",
    ) -> Response:
        """A page of this site opens the integration's page (see :func:`landing`); ``import``:
        the history import asked for before the consent ``started`` or ``not_started``."""
        if not workspace or not integration or len(workspace) + len(integration) > 400:
            raise HTTPException(404, "no integration named")
        notice = LANDED.get(history, "connected")
        page = f"/w/{segment(workspace)}/integrations/{segment(integration)}?notice={notice}"
        return landing(web, request, page, "The tracker is connected.", "Open the integration")

    @router.get("/integrations/not-connected")
    async def not_connected(request: Request, tracker: str = "", reason: str = "") -> Response:
        session = web.current(request)
        tracker, reason = tracker[:80] or "The tracker", reason[:300]
        workspace = session.workspace_id if session and session.signed_in else None
        return web.page(
            request,
            "integration_not_connected.html",
            session,
            status=422,
            message=f"{tracker} was not connected: {reason or 'no reason given'}.",
            workspace_id=workspace,
            title="Not connected",
        )

    return router
