"""The credential owner refreshing through the QuickBooks Online sandbox's token endpoint
(Intuit's: form body, HTTP Basic client auth, refresh tokens rotating at once), with the
QuickBooks package's own token endpoint class, as the provider's OAuth description will name it.

The handed-out access token works at the sandbox's API; the refresh token the provider honours
is the one stored; a grant the user revoked in QuickBooks shows as needing re-authorisation.
"""

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
from pydantic import SecretStr
from timebridge_providers.installed import registry
from timebridge_providers.kit.credentials import OAuthApp, OAuthDescription
from timebridge_providers.quickbooks.oauth import QuickBooksTokens
from timebridge_providers.quickbooks.wire import TOKEN_URL

from timebridge_common.outbound.oauth import TokenEndpoint
from timebridge_credentials.config import OAuthAppConfig
from timebridge_credentials.domain.credentials import seal_context
from timebridge_credentials.testing import OAuthProvider
from timebridge_sandboxes.quickbooks import QuickBooksState, create_quickbooks_sandbox
from timebridge_sandboxes.testing import serve

from .credentials_platform import platform

APP_ID, APP_SECRET = "tb-qbo-app", "tb-qbo-secret"


def intuit_tokens(
    name: str, app: OAuthApp, token_url: str, http: httpx.AsyncClient
) -> TokenEndpoint:
    return QuickBooksTokens(
        app.client_id, app.client_secret.get_secret_value(), token_url=token_url, http=http
    )


def quickbooks_with_oauth() -> OAuthProvider:
    """The installed QuickBooks provider plus the OAuth description it will carry."""
    installed = registry().get("quickbooks")
    return OAuthProvider(
        installed.profile,
        installed.check,
        accounting=installed.accounting,
        oauth=OAuthDescription(TOKEN_URL, intuit_tokens),
    )


async def test_refresh_through_the_quickbooks_sandbox(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    qbo = QuickBooksState()
    qbo.add_app(APP_ID, APP_SECRET, ["http://127.0.0.1/callback"])
    realm = qbo.add_company("Timebridge Test Co")
    async with (
        platform(create_database, make_pool) as p,
        serve(create_quickbooks_sandbox(qbo)) as sandbox,
    ):
        workspace = p.add_workspace()
        app = OAuthAppConfig(
            client_id=APP_ID,
            client_secret=SecretStr(APP_SECRET),
            token_url=f"{sandbox}/oauth2/v1/tokens/bearer",
        )
        service = await p.instance(providers=(quickbooks_with_oauth(),), apps={"quickbooks": app})
        access, refresh = qbo.issue_tokens(realm, APP_ID)  # what the consent gave
        put = await service.call(
            "PUT", f"/v1/workspaces/{workspace}/connections/qbo1",
            json={
                "provider": "quickbooks", "base_url": sandbox, "extra": {"realm_id": realm},
                "credential": {"kind": "oauth2", "access_token": access,
                               "refresh_token": refresh, "expires_in": 0},
            },
        )  # fmt: skip
        assert put.status_code == 200, put.text
        answers = await asyncio.gather(*(service.access(workspace, "qbo1") for _ in range(3)))
        assert {a.status_code for a in answers} == {200}, [a.text for a in answers]
        [granted] = {a.json()["credential"] for a in answers}  # one refresh for all three
        assert granted != access
        assert answers[0].json()["extra"] == {"realm_id": realm}
        assert refresh not in qbo.refresh_tokens  # spent: QuickBooks rotated it
        row = await p.raw_row(workspace, "qbo1")
        assert row is not None
        stored = p.box().decrypt(
            row["refresh_sealed"], context=seal_context(workspace, "qbo1", "refresh")
        )
        assert set(qbo.refresh_tokens) == {stored}
        async with httpx.AsyncClient(base_url=sandbox) as http:
            listed = await http.get(
                f"/v3/company/{realm}/query",
                params={"query": "select * from Customer"},
                headers={"authorization": f"Bearer {granted}", "accept": "application/json"},
            )
        assert listed.status_code == 200, listed.text
        # the user disconnects Timebridge in QuickBooks; our access token is refused
        qbo.refresh_tokens.clear()
        qbo.access_tokens.clear()
        reported = await service.call(
            "POST", f"/v1/workspaces/{workspace}/connections/qbo1/refused",
            json={"reason": "quickbooks answered 401 (AuthenticationFault 3200)"},
        )  # fmt: skip
        assert reported.status_code == 200, reported.text
        refused = await service.access(workspace, "qbo1")
        assert refused.status_code == 409, refused.text
        health = await service.call(
            "GET", f"/v1/workspaces/{workspace}/connections/health", token=p.admins[workspace]
        )
        [state] = health.json()
        assert state["state"] == "needs_reauthorisation"
        assert "invalid_grant" in state["last_error"]
