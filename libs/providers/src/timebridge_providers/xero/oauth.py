"""Xero's OAuth 2.0: the consent screen, the token endpoint and the connected organisations."""

from collections.abc import Mapping, Sequence
from urllib.parse import quote, urlencode

import httpx
from pydantic import (
    TypeAdapter,
)

from timebridge_common.outbound.http import (
    DEFAULT_RETRY,
    ProviderHttp,
    RequestBudget,
    RetryPolicy,
)
from timebridge_common.outbound.oauth import BasicAuthTokenEndpoint, TokenEndpoint, Tokens
from timebridge_providers.kit.ports.accounting import ConsentContext, Tenant
from timebridge_providers.xero.wire import (
    AUTHORIZE_URL,
    RATE_LIMIT,
    SCOPES,
    TOKEN_URL,
    Connection,
    TenantSelectionError,
)


def authorize_url(
    client_id: str,
    redirect_uri: str,
    state: str,
    *,
    scopes: Sequence[str] = SCOPES,
    base: str = AUTHORIZE_URL,
) -> str:
    """Where to send the admin who connects Xero; ``state`` comes back on the redirect."""
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": " ".join(scopes),
        "state": state,
    }
    return f"{base}?{urlencode(query, quote_via=quote)}"


def select_tenant(connected: Sequence[Connection], tenant_id: str | None = None) -> Connection:
    """The organisation to use: the one asked for, or the only one connected."""
    organisations = [c for c in connected if c.tenant_type == "ORGANISATION"]
    if tenant_id is not None:
        for connection in organisations:
            if connection.tenant_id == tenant_id:
                return connection
        raise TenantSelectionError(f"organisation {tenant_id} is not connected")
    if len(organisations) == 1:
        return organisations[0]
    if not organisations:
        raise TenantSelectionError("no Xero organisation was connected")
    names = ", ".join(f"{c.tenant_name} ({c.tenant_id})" for c in organisations)
    raise TenantSelectionError(f"choose one of the connected organisations: {names}")


class XeroTokens(BasicAuthTokenEndpoint):
    """Xero's token endpoint, a :class:`~timebridge_common.outbound.oauth.TokenEndpoint` (form
    body, HTTP Basic auth). A refresh may be repeated after a lost answer: Xero accepts the
    previous refresh token for 30 minutes; an authorization code it does not."""

    provider = "xero"
    default_token_url = TOKEN_URL


_CONNECTIONS = TypeAdapter(list[Connection])


async def connections(
    base_url: str,
    access_token: str,
    *,
    http: httpx.AsyncClient | None = None,
    retry: RetryPolicy = DEFAULT_RETRY,
    timeout_s: float = 30.0,
) -> list[Connection]:
    """The tenants the access token may use (right after the code exchange, to choose one)."""
    api = ProviderHttp(
        "xero",
        base_url,
        headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        secret_headers=("Authorization",),
        client=http,
        budget=RequestBudget(*RATE_LIMIT),
        retry=retry,
        timeout_s=timeout_s,
    )
    try:
        return api.parse(await api.request("GET", "/connections"), _CONNECTIONS)
    finally:
        await api.aclose()


class XeroConsent:
    """Xero's consent: the organisations connected are listed by ``GET /connections``."""

    def __init__(self, context: ConsentContext) -> None:
        self._context = context
        self.endpoint: TokenEndpoint = XeroTokens(
            context.app.client_id,
            context.app.client_secret,
            token_url=context.app.token_url,
            http=context.http,
            clock=context.clock,
            timeout_s=context.timeout_s,
        )

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        app = self._context.app
        return authorize_url(app.client_id, redirect_uri, state, base=app.authorize_url)

    async def tenants(
        self,
        tokens: Tokens,
        callback: Mapping[str, str],  # noqa: ARG002 - the port's signature; the API tells
    ) -> list[Tenant]:
        """Every organisation the user has connected to the app (practices and other tenant
        types are left out: the Accounting API works on organisations)."""
        context = self._context
        connected = await connections(
            context.app.api_url,
            tokens.access_token,
            http=context.http,
            retry=context.retry,
            timeout_s=context.timeout_s,
        )
        return [
            Tenant(id=c.tenant_id, name=c.tenant_name or c.tenant_id)
            for c in connected
            if c.tenant_type == "ORGANISATION"
        ]
