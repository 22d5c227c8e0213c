"""The production factories of provider clients: one request budget per credential, one
long-lived HTTP connection pool per provider base URL.

Clients are cheap and short-lived (one per use case) because they share what is expensive: the
HTTP pool (a new ``httpx.AsyncClient`` builds a TLS context and opens new connections, which
cost ingest a third of its CPU when each webhook delivery built one) lives as long as the
factory and is closed by :meth:`ProviderClients.aclose` at shutdown.

A provider counts requests per API key or token, whoever sends them. So every client of one
credential draws from one budget, and the provider's limit is **split between the services**
that call it (each profile's ``rate_limit.shares``): each service gets a share (its
``TB_BUDGET__<PROVIDER>``), the defaults sum to the provider's limit, and with
:class:`~timebridge_common.outbound.shared_budget.SharedBudgets` a service's share is shared by
all its processes and replicas. So every caller together stays under the provider's limit.
A service that may *borrow* (``ProviderClients(borrow=True)``: the conflict-resolver, whose
writes are most of a sync's requests) runs at the credential's whole limit while the others
leave their shares unused, and keeps to its own share for a cool-down after the provider's
``429`` (``RequestBudget.lend``): with a one-way integration ingest needs almost nothing of the
key, and the resolver's half of it was the bound at the documented limit (issue 12).

The pools run httpx on :mod:`timebridge_common.outbound.transport`'s asyncio backend (issue 12:
anyio's socket streams cost ~20% of the resolver's CPU with a lifted limit).

Tests pass their own factories instead, pointed at the sandboxes.
"""

import asyncio
from typing import Protocol

import httpx
from pydantic import RootModel

from timebridge_common.outbound.http import Budgets, RequestBudget
from timebridge_common.outbound.transport import lean
from timebridge_providers.installed import registry
from timebridge_providers.kit.registry import Registry
from timebridge_providers.kit.session import Access, Session


def limits(providers: Registry | None = None) -> dict[str, tuple[int, float]]:
    """Each provider's limit per credential: (requests, window in seconds)."""
    return {
        p.name: (p.profile.rate_limit.requests, p.profile.rate_limit.window_s)
        for p in (providers or registry())
    }


POOL_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
"""Connections per provider base URL (httpx's defaults), shared by every key of a service."""


class BudgetShares(RootModel[dict[str, int]]):
    """One service's shares by provider name (``TB_BUDGET__EVERHOUR=6``): requests per the
    provider's window. Defaults come from each profile; a provider the service has no share of
    may not be called by it."""

    model_config = {"frozen": True}

    @classmethod
    def of(cls, service: str, providers: Registry | None = None) -> "BudgetShares":
        """The default shares of ``service``, from every installed provider's profile."""
        return cls(
            {
                p.name: share
                for p in (providers or registry())
                if (share := p.profile.rate_limit.shares.get(service)) is not None
            }
        )

    def limit(self, provider: str) -> tuple[int, float]:
        requests = self.root.get(provider)
        if requests is None:
            raise RuntimeError(f"this service has no share of the {provider} budget")
        limit, window = limits()[provider]
        if not 2 <= requests <= limit:
            raise ValueError(f"a {provider} share must be 2..{limit} requests, not {requests}")
        return requests, window


class BudgetSource(Protocol):
    """Where clients get their budget: in-process (``Budgets``) or shared (``SharedBudgets``)."""

    def get(
        self, provider: str, base_url: str, credential: str, limit: tuple[int, float]
    ) -> RequestBudget: ...


class ProviderClients:
    """Sessions drawing from ``budgets`` with this service's ``shares`` of each provider's limit.

    Without ``shares`` a session may use the provider's whole limit (a tool or test alone with
    the credential); services pass theirs.
    """

    def __init__(
        self,
        budgets: BudgetSource | None = None,
        *,
        shares: BudgetShares | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        limits: httpx.Limits = POOL_LIMITS,
        borrow: bool = False,
    ) -> None:
        self._budgets: BudgetSource = budgets or Budgets()
        self._shares = shares
        self._borrow = borrow and shares is not None
        self._transport = transport
        self._limits = limits
        self._pools: dict[tuple[str, str], httpx.AsyncClient] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self.pools_opened = 0
        """How many HTTP pools were built (one per provider base URL and event loop)."""

    def _pool(self, provider: str, base_url: str) -> httpx.AsyncClient:
        """The long-lived pool for ``base_url``: built once, shared by every client and key.

        Connections belong to the event loop that opened them, so a new loop (a test's) gets
        new pools; the old loop's are dropped with it.
        """
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not self._loop:
            self._pools = {}
            self._loop = loop
        key = (provider, base_url.rstrip("/"))
        pool = self._pools.get(key)
        if pool is None or pool.is_closed:
            pool = self._pools[key] = lean(
                httpx.AsyncClient(transport=self._transport, limits=self._limits)
            )
            self.pools_opened += 1
        return pool

    async def aclose(self) -> None:
        """Close every pool (at shutdown); clients built later open new ones."""
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.aclose()

    def _limit(self, provider: str) -> tuple[int, float]:
        return limits()[provider] if self._shares is None else self._shares.limit(provider)

    def session(self, provider: str, access: Access) -> Session:
        """A session on ``provider``'s shared pool with the credential's budget."""
        limit = limits()[provider] if self._borrow else self._limit(provider)
        budget = self._budgets.get(provider, access.base_url, access.credential, limit)
        if self._borrow and budget.limit == limit[0]:  # not raised by the source (a sandbox)
            budget.lend(self._limit(provider)[0])
        return Session(provider, access, self._pool(provider, access.base_url), budget)
