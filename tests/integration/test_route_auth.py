"""Every route of every service requires the right principal for the workspace (issue 13, item 1).

The walk covers every route the apps have, including routes added after this test was written:
a route is either on the short allow-list (health, API documents, webhooks authenticated by
signatures, the OAuth callback authenticated by its ``state``) or it must refuse no token, a
token Core does not know, a token that is not visible ASCII, a member of the workspace and an
admin of another workspace, with 401/403 and the error body, and let the workspace's admin
through. Mapping's source entries and the conflict-resolver's observations answered anyone.
"""

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from timebridge_common.http_errors import CORE_ADMIN_SCHEME, PLATFORM_ADMIN_SCHEME
from timebridge_ingest.handlers.hooks import hint_providers
from timebridge_reporting.entrypoints.portal_http import SCHEME as PORTAL_SESSION_SCHEME

from .api_platform import (
    SERVICES,
    Platform,
    api_routes,
    hidden_routes,
    is_open,
    shared_platform,
    with_new_tenants,
)

__all__ = ["shared_platform"]  # the fixture (leased: one platform with the fuzzing)


@pytest.fixture(scope="module")
async def platform(shared_platform: Platform) -> Platform:
    """The shared platform, on workspaces of this module's own."""
    return await with_new_tenants(shared_platform)


def _value(name: str, schema: dict[str, Any], workspace: str) -> str:
    if name == "workspace_id":
        return workspace
    if "enum" in schema:
        return str(schema["enum"][0])
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    return "x1"


def concrete(app: FastAPI, method: str, path: str, workspace: str) -> str:
    """``path`` with plausible values for its parameters (enums, uuids, the workspace)."""
    operation = app.openapi()["paths"][path][method.lower()]
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            value = _value(parameter["name"], parameter.get("schema", {}), workspace)
            path = path.replace("{" + parameter["name"] + "}", value)
    return path


def schemes(app: FastAPI, method: str, path: str) -> set[str]:
    operation = app.openapi()["paths"][path][method.lower()]
    return {name for requirement in operation.get("security", []) for name in requirement}


async def answer(app: FastAPI, method: str, path: str, token: str | None) -> httpx.Response:
    headers = [] if token is None else [(b"authorization", f"Bearer {token}".encode())]
    body: dict[str, Any] | None = {} if method in {"POST", "PUT", "PATCH"} else None
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as http:
        return await http.request(method, path, headers=headers, json=body)


def test_the_allow_list_is_small_and_everything_else_is_protected(platform: Platform) -> None:
    """The open routes are exactly health, documents, webhooks and the OAuth callback."""
    assert {s: hidden_routes(app.routes) for s, app in platform.apps.items()} == {
        s: [] for s in SERVICES
    }
    open_routes = sorted(
        f"{service} {method} {re.sub(r'{[^}]*}', '{}', path)}"
        for service, app in platform.apps.items()
        for method, path in api_routes(app)
        if is_open(path)
    )
    assert open_routes == sorted(
        [f"{s} GET /healthz" for s in SERVICES]
        + [f"{s} GET /readyz" for s in SERVICES]
        + [
            "ingest POST /v1/webhooks/core/{}",
            # one per provider whose webhooks are hints at a secret URL (Everhour, ...)
            *(f"ingest POST /v1/webhooks/{p}/{{}}" for p in hint_providers()),
            "ingest GET /v1/oauth/{}/callback",  # an OAuth tracker's consent, by its state
            "invoice-export GET /v1/oauth/{}/callback",
            "invoice-export POST /v1/webhooks/{}",  # per app (the accounting tool's name)
            "invoice-export POST /v1/webhooks/{}/{}",  # per connection
            "reporting POST /v1/portal/workspaces/{}/sign-in-links",
            "reporting POST /v1/portal/sessions",
        ]
    )


@pytest.mark.parametrize("service", SERVICES)
async def test_every_route_refuses_all_but_the_workspaces_admin(
    platform: Platform, service: str
) -> None:
    app = platform.apps[service]
    a, b = platform.a, platform.b
    checked, failures = 0, []
    for method, template in api_routes(app):
        if is_open(template):
            continue
        declared = schemes(app, method, template)
        path = concrete(app, method, template, a.workspace)
        allowed: str | None
        if PLATFORM_ADMIN_SCHEME in declared:
            refused = {None: 401, "nope": 401, a.member: 401, a.admin: 401, b.admin: 401}
            allowed = platform.platform_token
        elif PORTAL_SESSION_SCHEME in declared:  # a recipient's portal session, never Core's
            refused = {None: 401, "nope": 401, "tök€n": 401, a.admin: 401, b.admin: 401}
            allowed = None  # sessions come from emailed links: test_console_portal_api
        else:
            refused = {None: 401, "nope": 401, "tök€n": 401, a.member: 403, b.admin: 403}
            allowed = a.admin
        got = {token: (await answer(app, method, path, token)) for token in refused}
        for token, response in got.items():
            body = response.json()
            if response.status_code != refused[token] or not isinstance(body["detail"], str):
                failures.append(f"{method} {template} as {token}: {response.status_code} {body}")
        admitted = None if allowed is None else await answer(app, method, path, allowed)
        if admitted is not None and admitted.status_code in (401, 403):
            failures.append(f"{method} {template}: the admin was refused: {admitted.text}")
        documented = app.openapi()["paths"][template][method.lower()]["responses"]
        principals = {CORE_ADMIN_SCHEME, PLATFORM_ADMIN_SCHEME, PORTAL_SESSION_SCHEME}
        if not declared & principals or "401" not in documented:
            failures.append(f"{method} {template}: no security or 401 in the OpenAPI document")
        checked += 1
    assert failures == []
    assert checked >= {"ingest": 8, "mapping": 15, "invoice-export": 27}.get(service, 3)


async def test_a_token_of_other_bytes_is_a_401_not_a_500(platform: Platform) -> None:
    """A ``Bearer`` token of non-ASCII bytes (served as Latin-1) failed Core's outgoing header,
    and ingest's comparison with the platform token."""
    path = f"/v1/workspaces/{platform.a.workspace}/sync-log"
    transport = httpx.ASGITransport(app=platform.apps["reporting"])
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as http:
        answered = await http.get(path, headers=[(b"authorization", b"Bearer \xff\xfe\x01abc")])
        assert answered.status_code == 401
        assert answered.json() == {"detail": "the bearer token must be visible ASCII"}
    ingest = httpx.ASGITransport(app=platform.apps["ingest"])
    async with httpx.AsyncClient(transport=ingest, base_url="http://svc") as http:
        for raw in (b"Bearer t\xe9st", b"Bearer " + platform.platform_token.encode() + b"\xe2"):
            answered = await http.put(
                "/v1/admin/workspaces/ws", headers=[(b"authorization", raw)], json={}
            )
            assert answered.status_code == 401, answered.text
