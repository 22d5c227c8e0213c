"""QuickBooks Time's OAuth 2.0 token endpoint, ``POST /api/v1/grant``.

As documented: a form with ``grant_type`` (``authorization_code`` with ``code`` and
``redirect_uri``, or ``refresh_token`` with ``refresh_token``) and the app's ``client_id`` and
``client_secret``; the answer ``{"access_token", "expires_in", "token_type": "bearer", "scope",
"refresh_token", "user_id", "company_id"}``; each refresh answers a new refresh token and the
used one stops working. Assumed: refusals in RFC 6749's shape (``400 invalid_grant``,
``401 invalid_client``). Codes come from the consent page (:mod:`.consent`, for
one ``redirect_uri``) or from ``POST /_sandbox/codes?user_id=`` (a person authorising the app).
"""

import secrets
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from timebridge_sandboxes.quickbooks_time.state import QuickBooksTimeState

grant = APIRouter()
ACCESS_LIFETIME_S = 10 * 24 * 3600


def _state(request: Request) -> QuickBooksTimeState:
    state: QuickBooksTimeState = request.app.state.qbt
    return state


def _refused(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


@grant.post("/api/v1/grant", response_model=None)
async def token(request: Request) -> JSONResponse | dict[str, Any]:
    state = _state(request)
    try:
        form = dict(parse_qsl((await request.body()).decode(), strict_parsing=False))
    except UnicodeDecodeError:
        return _refused(400, "invalid_request", "the form is not UTF-8")
    if (form.get("client_id"), form.get("client_secret")) != (state.client_id, state.client_secret):
        return _refused(401, "invalid_client", "client_id and client_secret go in the form")
    kind = form.get("grant_type")
    if kind == "authorization_code":
        code = form.get("code", "")
        user = state.codes.pop(code, None)
        if user is None and (given := state.consents.spend(code, form.get("redirect_uri"))):
            user = int(given.person)
    elif kind == "refresh_token":
        user = state.refresh_tokens.pop(form.get("refresh_token", ""), None)
    else:
        return _refused(400, "unsupported_grant_type", f"grant_type {kind!r}")
    if user is None:
        return _refused(400, "invalid_grant", "the code or refresh token is not valid")
    access, refresh = secrets.token_hex(16), secrets.token_hex(16)
    state.access_tokens[access] = user
    state.refresh_tokens[refresh] = user
    return {
        "access_token": access, "expires_in": ACCESS_LIFETIME_S, "token_type": "bearer",
        "scope": "", "refresh_token": refresh, "user_id": str(user), "company_id": "1",
    }  # fmt: skip


@grant.post("/_sandbox/codes")
async def issue_code(request: Request, user_id: int) -> dict[str, str]:
    """A person authorises the app: an authorization code for ``user_id``."""
    code = secrets.token_hex(8)
    _state(request).codes[code] = user_id
    return {"code": code}
