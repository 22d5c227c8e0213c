"""The production factories of provider clients: one request budget per credential, one
long-lived HTTP connection pool per provider base URL.

Clients are cheap and short-lived (one per use case) because they share what is expensive: the
HTTP pool (a new ``httpx.AsyncClient`` builds a TLS context and opens new connections, which
cost ingest a third of its CPU when each webhook delivery built one) lives as long as the
factory and is closed by :meth:`ProviderClients.aclose` at shutdown.

A provider counts requests per API key or token, whoever sends them. So every client of one
credential draws from one budget, and the provider's limit is **split between the services**
that call it (:data:`SHARES`): each service gets a share (its ``TB_BUDGET__<PROVIDER>``), the
defaults sum to the provider's limit, and with
:class:`~timebridge_common.providers.shared_budget.SharedBudgets` a service's share is shared by
all its processes and replicas. So every caller together stays under the provider's limit.

Tests pass their own factories instead, pointed at the sandboxes.
"""

import asyncio
from typing import Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field

from timebridge_common.providers.core import RATE_LIMIT as CORE_LIMIT
from timebridge_common.providers.core import CoreClient
from timebridge_common.providers.everhour import RATE_LIMIT as EVERHOUR_LIMIT
from timebridge_common.providers.everhour import EverhourClient
from timebridge_common.providers.http import Budgets, RequestBudget

LIMITS: dict[str, tuple[int, float]] = {"everhour": EVERHOUR_LIMIT, "core": CORE_LIMIT}
"""Each provider's limit per credential: (requests, window in seconds)."""

SHARES: dict[str, dict[str, int]] = {
    # Everhour, 20 per 10 s per API key: the conflict-resolver writes and reads every record
    # back; ingest tests keys, re-reads webhook deliveries and polls; mapping reads users and
    # tasks and creates tasks now and then.
    "everhour": {"ingest": 6, "mapping": 4, "conflict-resolver": 10},
    # Core, 10 per second per token: the service token (polls, users, tickets, writes) and a
    # user's token (each service's admin check, GET /me, cached for a minute).
    "core": {"ingest": 2, "mapping": 3, "conflict-resolver": 3, "reporting": 2},
}
"""Requests per provider window each service may send with one credential; the defaults of
every provider sum to its limit (``test_provider_http.py`` checks it)."""


POOL_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)
"""Connections per provider base URL (httpx's defaults), shared by every key of a service."""


def _share(provider: str, service: str) -> int | None:
    return SHARES[provider].get(service)


class BudgetShares(BaseModel):
    """One service's shares (``TB_BUDGET__EVERHOUR``, ``TB_BUDGET__CORE``): requests per the
    provider's window; unset for a provider the service does not call."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    everhour: int | None = Field(default=None, ge=2, le=EVERHOUR_LIMIT[0])
    core: int | None = Field(default=None, ge=2, le=CORE_LIMIT[0])

    @classmethod
    def of(cls, service: str) -> "BudgetShares":
        """The default shares of ``service``."""
        return cls(everhour=_share("everhour", service), core=_share("core", service))

    def limit(self, provider: str) -> tuple[int, float]:
        requests: int | None = getattr(self, provider)
        if requests is None:
            raise RuntimeError(f"this service has no share of the {provider} budget")
        return requests, LIMITS[provider][1]


class BudgetSource(Protocol):
    """Where clients get their budget: in-process (``Budgets``) or shared (``SharedBudgets``)."""

    def get(
        self, provider: str, base_url: str, credential: str, limit: tuple[int, float]
    ) -> RequestBudget: ...


class ProviderClients:
    """Clients drawing from ``budgets`` with this service's ``shares`` of each provider's limit.

    Without ``shares`` a client may use the provider's whole limit (a tool or test alone with
    the credential); services pass theirs.
    """

    def __init__(
        self,
        budgets: BudgetSource | None = None,
        *,
        shares: BudgetShares | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        limits: httpx.Limits = POOL_LIMITS,
    ) -> None:
        self._budgets: BudgetSource = budgets or Budgets()
        self._shares = shares
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
            pool = self._pools[key] = httpx.AsyncClient(
                transport=self._transport, limits=self._limits
            )
            self.pools_opened += 1
        return pool

    async def aclose(self) -> None:
        """Close every pool (at shutdown); clients built later open new ones."""
        pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            await pool.aclose()

    def _limit(self, provider: str) -> tuple[int, float]:
        return LIMITS[provider] if self._shares is None else self._shares.limit(provider)

    def everhour(self, base_url: str, api_key: str) -> EverhourClient:
        budget = self._budgets.get("everhour", base_url, api_key, self._limit("everhour"))
        return EverhourClient(
            base_url, api_key, budget=budget, http=self._pool("everhour", base_url)
        )

    def core(self, base_url: str, token: str) -> CoreClient:
        budget = self._budgets.get("core", base_url, token, self._limit("core"))
        return CoreClient(base_url, token, budget=budget, http=self._pool("core", base_url))
