"""Hubstaff's account server (``account.hubstaff.com``) for an app's OAuth 2.0 / OpenID Connect
consent, as developer.hubstaff.com/authentication describes it: the authorization endpoint its
discovery document names (``/authorizations/new``: ``client_id``, ``response_type=code``,
``redirect_uri``, ``scope`` with ``openid`` and the ``hubstaff:`` scopes, a ``nonce`` and
``state``, all required), then ``POST /access_tokens`` with ``grant_type=authorization_code``,
``code`` and ``redirect_uri``, the app authenticated as HTTP Basic (client id and secret),
answering ``{"access_token", "refresh_token", "token_type": "bearer", "expires_in", "scope"}``
(refreshed like a personal access token, rotating: :mod:`.routes`). Not played: the ID token.
Assumed: refusals in RFC 6749's shape (``400 invalid_grant``, ``401 invalid_client``). Built on
the shared sandbox consent (:mod:`timebridge_sandboxes.consent`).
"""

import secrets

from fastapi import Request
from fastapi.responses import JSONResponse

from timebridge_sandboxes.consent import ConsentPage, Consents, Person, basic_client, consent_router
from timebridge_sandboxes.hubstaff.state import HubstaffState

ACCESS_LIFETIME_S = 86400


def _state(request: Request) -> HubstaffState:
    state: HubstaffState = request.app.state.hubstaff
    return state


def _consents(request: Request) -> Consents:
    return _state(request).consents


def _person(request: Request) -> tuple[Person, str] | None:
    user = next(iter(_state(request).users.values()), None)
    return None if user is None else (user.id, user.name)


consent = consent_router(
    ConsentPage("Hubstaff", "/authorizations/new", _consents, _person, requires=("scope", "nonce"))
)


def exchange_code(request: Request, form: dict[str, str]) -> JSONResponse:
    """``grant_type=authorization_code`` at ``/access_tokens``: the app as Basic, the code once
    for its redirect URI; the tokens are issued as a refresh issues them (they rotate)."""
    state, consents = _state(request), _consents(request)
    client = basic_client(request)
    if client is None or not consents.client_ok(*client):
        return JSONResponse({"error": "invalid_client"}, 401)
    code = consents.spend(form.get("code", ""), form.get("redirect_uri"))
    if code is None:
        return JSONResponse({"error": "invalid_grant"}, 400)
    seed = f"hs-consent-{secrets.token_hex(8)}"
    state.refresh_tokens[seed] = int(code.person)
    issued = state.rotate(seed)
    assert issued is not None
    access, refresh = issued
    answer = {
        "access_token": access, "refresh_token": refresh, "token_type": "bearer",
        "expires_in": ACCESS_LIFETIME_S, "scope": code.scope,
    }  # fmt: skip
    return JSONResponse(answer)
