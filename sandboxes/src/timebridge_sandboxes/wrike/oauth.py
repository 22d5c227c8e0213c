"""Wrike's OAuth 2.0 for the Wrike sandbox, as developers.wrike.com/oauth-20-authorization shows
it: the consent page (``login.wrike.com/oauth2/authorize/v4``: ``client_id``,
``response_type=code``, optional ``redirect_uri``, ``state`` and ``scope``) and the token
endpoint (``POST login.wrike.com/oauth2/token``: ``client_id``, ``client_secret``,
``grant_type`` and ``code`` or ``refresh_token`` as form parameters), answering
``{"access_token", "token_type": "bearer", "host", "expires_in": 3600, "refresh_token"}``: the
``host`` is the account's data center, whose ``/api/v4`` the tokens are for (here this sandbox's
own host); refresh tokens rotate. Assumed (Wrike shows no error bodies): refusals in RFC 6749's
shape, ``400 invalid_grant`` and ``401 invalid_client``. Built on the shared sandbox consent
(:mod:`timebridge_sandboxes.consent`).
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from timebridge_sandboxes.consent import ConsentPage, Consents, Person, consent_router, read_form
from timebridge_sandboxes.wrike.state import WrikeState

ACCESS_LIFETIME_S = 3600
login = APIRouter()


def _state(request: Request) -> WrikeState:
    state: WrikeState = request.app.state.wrike
    return state


def _consents(request: Request) -> Consents:
    return _state(request).consents


def _person(request: Request) -> tuple[Person, str] | None:
    contact = next(iter(_state(request).contacts.values()), None)
    return None if contact is None else (contact.id, f"{contact.first} {contact.last}")


consent = consent_router(ConsentPage("Wrike", "/oauth2/authorize/v4", _consents, _person))


def _refused(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


@login.post("/oauth2/token", response_model=None)
async def token(request: Request) -> JSONResponse | dict[str, Any]:
    form = await read_form(request)
    if form is None:
        return _refused(400, "invalid_request", "the form is not UTF-8")
    consents = _consents(request)
    if not consents.client_ok(form.get("client_id"), form.get("client_secret")):
        return _refused(401, "invalid_client", "client_id and client_secret go in the form")
    kind = form.get("grant_type")
    person: Person | None
    if kind == "authorization_code":
        code = consents.spend(form.get("code", ""), form.get("redirect_uri"))
        person = code.person if code else None
    elif kind == "refresh_token":
        person = consents.rotate(form.get("refresh_token", ""))
    else:
        return _refused(400, "unsupported_grant_type", f"grant_type {kind!r}")
    if person is None:
        return _refused(400, "invalid_grant", "the code or refresh token is not valid")
    access, refresh = consents.mint(person)
    return {
        "access_token": access, "token_type": "bearer", "host": request.url.netloc,
        "expires_in": ACCESS_LIFETIME_S, "refresh_token": refresh,
    }  # fmt: skip
