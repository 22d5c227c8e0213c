"""Zoho Accounts' OAuth 2.0 for the Zoho Projects sandbox, as Zoho documents it for a
server-based app (zoho.com/accounts/protocol/oauth): the consent page
(``accounts.zoho.com/oauth/v2/auth``: ``response_type=code``, ``client_id``, ``scope`` required,
``redirect_uri``, ``state``, ``access_type=offline`` for a refresh token, ``prompt=consent``;
back with ``code``, ``state``, and the data centre: ``location`` and ``accounts-server``, here
this sandbox's own address)
and the token endpoint (``POST accounts.zoho.com/oauth/v2/token``: the app's ``client_id`` and
``client_secret`` as form or query parameters; ``authorization_code`` answers ``{"access_token",
"refresh_token" (offline only), "api_domain", "token_type": "Bearer", "expires_in": 3600}``;
``refresh_token`` answers a new access token and no refresh token: Zoho's do not rotate).
Refusals are Zoho's: HTTP ``200`` with ``{"error": "invalid_code"}`` (a spent or unknown code or
refresh token) or ``{"error": "invalid_client"}``. Built on the shared sandbox consent
(:mod:`timebridge_sandboxes.consent`).
"""

from typing import Any

from fastapi import APIRouter, Request

from timebridge_sandboxes.consent import ConsentPage, Consents, Person, consent_router, read_form
from timebridge_sandboxes.zoho.state import ZohoState

ACCESS_LIFETIME_S = 3600
API_DOMAIN = "https://www.zohoapis.com"
accounts = APIRouter()


def _state(request: Request) -> ZohoState:
    state: ZohoState = request.app.state.zoho
    return state


def _consents(request: Request) -> Consents:
    return _state(request).consents


def _person(request: Request) -> tuple[Person, str] | None:
    user = next(iter(_state(request).users.values()), None)
    return None if user is None else (user.id, user.name)


def _data_centre(request: Request) -> dict[str, str]:
    """Zoho's redirect names the data centre: ``location`` and ``accounts-server``."""
    return {"location": "us", "accounts-server": str(request.base_url).rstrip("/")}


consent = consent_router(
    ConsentPage(
        "Zoho",
        "/oauth/v2/auth",
        _consents,
        _person,
        requires=("scope",),
        carries=("access_type", "prompt"),
        returns=_data_centre,
    )
)


@accounts.post("/oauth/v2/token")
async def token(request: Request) -> dict[str, Any]:
    form = await read_form(request)
    if form is None:
        return {"error": "invalid_request"}
    consents = _consents(request)
    if not consents.client_ok(form.get("client_id"), form.get("client_secret")):
        return {"error": "invalid_client"}
    kind = form.get("grant_type")
    answer: dict[str, Any] = {"api_domain": API_DOMAIN, "token_type": "Bearer"}
    if kind == "authorization_code":
        code = consents.spend(form.get("code", ""), form.get("redirect_uri"))
        if code is None:
            return {"error": "invalid_code"}
        access, refresh = consents.mint(code.person, prefix="1000.")
        if code.params.get("access_type") == "offline":
            answer["refresh_token"] = refresh
        else:
            del consents.refresh[refresh]
    elif kind == "refresh_token":
        person = consents.refresh.get(form.get("refresh_token", ""))
        if person is None:
            return {"error": "invalid_code"}
        access, unused = consents.mint(person, prefix="1000.")
        del consents.refresh[unused]  # the held refresh token stays the one
    else:
        return {"error": "unsupported_grant_type"}
    return {"access_token": access, **answer, "expires_in": ACCESS_LIFETIME_S}
