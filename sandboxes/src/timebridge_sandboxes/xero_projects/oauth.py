"""Xero's identity server for the Xero Projects sandbox, as Xero documents its OAuth 2.0
(developer.xero.com/documentation/guides/oauth2/auth-flow): the consent page
(``login.xero.com/identity/connect/authorize``: ``response_type=code``, ``client_id``,
``redirect_uri``, ``scope`` required, ``state``), the token endpoint
(``identity.xero.com/connect/token``: the app as HTTP Basic, or ``client_id``/``client_secret``
in the form as Xero's SDKs send them; ``authorization_code`` and rotating ``refresh_token``
grants; ``{"access_token", "expires_in": 1800, "token_type": "Bearer", "refresh_token",
"scope"}``, a refresh token only with ``offline_access``; refusals ``{"error": ...}``:
``400 invalid_grant``, ``401 invalid_client``) and ``GET api.xero.com/connections`` (the
organisations the consent connected: ``tenantId``, ``tenantName``, ...), all served here, on the
shared sandbox consent (:mod:`timebridge_sandboxes.consent`).
"""

import datetime as dt
import secrets
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from timebridge_sandboxes.consent import (
    ConsentPage,
    Consents,
    Person,
    basic_client,
    consent_router,
    read_form,
)
from timebridge_sandboxes.faults import ApiError
from timebridge_sandboxes.xero_projects.state import XeroProjectsState, access_token

ACCESS_LIFETIME_S = 1800
identity = APIRouter()


def _state(request: Request) -> XeroProjectsState:
    state: XeroProjectsState = request.app.state.xero_projects
    return state


def _consents(request: Request) -> Consents:
    return _state(request).consents


def _person(request: Request) -> tuple[Person, str] | None:
    user = next(iter(_state(request).users.values()), None)
    return None if user is None else (user.user_id, user.name)


consent = consent_router(
    ConsentPage("Xero", "/identity/connect/authorize", _consents, _person, requires=("scope",))
)


def _refused(error: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=status)


def _client(request: Request, form: dict[str, str]) -> tuple[str, str] | None:
    """Basic (Xero's documented way) or the form (its SDKs'); both given must agree."""
    given = {basic_client(request)} - {None}
    if "client_id" in form or "client_secret" in form:
        given.add((form.get("client_id", ""), form.get("client_secret", "")))
    return next(iter(given)) if len(given) == 1 else None


@identity.post("/connect/token", response_model=None)
async def token(request: Request) -> JSONResponse | dict[str, Any]:
    form = await read_form(request)
    if form is None:
        return _refused("invalid_request")
    consents, state = _consents(request), _state(request)
    client = _client(request, form)
    if client is None or not consents.client_ok(*client):
        return _refused("invalid_client", 401)
    kind = form.get("grant_type")
    if kind == "authorization_code":
        code = consents.spend(form.get("code", ""), form.get("redirect_uri"))
        person, scope = (code.person, code.scope) if code else (None, "")
    elif kind == "refresh_token":
        person = consents.rotate(form.get("refresh_token", ""))
        scope = state.scopes.get(str(person), "")
    else:
        return _refused("unsupported_grant_type")
    if person is None:
        return _refused("invalid_grant")
    access = access_token(str(person), secrets.token_hex(8))
    state.tokens[access] = str(person)
    state.scopes[str(person)] = scope
    answer: dict[str, Any] = {
        "access_token": access, "expires_in": ACCESS_LIFETIME_S,
        "token_type": "Bearer", "scope": scope,
    }  # fmt: skip
    if "offline_access" in scope.split():
        _, refresh = consents.mint(person)
        answer["refresh_token"] = refresh
    return answer


@identity.get("/connections")
async def connections(request: Request) -> list[dict[str, Any]]:
    """The organisation this sandbox plays, connected to the token's consent."""
    state = _state(request)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or given not in state.tokens:
        raise ApiError(401, "AuthenticationUnsuccessful", {"WWW-Authenticate": "Bearer"})
    stamp = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat()
    connection = {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, state.tenant_id)),
        "authEventId": str(uuid.uuid5(uuid.NAMESPACE_URL, given)),
        "tenantId": state.tenant_id, "tenantType": "ORGANISATION",
        "tenantName": state.tenant_name, "createdDateUtc": stamp, "updatedDateUtc": stamp,
    }  # fmt: skip
    return [connection]
