"""FreshBooks' OAuth 2.0: the consent screen and the token endpoint (JSON body with the
client credentials)."""

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import urlencode

import httpx
from pydantic import TypeAdapter

from timebridge_common.outbound.http import (
    DEFAULT_RETRY,
    ProviderError,
    ProviderHttp,
    RequestBudget,
    RetryPolicy,
)
from timebridge_common.outbound.oauth import ReauthorizationNeededError, TokenEndpoint, Tokens
from timebridge_providers.freshbooks.client import FreshBooksClient
from timebridge_providers.freshbooks.wire import (
    FRESHBOOKS_API_URL,
    FRESHBOOKS_AUTHORIZE_URL,
    RATE_LIMIT,
    TOKEN_PATH,
    _Model,
)
from timebridge_providers.kit.ports.accounting import ConsentContext, NotConfiguredError, Tenant


def authorize_url(
    client_id: str,
    redirect_uri: str,
    *,
    state: str | None = None,
    scopes: Sequence[str] = (),
    base_url: str = FRESHBOOKS_AUTHORIZE_URL,
) -> str:
    """Where an admin grants Timebridge access; FreshBooks then redirects to ``redirect_uri``
    with ``code`` (and ``state``, which must be checked against the one sent)."""
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri}
    if state is not None:
        params["state"] = state
    if scopes:
        params["scope"] = " ".join(scopes)
    return f"{base_url}?{urlencode(params)}"


class _TokenAnswer(_Model):
    access_token: str
    refresh_token: str
    expires_in: int
    created_at: int | None = None


_TOKENS = TypeAdapter(_TokenAnswer)


class FreshBooksTokens:
    """FreshBooks' token endpoint (:class:`~timebridge_common.outbound.oauth.TokenEndpoint`).

    ``redirect_uri`` is sent with refreshes too, as FreshBooks' own examples do.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        redirect_uri: str | None = None,
        base_url: str = FRESHBOOKS_API_URL,
        http: httpx.AsyncClient | None = None,
        budget: RequestBudget | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._client = {"client_id": client_id, "client_secret": client_secret}
        self._redirect_uri = redirect_uri
        self._clock = clock
        self._http = ProviderHttp(
            "freshbooks",
            base_url,
            headers={},
            client=http,
            budget=budget or RequestBudget(*RATE_LIMIT),
            retry=retry,
        )

    async def exchange_code(self, code: str, redirect_uri: str) -> Tokens:
        """The tokens for a code FreshBooks redirected with (valid 5 minutes, once)."""
        grant = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        return await self._grant(grant)

    async def refresh(self, refresh_token: str) -> Tokens:
        """New tokens; ``refresh_token`` is spent, the answer's must be saved before use."""
        grant = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if self._redirect_uri is not None:
            grant["redirect_uri"] = self._redirect_uri
        return await self._grant(grant)

    async def _grant(self, grant: dict[str, str]) -> Tokens:
        try:
            response = await self._http.request("POST", TOKEN_PATH, json={**grant, **self._client})
        except ProviderError as exc:
            if exc.status in {400, 401} and "invalid_grant" in exc.body:
                raise ReauthorizationNeededError(
                    f"FreshBooks refused the {grant['grant_type']}: connect FreshBooks again"
                ) from exc
            raise
        answer = self._http.parse(response, _TOKENS)
        issued = (
            self._clock()
            if answer.created_at is None
            else dt.datetime.fromtimestamp(answer.created_at, dt.UTC)
        )
        expires_at = issued + dt.timedelta(seconds=answer.expires_in)
        return Tokens(answer.access_token, answer.refresh_token, expires_at)


def api_base(token_url: str) -> str:
    """FreshBooks' token endpoint is a path of its API host: the host of ``token_url``."""
    if not token_url.endswith(TOKEN_PATH):
        raise NotConfiguredError(
            f"FreshBooks' token URL must end with {TOKEN_PATH} (got {token_url})"
        )
    return token_url.removesuffix(TOKEN_PATH)


class FreshBooksConsent:
    """FreshBooks' consent: the accounts are the identity's businesses with an accounting
    account (``GET /auth/api/v1/users/me``)."""

    def __init__(self, context: ConsentContext) -> None:
        app = context.app
        self._context = context
        self.endpoint: TokenEndpoint = FreshBooksTokens(
            app.client_id,
            app.client_secret,
            redirect_uri=context.redirect_uri,
            base_url=api_base(app.token_url),
            http=context.http,
            retry=context.retry,
            clock=context.clock,
        )

    def authorize_url(self, redirect_uri: str, state: str) -> str:
        app = self._context.app
        return authorize_url(app.client_id, redirect_uri, state=state, base_url=app.authorize_url)

    async def tenants(
        self,
        tokens: Tokens,
        callback: Mapping[str, str],  # noqa: ARG002 - the port's signature; the API tells
    ) -> list[Tenant]:
        async def token() -> str:
            return tokens.access_token

        context = self._context
        async with FreshBooksClient(
            context.app.api_url,
            None,
            token,
            http=context.http,
            retry=context.retry,
            timeout_s=context.timeout_s,
        ) as client:
            identity = await client.me()
        tenants: dict[str, Tenant] = {}
        for membership in identity.business_memberships:
            business = membership.business
            if business.account_id is not None:
                tenants.setdefault(business.account_id, Tenant(business.account_id, business.name))
        return list(tenants.values())
