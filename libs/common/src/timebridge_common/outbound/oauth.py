"""OAuth2 tokens of accounting connections: refresh before expiry, rotation saved atomically.

QuickBooks Online, Xero and FreshBooks all use the authorization-code flow with short-lived access
tokens and *rotating* refresh tokens: each refresh answers a new refresh token and the old one
stops working (FreshBooks at once; Xero and QuickBooks after a grace period, Xero's being 30
minutes). A rotated token that is not saved kills the connection for good, so the rules here are:

* one refresh per connection at a time, across processes: the refresh happens while the stored
  tokens are locked (a row lock in the owner's database), and whoever waited re-reads the winner's
  tokens instead of refreshing with a refresh token that no longer works;
* the new tokens are saved, under that lock, before the access token is used;
* a refresh refused with ``invalid_grant`` marks the connection as needing re-authorisation,
  never retried blindly.

Provider modules supply the token endpoint call (:class:`TokenEndpoint`); storage is the
caller's (:class:`TokenStore`, Postgres in the service that owns the connection).
"""

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from timebridge_common.errors import InvalidMessageError, TransientError
from timebridge_common.outbound.http import (
    BODY_LIMIT,
    AuthenticationError,
    ProviderError,
    parse_retry_after,
)

REFRESH_MARGIN = dt.timedelta(minutes=5)
"""Refresh an access token this long before it expires, so no request carries an expired one."""


@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_at: dt.datetime
    """When the access token expires (UTC)."""
    details: Mapping[str, str] = field(default_factory=dict, compare=False)
    """The token answer's further text fields (Wrike's ``host``: the account's data center);
    not kept, read once by whoever completes a consent."""


class ReauthorizationNeededError(InvalidMessageError):
    """The refresh token was refused: an admin must connect the tool again."""


class TokenEndpoint(Protocol):
    """A provider's token endpoint: exchange a code, or refresh (raising on ``invalid_grant``)."""

    async def exchange_code(self, code: str, redirect_uri: str) -> Tokens: ...

    async def refresh(self, refresh_token: str) -> Tokens: ...


class TokenSlot(Protocol):
    """The stored tokens of one connection, locked until the context exits."""

    tokens: Tokens

    async def save(self, new: Tokens) -> None: ...


class TokenStore(Protocol):
    async def load(self, connection_id: str) -> Tokens:
        """The stored tokens, without locking (the fast path)."""
        ...

    def locked(self, connection_id: str) -> AbstractAsyncContextManager[TokenSlot]:
        """The stored tokens, locked against every other process until the context exits."""
        ...


class TokenManager:
    """Hands out valid access tokens for the connections of one provider."""

    def __init__(
        self,
        endpoint: TokenEndpoint,
        store: TokenStore,
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._endpoint = endpoint
        self._store = store
        self._clock = clock
        self._locks: dict[str, asyncio.Lock] = {}

    def access_token(self, connection_id: str) -> Callable[[], Awaitable[str]]:
        """A callable for a provider client: each call returns a token valid for a while."""

        async def get() -> str:
            return await self.valid(connection_id)

        return get

    async def valid(self, connection_id: str) -> str:
        tokens = await self._store.load(connection_id)
        if self._fresh(tokens):
            return tokens.access_token
        async with (
            self._locks.setdefault(connection_id, asyncio.Lock()),
            self._store.locked(connection_id) as slot,
        ):
            if self._fresh(slot.tokens):
                return slot.tokens.access_token
            new = await self._endpoint.refresh(slot.tokens.refresh_token)
            await slot.save(new)
            return new.access_token

    def _fresh(self, tokens: Tokens) -> bool:
        return tokens.expires_at - REFRESH_MARGIN > self._clock()


class _TokenAnswer(BaseModel):
    model_config = ConfigDict(extra="allow")

    access_token: str
    refresh_token: str
    expires_in: int


class BasicAuthTokenEndpoint:
    """An RFC 6749 token endpoint taking form bodies and HTTP Basic client authentication.

    QuickBooks Online and Xero work this way (subclasses name the provider and its URL). One
    attempt per call: a failed or lost attempt is a :class:`TransientError` for the caller's own
    retry schedule, a refused grant (``invalid_grant``: used code, rotated or revoked refresh
    token) a :class:`ReauthorizationNeededError`, wrong app credentials an
    :class:`~timebridge_common.outbound.http.AuthenticationError`.
    """

    provider: ClassVar[str]
    default_token_url: ClassVar[str]

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        token_url: str | None = None,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        timeout_s: float = 30.0,
    ) -> None:
        self._auth = httpx.BasicAuth(client_id, client_secret)
        self._url = token_url or self.default_token_url
        self._client = http or httpx.AsyncClient()
        self._owns_client = http is None
        self._clock = clock
        self._timeout = timeout_s

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def exchange_code(self, code: str, redirect_uri: str) -> Tokens:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        return await self._grant(form)

    async def refresh(self, refresh_token: str) -> Tokens:
        """New tokens; the answer's refresh token replaces the stored one (it rotates)."""
        return await self._grant({"grant_type": "refresh_token", "refresh_token": refresh_token})

    async def _grant(self, form: dict[str, str]) -> Tokens:
        started = self._clock()
        try:
            response = await self._client.post(
                self._url,
                data=form,
                auth=self._auth,
                headers={"Accept": "application/json"},
                timeout=self._timeout,
            )
        except httpx.HTTPError as exc:
            reason = f"{self.provider} token endpoint failed ({type(exc).__name__})"
            raise TransientError(reason) from exc
        status = response.status_code
        if status == 429 or status >= 500:
            wait = parse_retry_after(response.headers.get("retry-after"), started)
            raise TransientError(
                f"{self.provider} token endpoint answered {status}", retry_after=wait
            )
        if status >= 400:
            error = _oauth_error(response)
            if error == "invalid_grant":
                raise ReauthorizationNeededError(
                    f"{self.provider} refused the {form['grant_type']} (invalid_grant):"
                    f" connect {self.provider} again"
                )
            refused = AuthenticationError if status == 401 or error == "invalid_client" else None
            raise (refused or ProviderError)(
                self.provider, "POST", response.request.url.path, status, response.text[:BODY_LIMIT]
            )
        try:
            answer = _TokenAnswer.model_validate_json(response.content)
        except ValidationError as exc:
            raise ProviderError(
                self.provider, "POST", response.request.url.path, status, "unexpected token answer"
            ) from exc
        details = {k: v for k, v in (answer.model_extra or {}).items() if isinstance(v, str)}
        return Tokens(
            answer.access_token,
            answer.refresh_token,
            started + dt.timedelta(seconds=answer.expires_in),
            details,
        )


def _oauth_error(response: httpx.Response) -> str | None:
    """The RFC 6749 ``error`` code of a refusal, if the body carries one."""
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) else None
