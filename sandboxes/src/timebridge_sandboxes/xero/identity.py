"""Xero's identity routes: authorize (login.xero.com), token (identity.xero.com), connections."""

import secrets
import uuid
from typing import Annotated
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from timebridge_sandboxes.faults import ApiError
from timebridge_sandboxes.xero.deps import Sandbox
from timebridge_sandboxes.xero.oauth import _client_credentials, _oauth_refusal
from timebridge_sandboxes.xero.state import (
    CODE_TTL,
    Json,
    _Code,
    _Connection,
)

identity = APIRouter(tags=["identity"])


@identity.get("/identity/connect/authorize")
async def authorize(
    sandbox: Sandbox,
    *,
    response_type: str,
    client_id: str,
    redirect_uri: str,
    scope: str,
    state: str | None = None,
) -> Response:
    """The user logs in and connects the organisations (all, or ``XeroState.consent``)."""
    app = sandbox.state.apps.get(client_id)
    if app is None or redirect_uri not in app.redirect_uris:
        raise ApiError(400, "Unknown client or redirect URI")
    separator = "&" if "?" in redirect_uri else "?"
    extra = {} if state is None else {"state": state}
    if response_type != "code":
        query = urlencode({"error": "unsupported_response_type", **extra})
        return RedirectResponse(f"{redirect_uri}{separator}{query}", status_code=302)
    now, auth_event = sandbox.state.now(), str(uuid.uuid4())
    code = secrets.token_urlsafe(24)
    sandbox.state.codes[code] = _Code(
        client_id, redirect_uri, scope.split(), auth_event, now + CODE_TTL
    )
    for tenant_id in sandbox.state.consent or list(sandbox.state.tenants):
        known = sandbox.state.connections.get((client_id, tenant_id))
        sandbox.state.connections[(client_id, tenant_id)] = _Connection(
            known.id if known else str(uuid.uuid4()),
            client_id,
            tenant_id,
            auth_event,
            known.created_at if known else now,
            now,
        )
    query = urlencode({"code": code, "scope": scope, **extra})
    return RedirectResponse(f"{redirect_uri}{separator}{query}", status_code=302)


async def _form(request: Request) -> dict[str, str] | None:
    try:
        text = (await request.body()).decode()
    except UnicodeDecodeError:
        return None
    return {k: v[0] for k, v in parse_qs(text).items()}


@identity.post("/connect/token")
async def token(
    sandbox: Sandbox, request: Request, authorization: Annotated[str | None, Header()] = None
) -> JSONResponse:
    """Exchange a code or a refresh token (form body; the client's id and secret as Basic auth
    or in the body)."""
    form = await _form(request)
    if form is None:
        return _oauth_refusal("invalid_request")
    app = _client_credentials(sandbox, authorization, form)
    if app is None:
        return _oauth_refusal("invalid_client", 401)
    grant = form.get("grant_type")
    if grant == "authorization_code":
        answer = sandbox.exchange_code(app, form.get("code", ""), form.get("redirect_uri"))
    elif grant == "refresh_token":
        answer = sandbox.refresh(app, form.get("refresh_token", ""))
    else:
        return _oauth_refusal("unsupported_grant_type")
    return JSONResponse(answer) if answer is not None else _oauth_refusal("invalid_grant")


@identity.post("/connect/revocation", response_model=None)
async def revoke(
    sandbox: Sandbox, request: Request, authorization: Annotated[str | None, Header()] = None
) -> Response:
    """Revoke a refresh token (``token``): it, the access tokens of its authorisation and the
    connections that authorisation made are gone (Xero: revoking disconnects the app)."""
    form = await _form(request)
    if form is None:
        return _oauth_refusal("invalid_request")
    app = _client_credentials(sandbox, authorization, form)
    if app is None:
        return _oauth_refusal("invalid_client", 401)
    sandbox.revoke(app, form.get("token", ""))
    return Response(status_code=200)


@identity.get("/connections")
@identity.get("/Connections", include_in_schema=False)
async def connections(
    sandbox: Sandbox,
    authorization: Annotated[str | None, Header()] = None,
    auth_event_id: Annotated[str | None, Query(alias="authEventId")] = None,
) -> list[Json]:
    """The tenants the token's user connected to the app (``/connections`` as Xero documents
    it, ``/Connections`` as xero-python asks), optionally of one ``authEventId``."""
    access = sandbox.bearer(authorization)
    return [
        {
            "id": c.id,
            "authEventId": c.auth_event_id,
            "tenantId": c.tenant_id,
            "tenantType": "ORGANISATION",
            "tenantName": sandbox.state.tenants[c.tenant_id].name,
            "createdDateUtc": c.created_at.replace(tzinfo=None).isoformat(),
            "updatedDateUtc": c.updated_at.replace(tzinfo=None).isoformat(),
        }
        for c in sandbox.state.connections.values()
        if c.client_id == access.client_id
        and (auth_event_id is None or c.auth_event_id == auth_event_id)
    ]


@identity.delete("/connections/{connection_id}", status_code=204)
@identity.delete("/Connections/{connection_id}", status_code=204, include_in_schema=False)
async def disconnect(
    sandbox: Sandbox, connection_id: str, authorization: Annotated[str | None, Header()] = None
) -> Response:
    """The app leaves a tenant: its calls to that tenant are ``403`` from then on."""
    access = sandbox.bearer(authorization)
    for key, connection in list(sandbox.state.connections.items()):
        if connection.id == connection_id and connection.client_id == access.client_id:
            del sandbox.state.connections[key]
            return Response(status_code=204)
    raise ApiError(404, "The resource you're looking for cannot be found")
