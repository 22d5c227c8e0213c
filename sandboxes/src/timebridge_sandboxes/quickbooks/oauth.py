"""Intuit's OAuth 2.0 and OpenID Connect endpoints: the discovery document (where Intuit's own
SDK, intuit-oauth, finds the others), consent (``/connect/oauth2``), the token endpoint
(``/oauth2/v1/tokens/bearer``) and revocation (``/v2/oauth2/tokens/revoke``)."""

import base64
import binascii
import hmac
import json
import secrets
from typing import Annotated
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from timebridge_sandboxes.quickbooks.base import (
    ACCESS_TOKEN_TTL,
    CODE_TTL,
    REFRESH_TOKEN_TTL_S,
    SCOPE,
    Json,
)
from timebridge_sandboxes.quickbooks.routes import SandboxDep
from timebridge_sandboxes.quickbooks.sandbox import Sandbox
from timebridge_sandboxes.quickbooks.state import App, Grant

oauth = APIRouter(tags=["oauth"])


@oauth.get("/.well-known/openid_sandbox_configuration")
@oauth.get("/.well-known/openid_configuration")
async def discovery(request: Request) -> Json:
    """Intuit's discovery document, naming this host for every endpoint."""
    base = str(request.base_url).rstrip("/")
    return {
        "issuer": f"{base}/op/v1",
        "authorization_endpoint": f"{base}/connect/oauth2",
        "token_endpoint": f"{base}/oauth2/v1/tokens/bearer",
        "userinfo_endpoint": f"{base}/v1/openid_connect/userinfo",
        "revocation_endpoint": f"{base}/v2/oauth2/tokens/revoke",
        "jwks_uri": f"{base}/op/v1/jwks",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile", "address", "phone"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
    }


@oauth.get("/connect/oauth2")
async def authorize(
    sandbox: SandboxDep,
    *,
    client_id: str,
    redirect_uri: str,
    response_type: str = "",
    scope: str = "",
    state: str = "",
) -> Response:
    """The seeded user consents at once and Intuit sends the browser back with a code."""
    app = sandbox.state.apps.get(client_id)
    if app is None or redirect_uri not in app.redirect_uris:
        return JSONResponse({"error": "invalid_request"}, status_code=400)
    answer: dict[str, str] = {"state": state}
    realm = sandbox.state.consent_realm or next(iter(sandbox.state.companies), None)
    if response_type != "code":
        answer["error"] = "unsupported_response_type"
    elif SCOPE not in scope.split():
        answer["error"] = "invalid_scope"
    elif realm is None:
        answer["error"] = "access_denied"
    else:
        code = f"AB11{secrets.token_urlsafe(24)}"
        expires = sandbox.state.now() + CODE_TTL
        sandbox.state.codes[code] = Grant(client_id, realm, expires, redirect_uri)
        answer |= {"code": code, "realmId": realm}
    return RedirectResponse(f"{redirect_uri}?{urlencode(answer)}", status_code=302)


def _client(sandbox: Sandbox, authorization: str | None) -> App | None:
    scheme, _, encoded = (authorization or "").partition(" ")
    try:
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    app = sandbox.state.apps.get(client_id)
    if scheme.lower() != "basic" or app is None:
        return None
    return app if hmac.compare_digest(app.client_secret, secret) else None


@oauth.post("/oauth2/v1/tokens/bearer")
async def token(
    sandbox: SandboxDep,
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Code exchange and refresh; a refresh token works once, then its successor does."""
    app = _client(sandbox, authorization)
    if app is None:
        return JSONResponse({"error": "invalid_client"}, status_code=401)
    try:
        text = (await request.body()).decode()
    except UnicodeDecodeError:
        return JSONResponse({"error": "invalid_request"}, status_code=400)
    form = {k: v[-1] for k, v in parse_qs(text).items()}
    state, now = sandbox.state, sandbox.state.now()
    grant_type = form.get("grant_type")
    if grant_type == "authorization_code":
        grant = state.codes.pop(form.get("code", ""), None)
        valid = grant is not None and grant.redirect_uri == form.get("redirect_uri")
    elif grant_type == "refresh_token":
        grant = state.refresh_tokens.pop(form.get("refresh_token", ""), None)
        valid = grant is not None
    else:
        return JSONResponse({"error": "unsupported_grant_type"}, status_code=400)
    if not valid or grant is None or grant.client_id != app.client_id or grant.expires_at <= now:
        return JSONResponse({"error": "invalid_grant"}, status_code=400)
    access, refresh = state.issue_tokens(grant.realm_id, app.client_id)
    return JSONResponse(
        {
            "token_type": "bearer",
            "access_token": access,
            "expires_in": int(ACCESS_TOKEN_TTL.total_seconds()),
            "refresh_token": refresh,
            "x_refresh_token_expires_in": REFRESH_TOKEN_TTL_S,
        },
        headers={"Cache-Control": "no-store"},
    )


@oauth.post("/v2/oauth2/tokens/revoke")
async def revoke(
    sandbox: SandboxDep,
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    """Revoking a refresh token ends the grant (its access tokens too); an access token, itself.
    The body is JSON ``{"token": ...}``; an unknown token is no error (RFC 7009)."""
    app = _client(sandbox, authorization)
    if app is None:
        return JSONResponse({"error": "invalid_client"}, status_code=401)
    try:
        given = json.loads(await request.body()).get("token")
    except (ValueError, AttributeError):
        return JSONResponse({"error": "invalid_request"}, status_code=400)
    state = sandbox.state
    grant = state.refresh_tokens.get(given) if isinstance(given, str) else None
    if grant is not None and grant.client_id == app.client_id:
        del state.refresh_tokens[given]
        for token, other in list(state.access_tokens.items()):
            if (other.client_id, other.realm_id) == (grant.client_id, grant.realm_id):
                del state.access_tokens[token]
    access = state.access_tokens.get(given) if isinstance(given, str) else None
    if access is not None and access.client_id == app.client_id:
        del state.access_tokens[given]
    return Response(status_code=200)
