"""The production factories of provider clients: one request budget per credential.

Clients are cheap and short-lived (one per use case), but a provider counts requests per API key
or token, so every client of one credential in this process draws from the same budget
(:class:`~timebridge_common.providers.http.Budgets`). Tests pass their own factories instead,
pointed at the sandboxes.
"""

from timebridge_common.providers.core import RATE_LIMIT as CORE_LIMIT
from timebridge_common.providers.core import CoreClient
from timebridge_common.providers.everhour import RATE_LIMIT as EVERHOUR_LIMIT
from timebridge_common.providers.everhour import EverhourClient
from timebridge_common.providers.http import Budgets


class ProviderClients:
    def __init__(self, budgets: Budgets | None = None) -> None:
        self._budgets = budgets or Budgets()

    def everhour(self, base_url: str, api_key: str) -> EverhourClient:
        budget = self._budgets.get("everhour", base_url, api_key, EVERHOUR_LIMIT)
        return EverhourClient(base_url, api_key, budget=budget)

    def core(self, base_url: str, token: str) -> CoreClient:
        budget = self._budgets.get("core", base_url, token, CORE_LIMIT)
        return CoreClient(base_url, token, budget=budget)
