"""OAuth2 (``/oauth/authorize``, ``/auth/oauth/token``) and the identity (``users/me``)."""

import secrets
from typing import Annotated, Literal
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import RedirectResponse, Response

from timebridge_sandboxes.faults import ApiError
from timebridge_sandboxes.freshbooks.deps import Sandbox, _caller
from timebridge_sandboxes.freshbooks.state import CODE_TTL, Json, _oauth_error, _Refusal

auth = APIRouter()


@auth.get("/oauth/authorize")
async def authorize(
    sandbox: Sandbox,
    client_id: str,
    redirect_uri: str,
    _response_type: Annotated[Literal["code"], Query(alias="response_type")],
    state: str | None = None,
) -> Response:
    """The consent page, answered at once as the signed-in user would by clicking "Allow"."""
    if client_id != sandbox.state.client_id or sandbox.state.signed_in is None:
        raise ApiError(400, "Unknown client or nobody signed in")
    code = secrets.token_hex(32)
    expiry = sandbox.state.now() + CODE_TTL
    sandbox.state.codes[code] = (sandbox.state.signed_in, redirect_uri, expiry)
    query = {"code": code} if state is None else {"code": code, "state": state}
    return RedirectResponse(f"{redirect_uri}?{urlencode(query)}", status_code=302)


@auth.post("/auth/oauth/token")
async def token(sandbox: Sandbox, request: Request) -> Json:
    state = sandbox.state
    try:
        if request.headers.get("content-type", "").startswith("application/json"):
            fields = await request.json()
        else:
            fields = dict(parse_qsl((await request.body()).decode(), keep_blank_values=True))
    except ValueError:
        raise _oauth_error(400, "invalid_request", "The body is neither JSON nor a form.") from None
    if not isinstance(fields, dict) or (fields.get("client_id"), fields.get("client_secret")) != (
        state.client_id,
        state.client_secret,
    ):
        raise _oauth_error(401, "invalid_client", "Client authentication failed.")
    grant_type = fields.get("grant_type")
    if grant_type == "authorization_code":
        granted = state.codes.pop(str(fields.get("code")), None)
        if granted is None or granted[2] <= state.now() or granted[1] != fields.get("redirect_uri"):
            raise _oauth_error(400, "invalid_grant", "The authorization code is invalid.")
        return state.issue_tokens(granted[0])
    if grant_type == "refresh_token":
        refreshed = state.refresh_tokens.pop(str(fields.get("refresh_token")), None)
        if refreshed is None:
            raise _oauth_error(400, "invalid_grant", "The refresh token is invalid.")
        state.access_tokens.pop(refreshed[1], None)
        return state.issue_tokens(refreshed[0])
    raise _oauth_error(400, "unsupported_grant_type", "Use authorization_code or refresh_token.")


@auth.get("/auth/api/v1/users/me")
async def me(sandbox: Sandbox, authorization: Annotated[str | None, Header()] = None) -> Json:
    """The identity; without a valid token the answer of FreshBooks' auth service (its SDKs'
    fixture ``auth_me_response__no_auth``) rather than the accounting error shape."""
    try:
        caller = _caller(sandbox, authorization)
    except ApiError as exc:
        if exc.status != 401:
            raise
        raise _Refusal(
            401,
            {
                "error": "unauthenticated",
                "error_description": "This action requires authentication to continue.",
            },
        ) from None
    return {"response": sandbox.identity_json(caller)}
