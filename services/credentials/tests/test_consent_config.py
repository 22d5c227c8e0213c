"""No OAuth app configured for a provider is a configuration error in words, not "the owner is
unavailable": the owner answers a 4xx naming the settings to set, and the kit's client raises a
non-transient error carrying those words (so ingest and the console show them, no retry)."""

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from timebridge_providers.installed import registry as installed_registry
from timebridge_providers.kit.credentials import HttpCredentialSource

from timebridge_common.auth import WorkspaceAdmins
from timebridge_common.errors import InvalidMessageError, TransientError
from timebridge_common.http_errors import install_error_handling
from timebridge_credentials.adapters.token_endpoints import RegistryTokenEndpoints
from timebridge_credentials.entrypoints.http import Guards, oauth_apps_router
from timebridge_credentials.handlers.owner import CredentialOwner
from timebridge_credentials.testing import InMemoryCredentialStore

SERVICE = SecretStr("service-token-consent-config")


def owner_app(http: httpx.AsyncClient) -> FastAPI:
    endpoints = RegistryTokenEndpoints(installed_registry(), {}, http)
    owner = CredentialOwner(InMemoryCredentialStore(), endpoints, installed_registry())
    admins = WorkspaceAdmins(lambda *_: None, "http://core.test")  # type: ignore[arg-type]
    app = FastAPI()
    install_error_handling(app)
    app.include_router(oauth_apps_router(owner, Guards(SERVICE, admins)))
    return app


async def test_no_oauth_app_is_a_configuration_error_in_words_not_an_unavailable_owner() -> None:
    async with httpx.AsyncClient() as unused:
        app = owner_app(unused)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://owner") as http:
            answer = await http.post(
                "/v1/oauth/wrike/authorization",
                json={"state": "s" * 32, "redirect_uri": "http://tb.test/cb"},
                headers={"authorization": f"Bearer {SERVICE.get_secret_value()}"},
            )
            assert answer.status_code == 422, answer.text
            assert "no OAuth app is configured for Wrike" in answer.json()["detail"]
            assert "TB_OAUTH_APPS__WRIKE__CLIENT_ID" in answer.json()["detail"]

            source = HttpCredentialSource("http://owner", SERVICE, http=http)
            with pytest.raises(InvalidMessageError) as refused:
                await source.authorization("wrike", "s" * 32, "http://tb.test/cb")
            assert not isinstance(refused.value, TransientError)
            assert "no OAuth app is configured for Wrike (wrike)" in str(refused.value)
            assert "TB_OAUTH_APPS__WRIKE__CLIENT_SECRET" in str(refused.value)
