"""The routes Intuit serves: OAuth 2.0 (``/connect/oauth2``, ``/oauth2/v1/tokens/bearer``) and the
Accounting API v3 under ``/v3/company/{realmId}`` (query, cdc, read, write)."""

import base64
import binascii
import datetime as dt
import hmac
import json
import secrets
from typing import Annotated
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, BackgroundTasks, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from timebridge_sandboxes.quickbooks.base import (
    ACCESS_TOKEN_TTL,
    CDC_LOOKBACK,
    CODE_TTL,
    COMPANY_ZONE,
    KINDS,
    PAGE_LIMIT,
    REFRESH_TOKEN_TTL_S,
    REQUEST_ID_LIMIT,
    SCOPE,
    STATUS_FAULTS,
    Company,
    Fault,
    Json,
    invalid,
    stamp,
)
from timebridge_sandboxes.quickbooks.elements import conform
from timebridge_sandboxes.quickbooks.query import run_query
from timebridge_sandboxes.quickbooks.sandbox import Sandbox
from timebridge_sandboxes.quickbooks.state import App, Grant


def _sandbox(request: Request) -> Sandbox:
    sandbox: Sandbox = request.app.state.sandbox
    return sandbox


SandboxDep = Annotated[Sandbox, Depends(_sandbox)]


def _caller(
    sandbox: SandboxDep,
    realm_id: str,
    authorization: Annotated[str | None, Header()] = None,
    accept: Annotated[str | None, Header()] = None,
    minorversion: str | None = None,
) -> Company:
    """The company of a valid bearer token, after the per-company rate limit. Any minor version
    from 1 is served (Intuit serves those below 75 as 75); a non-number is refused."""
    scheme, _, token = (authorization or "").partition(" ")
    grant = sandbox.state.access_tokens.get(token) if scheme.lower() == "bearer" else None
    if grant is None:
        raise Fault(401, *STATUS_FAULTS[401], "Token revoked or unknown")
    if grant.expires_at <= sandbox.state.now():
        raise Fault(401, *STATUS_FAULTS[401], "Token expired")
    if grant.realm_id != realm_id:
        raise Fault(403, *STATUS_FAULTS[403], "The token is not for this company")
    sandbox.limit.admit(realm_id)
    if "application/json" not in (accept or ""):
        raise Fault(406, "4001", "Not Acceptable", "this sandbox answers JSON only (Accept)")
    if minorversion is not None and not (minorversion.isdigit() and int(minorversion) > 0):
        raise invalid(f"minorversion {minorversion!r} is not a valid minor version", "minorversion")
    return sandbox.company(realm_id)


CompanyDep = Annotated[Company, Depends(_caller)]

oauth = APIRouter(tags=["oauth"])
api = APIRouter(prefix="/v3/company/{realm_id}")


def kind_of(resource: str) -> str:
    kind = KINDS.get(resource.lower())
    if kind is None:
        raise Fault(400, "2010", "Unsupported Operation", f"Resource {resource} not simulated")
    return kind


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


@api.get("/query")
async def query(sandbox: SandboxDep, company: CompanyDep, query: str) -> Json:
    return run_query(sandbox, company, query)


@api.post("/query")
async def query_posted(sandbox: SandboxDep, company: CompanyDep, request: Request) -> Json:
    """The statement as the body (``application/text``), as Intuit's SDKs send it."""
    try:
        statement = (await request.body()).decode()
    except UnicodeDecodeError:
        raise invalid("the query is not UTF-8 text") from None
    return run_query(sandbox, company, statement)


@api.get("/cdc")
async def change_data_capture(
    sandbox: SandboxDep,
    company: CompanyDep,
    entities: str,
    changed_since: Annotated[str, Query(alias="changedSince")],
) -> Json:
    now = sandbox.state.now()
    try:
        since = dt.datetime.fromisoformat(changed_since)
    except ValueError:
        raise invalid(f"changedSince {changed_since!r} is not an ISO date-time") from None
    since = since if since.tzinfo else since.replace(tzinfo=COMPANY_ZONE)
    if since < now - CDC_LOOKBACK:
        raise Fault(400, "4002", "Invalid changedSince", "changedSince is more than 30 days ago")
    kinds = [kind_of(name.strip()) for name in entities.split(",")]
    groups: list[Json] = []
    budget = PAGE_LIMIT
    for kind in kinds:
        changed = sorted(
            (r for r in company.all(kind) if r.updated >= since), key=lambda r: r.updated
        )[:budget]
        budget -= len(changed)
        found = [sandbox.render(r) for r in changed]
        groups.append({kind: found, "startPosition": 1, "maxResults": len(found)} if found else {})
    return {"CDCResponse": [{"QueryResponse": groups}], "time": stamp(now)}


@api.get("/{resource}/{record_id}")
async def read(sandbox: SandboxDep, company: CompanyDep, resource: str, record_id: str) -> Json:
    kind = kind_of(resource)
    return {kind: sandbox.render(company.live(kind, record_id)), "time": stamp(sandbox.state.now())}


@api.post("/{resource}")
async def write(
    sandbox: SandboxDep,
    *,
    company: CompanyDep,
    resource: str,
    request: Request,
    background: BackgroundTasks,
    requestid: str | None = None,
    operation: str | None = None,
    include: str | None = None,
) -> Json:
    """Create (no ``Id``), update (``Id`` and ``SyncToken``; sparse or full), ``operation=void``
    or ``operation=delete`` (``Id`` and ``SyncToken``), ``operation=update&include=void``."""
    kind = kind_of(resource)
    if requestid is not None:
        if not 0 < len(requestid) <= REQUEST_ID_LIMIT:
            raise invalid(f"requestid: 1 to {REQUEST_ID_LIMIT} characters", "requestid")
        if requestid in company.replies:
            return company.replies[requestid]
    try:
        body = json.loads(await request.body())
    except ValueError:
        raise invalid("the body is not JSON") from None
    record, changes = sandbox.write(company, kind, conform(kind, body), operation, include)
    sandbox.announce_all(background, company, changes)
    answer = {kind: sandbox.render(record), "time": stamp(sandbox.state.now())}
    if requestid is not None:
        company.replies[requestid] = answer
    return answer
