"""An OAuth consent's code exchanged by the owner (which holds the app's secret): the tokens
are stored, a refused code or a provider without OAuth is refused and nothing is stored."""

import datetime as dt
from collections.abc import Mapping

import httpx
import pytest
from pydantic import SecretStr
from timebridge_providers.installed import registry as installed_registry
from timebridge_providers.kit.credentials import OAuthApp, oauth_of
from timebridge_providers.kit.oauth import Consented

from timebridge_common.outbound.oauth import TokenEndpoint
from timebridge_common.refusals import InvalidError
from timebridge_credentials.adapters.token_endpoints import RegistryTokenEndpoints
from timebridge_credentials.config import OAuthAppConfig
from timebridge_credentials.handlers.owner import Consent, CredentialOwner
from timebridge_credentials.testing import FakeTokenEndpoints, InMemoryCredentialStore
from timebridge_sandboxes.quickbooks_time import create_quickbooks_time_sandbox
from timebridge_sandboxes.quickbooks_time.state import QuickBooksTimeState

NOW = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
QBT = "quickbooks_time"


class SandboxEndpoints:
    """The real QuickBooks Time token endpoint adapter, against its sandbox (in process)."""

    def __init__(self, http: httpx.AsyncClient, state: QuickBooksTimeState) -> None:
        description = oauth_of(installed_registry().get(QBT))
        assert description is not None
        app = OAuthApp(state.client_id, SecretStr(state.client_secret), "http://qbt/api/v1/grant")
        self._endpoint = description.open(QBT, app, http)

    def authorization(
        self, provider: str, state: str, redirect_uri: str | None = None
    ) -> tuple[str, str]:
        raise NotImplementedError(f"no consent page for {provider} ({state}) in this test")

    async def complete(self, provider: str, consented: Consented) -> tuple[str, dict[str, str]]:
        del provider
        return consented.base_url, dict(consented.extra)

    def endpoint(self, provider: str, given: Mapping[str, str] | None = None) -> TokenEndpoint:
        del given
        if provider != QBT:
            raise InvalidError(f"no OAuth app is configured for {provider}")
        return self._endpoint


def consent(code: str, provider: str = QBT) -> Consent:
    return Consent("acme", "c1", provider, code, "http://tb/cb", "", {"company": "1"})


async def test_a_code_is_exchanged_once_and_its_tokens_stored_at_the_owner() -> None:
    state = QuickBooksTimeState()
    state.add_user(7, "Ann", "Admin", "ann@example.com", "initial-token")
    state.codes["code-1"] = 7
    transport = httpx.ASGITransport(app=create_quickbooks_time_sandbox(state))
    async with httpx.AsyncClient(transport=transport) as http:
        store = InMemoryCredentialStore()
        owner = CredentialOwner(
            store, SandboxEndpoints(http, state), installed_registry(), clock=lambda: NOW
        )
        status = await owner.exchange(consent("code-1"))
        assert (status.kind, status.state, status.provider) == ("oauth2", "ok", QBT)
        granted = await owner.access("acme", "c1")
        assert state.access_tokens[granted.credential] == 7  # the sandbox's issued token
        assert dict(granted.extra) == {"company": "1"}
        with pytest.raises(InvalidError, match="authorization code was refused"):
            await owner.exchange(consent("code-1"))  # spent
        assert (await owner.access("acme", "c1")).credential == granted.credential


async def test_a_provider_without_oauth_or_without_an_app_is_refused_and_nothing_stored() -> None:
    store = InMemoryCredentialStore()
    owner = CredentialOwner(store, FakeTokenEndpoints({}), installed_registry(), clock=lambda: NOW)
    with pytest.raises(InvalidError, match="does not sign in with OAuth"):
        await owner.exchange(consent("x", provider="everhour"))
    with pytest.raises(InvalidError, match="no OAuth app"):
        await owner.exchange(consent("x"))
    assert await owner.health("acme") == []


def test_the_consent_url_carries_the_apps_client_id_redirect_and_state() -> None:
    app = OAuthAppConfig(
        client_id="cid",
        client_secret=SecretStr("secret"),
        redirect_uri="https://tb.example/v1/oauth/quickbooks_time/callback",
        authorize_url="http://qbt.sandbox/api/v1/authorize",
    )
    endpoints = RegistryTokenEndpoints(installed_registry(), {QBT: app}, httpx.AsyncClient())
    owner = CredentialOwner(InMemoryCredentialStore(), endpoints, installed_registry())
    url, redirect = owner.authorization(QBT, "state-123")
    assert redirect == app.redirect_uri
    assert url == (
        "http://qbt.sandbox/api/v1/authorize?response_type=code&client_id=cid&redirect_uri="
        "https%3A%2F%2Ftb.example%2Fv1%2Foauth%2Fquickbooks_time%2Fcallback&state=state-123"
    )
    default = app.model_copy(update={"authorize_url": None})
    endpoints = RegistryTokenEndpoints(installed_registry(), {QBT: default}, httpx.AsyncClient())
    url, _ = endpoints.authorization(QBT, "s")
    assert url.startswith("https://rest.tsheets.com/api/v1/authorize?")  # the kit's
    unregistered = app.model_copy(update={"redirect_uri": None})
    endpoints = RegistryTokenEndpoints(
        installed_registry(), {QBT: unregistered}, httpx.AsyncClient()
    )
    _, given = endpoints.authorization(QBT, "s", "http://ingest.test/v1/oauth/qbt/callback")
    assert given == "http://ingest.test/v1/oauth/qbt/callback"  # the caller's, unless configured
    _, configured = RegistryTokenEndpoints(
        installed_registry(), {QBT: app}, httpx.AsyncClient()
    ).authorization(QBT, "s", "http://elsewhere.test/cb")
    assert configured == app.redirect_uri
    with pytest.raises(InvalidError, match="no redirect URI is configured for QuickBooks Time"):
        endpoints.authorization(QBT, "s")
    with pytest.raises(InvalidError, match="does not sign in with OAuth"):
        owner.authorization("everhour", "s")
