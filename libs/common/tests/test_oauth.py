"""Token refresh with rotating refresh tokens."""

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from timebridge_common.outbound.oauth import ReauthorizationNeededError, TokenManager, Tokens

NOW = dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC)


class Endpoint:
    def __init__(self) -> None:
        self.refreshed: list[str] = []
        self.valid_refresh = "r0"

    async def exchange_code(self, code: str, redirect_uri: str) -> Tokens:
        raise NotImplementedError

    async def refresh(self, refresh_token: str) -> Tokens:
        await asyncio.sleep(0)
        if refresh_token != self.valid_refresh:
            raise ReauthorizationNeededError("invalid_grant")
        self.refreshed.append(refresh_token)
        n = len(self.refreshed)
        self.valid_refresh = f"r{n}"
        return Tokens(f"a{n}", f"r{n}", NOW + dt.timedelta(hours=1))


class Slot:
    def __init__(self, store: "Store") -> None:
        self.store = store
        self.tokens = store.tokens

    async def save(self, new: Tokens) -> None:
        self.store.tokens = new


class Store:
    def __init__(self, tokens: Tokens) -> None:
        self.tokens = tokens
        self.lock = asyncio.Lock()

    async def load(self, connection_id: str) -> Tokens:
        return self.tokens

    @asynccontextmanager
    async def locked(self, connection_id: str) -> AsyncIterator[Slot]:
        async with self.lock:
            yield Slot(self)


async def test_a_fresh_token_is_used_as_is() -> None:
    endpoint = Endpoint()
    store = Store(Tokens("a0", "r0", NOW + dt.timedelta(minutes=30)))
    manager = TokenManager(endpoint, store, clock=lambda: NOW)
    assert await manager.access_token("c1")() == "a0"
    assert endpoint.refreshed == []


async def test_concurrent_callers_refresh_once_and_the_rotation_is_saved() -> None:
    endpoint = Endpoint()
    store = Store(Tokens("a0", "r0", NOW + dt.timedelta(minutes=4)))
    managers = [TokenManager(endpoint, store, clock=lambda: NOW) for _ in range(2)]
    tokens = await asyncio.gather(*(managers[i % 2].valid("c1") for i in range(6)))
    assert tokens == ["a1"] * 6
    assert endpoint.refreshed == ["r0"]
    assert store.tokens.refresh_token == "r1"


async def test_a_refused_refresh_token_needs_reauthorisation() -> None:
    endpoint = Endpoint()
    endpoint.valid_refresh = "other"
    store = Store(Tokens("a0", "r0", NOW - dt.timedelta(minutes=1)))
    with pytest.raises(ReauthorizationNeededError):
        await TokenManager(endpoint, store, clock=lambda: NOW).valid("c1")
