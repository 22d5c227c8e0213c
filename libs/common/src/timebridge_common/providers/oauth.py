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
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from timebridge_common.errors import InvalidMessageError

REFRESH_MARGIN = dt.timedelta(minutes=5)
"""Refresh an access token this long before it expires, so no request carries an expired one."""


@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_at: dt.datetime
    """When the access token expires (UTC)."""


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
