"""Consent to Xero Projects, Zoho Projects, Wrike and Hubstaff, each against its sandbox: the
credential owner builds the consent URL from the provider's kit description (its documented
consent page, scopes and parameters), the sandbox's consent page issues a code for the owner's
redirect URI, the owner exchanges it through the provider's real token endpoint adapter (client
authentication as the provider documents it) and keeps the tokens; the access token it hands out
works at the sandbox's API; the code is spent; a refresh gives a new access token (the used
refresh token refused where the provider rotates them)."""

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pydantic import SecretStr
from timebridge_providers.installed import registry as installed_registry

from timebridge_common.refusals import InvalidError
from timebridge_credentials.adapters.token_endpoints import RegistryTokenEndpoints
from timebridge_credentials.config import OAuthAppConfig
from timebridge_credentials.handlers.owner import Consent, CredentialOwner
from timebridge_credentials.testing import InMemoryCredentialStore
from timebridge_sandboxes.hubstaff import create_hubstaff_sandbox, demo_hubstaff
from timebridge_sandboxes.wrike import create_wrike_sandbox, demo_wrike
from timebridge_sandboxes.xero_projects import create_xero_projects_sandbox, demo_xero_projects
from timebridge_sandboxes.zoho import create_zoho_sandbox, demo_zoho

BACK = "https://tb.example/v1/oauth/{}/callback"
SANDBOX = "http://sandbox.test"


@dataclass(frozen=True)
class Case:
    provider: str
    app: Callable[[], tuple[Any, Any]]
    """The sandbox's app and state (``state.consents`` is its registered OAuth app)."""
    authorize: str
    """The provider's documented consent page (the kit's description)."""
    token_path: str
    expected: dict[str, str]
    """Consent parameters the provider documents, as the URL must carry them."""
    me: Callable[[Any, str], tuple[str, dict[str, str]]]
    """A call at the sandbox's API proving the access token works: (path, headers)."""
    rotates: bool = True


def _xero(state: Any, token: str) -> tuple[str, dict[str, str]]:
    return "/projects.xro/2.0/projectsusers", {
        "authorization": f"Bearer {token}", "xero-tenant-id": state.tenant_id,
    }  # fmt: skip


def _bearer(path: str) -> Callable[[Any, str], tuple[str, dict[str, str]]]:
    return lambda _, token: (path, {"authorization": f"Bearer {token}"})


def _xero_app() -> tuple[Any, Any]:
    state, _ = demo_xero_projects("secret-a", "secret-m")
    return create_xero_projects_sandbox(state), state


def _zoho_app() -> tuple[Any, Any]:
    state = demo_zoho("zoho-ann", "zoho-max")
    return create_zoho_sandbox(state), state


def _wrike_app() -> tuple[Any, Any]:
    state = demo_wrike("wrike-ann", "wrike-max")
    return create_wrike_sandbox(state), state


def _hubstaff_app() -> tuple[Any, Any]:
    state = demo_hubstaff("hs-ann", "hs-max")
    return create_hubstaff_sandbox(state), state


CASES = [
    Case(
        "xero_projects", _xero_app, "https://login.xero.com/identity/connect/authorize",
        "/connect/token", {"scope": "openid profile email projects offline_access"}, _xero,
    ),
    Case(
        "zoho", _zoho_app, "https://accounts.zoho.com/oauth/v2/auth", "/oauth/v2/token",
        {"access_type": "offline", "prompt": "consent", "scope": (
            "ZohoProjects.portals.READ,ZohoProjects.projects.READ,ZohoProjects.tasks.READ,"
            "ZohoProjects.timesheets.ALL,ZohoProjects.users.READ"
        )},
        lambda _, token: ("/restapi/portals/", {"authorization": f"Zoho-oauthtoken {token}"}),
        rotates=False,
    ),
    Case(
        "wrike", _wrike_app, "https://login.wrike.com/oauth2/authorize/v4", "/oauth2/token",
        {"scope": "wsReadWrite"}, _bearer("/api/v4/contacts?me=true"),
    ),
    Case(
        "hubstaff", _hubstaff_app, "https://account.hubstaff.com/authorizations/new",
        "/access_tokens", {"scope": "openid hubstaff:read hubstaff:write"},
        _bearer("/v2/users/me"),
    ),
]  # fmt: skip


def _owner(case: Case, state: Any, http: httpx.AsyncClient) -> CredentialOwner:
    app = OAuthAppConfig(
        client_id=state.consents.client_id,
        client_secret=SecretStr(state.consents.client_secret),
        token_url=SANDBOX + case.token_path,
        redirect_uri=BACK.format(case.provider),
    )
    endpoints = RegistryTokenEndpoints(installed_registry(), {case.provider: app}, http)
    return CredentialOwner(InMemoryCredentialStore(), endpoints, installed_registry())


async def _consent(http: httpx.AsyncClient, url: str, state_param: str) -> str:
    """A person at the sandbox's consent page (at the path of the provider's own) allows."""
    return (await _back(http, url, state_param))["code"]


async def _back(http: httpx.AsyncClient, url: str, state_param: str) -> dict[str, str]:
    """The parameters the consent sends the browser back with."""
    where = urlsplit(url)
    page = await http.get(f"{where.path}?{where.query}")
    assert page.status_code == 200, page.text
    assert "Ann" in page.text
    form = dict(re.findall(r'name="([a-z_]+)" value="([^"]*)"', page.text))
    back = await http.post(where.path, data={**form, "decision": "allow"})
    assert back.status_code == 302
    location = back.headers["location"]
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert query["state"] == state_param
    return query


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.provider)
async def test_consent_exchange_and_refresh_against_the_providers_sandbox(case: Case) -> None:
    sandbox, state = case.app()
    transport = httpx.ASGITransport(app=sandbox)
    async with httpx.AsyncClient(transport=transport, base_url=SANDBOX) as http:
        owner = _owner(case, state, http)
        url, redirect = owner.authorization(case.provider, "state-" + "x" * 20)
        assert url.startswith(case.authorize + "?")
        asked = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
        assert asked["client_id"] == state.consents.client_id
        assert (asked["response_type"], asked["redirect_uri"]) == ("code", redirect)
        assert {k: asked.get(k) for k in case.expected} == case.expected
        assert ("nonce" in asked) == (case.provider == "hubstaff")  # OpenID: Hubstaff's

        back = await _back(http, url, "state-" + "x" * 20)
        returned = {k: v for k, v in back.items() if k not in ("code", "state")}
        consent = Consent(
            "acme", "c1", case.provider, back["code"], redirect, SANDBOX, {}, returned
        )
        status = await owner.exchange(consent)
        assert (status.kind, status.state) == ("oauth2", "ok")
        granted = await owner.access("acme", "c1")
        if case.provider == "wrike":  # the token answer's host: the account's data center
            assert granted.base_url == f"{SANDBOX}/api/v4"
        if case.provider == "zoho":  # the data centre the consent named, kept for refreshes
            assert returned == {"location": "us", "accounts-server": SANDBOX}
            assert granted.extra["accounts_server"] == SANDBOX
        path, headers = case.me(state, granted.credential)
        assert (await http.get(path, headers=headers)).status_code == 200
        with pytest.raises(InvalidError, match="authorization code was refused"):
            await owner.exchange(consent)  # spent

        endpoint = owner._endpoints.endpoint(case.provider, granted.extra)
        stored = owner._store.rows[("acme", "c1")].secret  # type: ignore[attr-defined]
        renewed = await endpoint.refresh(stored.refresh_token)
        assert renewed.access_token != granted.credential
        path, headers = case.me(state, renewed.access_token)
        assert (await http.get(path, headers=headers)).status_code == 200
        if case.rotates:
            assert renewed.refresh_token != stored.refresh_token
            with pytest.raises(Exception, match=r"refused|connect again"):
                await endpoint.refresh(stored.refresh_token)
        else:  # Zoho: the refresh token stays the one held
            assert renewed.refresh_token == stored.refresh_token
            assert (await endpoint.refresh(stored.refresh_token)).access_token


async def test_a_wrong_app_secret_is_refused_as_the_provider_refuses_it() -> None:
    for case in CASES:
        sandbox, state = case.app()
        transport = httpx.ASGITransport(app=sandbox)
        async with httpx.AsyncClient(transport=transport, base_url=SANDBOX) as http:
            state.consents.client_secret = "not-the-secret"
            owner = _owner(case, state, http)
            state.consents.client_secret = "the-real-one"
            url, redirect = owner.authorization(case.provider, "s" * 20)
            code = await _consent(http, url, "s" * 20)
            consent = Consent("acme", "c1", case.provider, code, redirect, SANDBOX, {})
            with pytest.raises(Exception, match=r"refused|invalid_client|HTTP 40"):
                await owner.exchange(consent)
            assert await owner.health("acme") == [], case.provider


async def test_the_xero_organisation_is_the_one_the_consent_connected() -> None:
    """Xero's tenant selection after consent (``/connections``): none given, the one connected
    organisation is kept with the tokens; one given that the consent did not connect is refused
    in words and nothing is kept."""
    case = CASES[0]
    sandbox, state = case.app()
    transport = httpx.ASGITransport(app=sandbox)
    async with httpx.AsyncClient(transport=transport, base_url=SANDBOX) as http:
        owner = _owner(case, state, http)
        api = f"{SANDBOX}/projects.xro/2.0"
        url, redirect = owner.authorization(case.provider, "s" * 20)
        code = await _consent(http, url, "s" * 20)
        given = {"timezone": "Europe/London"}
        await owner.exchange(Consent("acme", "c1", case.provider, code, redirect, api, given))
        granted = await owner.access("acme", "c1")
        assert dict(granted.extra) == {**given, "tenant": state.tenant_id}
        assert granted.base_url == api

        url, redirect = owner.authorization(case.provider, "s" * 20)
        code = await _consent(http, url, "s" * 20)
        elsewhere = {**given, "tenant": "00000000-0000-0000-0000-000000000000"}
        consent = Consent("acme", "c2", case.provider, code, redirect, api, elsewhere)
        with pytest.raises(InvalidError, match="did not connect organisation 0000") as refused:
            await owner.exchange(consent)
        assert f"Demo Company (Global) ({state.tenant_id})" in str(refused.value)
        assert [s.connection_id for s in await owner.health("acme")] == ["c1"]
