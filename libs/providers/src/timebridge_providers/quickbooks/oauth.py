"""QuickBooks Online's OAuth 2.0: the consent screen and Intuit's token endpoint."""

from collections.abc import Mapping
from urllib.parse import urlencode

from timebridge_common.outbound.http import ProviderError
from timebridge_common.outbound.oauth import BasicAuthTokenEndpoint, TokenEndpoint, Tokens
from timebridge_providers.kit.accounting import text
from timebridge_providers.kit.ports.accounting import ConsentContext, Tenant
from timebridge_providers.quickbooks.wire import AUTHORIZE_URL, SCOPE, TOKEN_URL


def authorize_url(
    client_id: str, redirect_uri: str, state: str, *, base_url: str = AUTHORIZE_URL
) -> str:
    """Where to send the admin who connects QuickBooks; Intuit comes back to ``redirect_uri``
    with ``code``, ``state`` (check it) and ``realmId`` (the company they chose)."""
    query = {
        "client_id": client_id,
        "response_type": "code",
        "scope": SCOPE,
        "redirect_uri": redirect_uri,
        "state": state,
    }
    return f"{base_url}?{urlencode(query)}"


class QuickBooksTokens(BasicAuthTokenEndpoint):
    """Intuit's token endpoint, the :class:`~timebridge_common.outbound.oauth.TokenEndpoint` of
    a :class:`~timebridge_common.outbound.oauth.TokenManager` (form body, HTTP Basic auth)."""

    provider = "quickbooks"
    default_token_url = TOKEN_URL


class QuickBooksConsent:
    """Intuit's consent: the company chosen comes back as ``realmId`` on the callback."""

    def __init__(self, context: ConsentContext) -> None:
        app = context.app
        self._app = app
        self.endpoint: TokenEndpoint = QuickBooksTokens(
            app.client_id,
            app.client_secret,
            token_url=app.token_url,
            http=context.http,
            clock=context.clock,
            timeout_s=context.timeout_s,
        )

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        return authorize_url(
            self._app.client_id, redirect_uri, state, base_url=self._app.authorize_url
        )

    async def tenants(
        self,
        tokens: Tokens,  # noqa: ARG002 - the port's signature; the callback names the company
        callback: Mapping[str, str],
    ) -> list[Tenant]:
        realm = text(callback.get("realmId"))
        if realm is None:
            raise ProviderError(
                "quickbooks", "GET", "callback", 400, "the consent came back without a realmId"
            )
        return [Tenant(id=realm, name=realm)]
