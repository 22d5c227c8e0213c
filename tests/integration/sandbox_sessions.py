"""Provider sessions on in-process sandboxes, for a service's ``clients=``.

Each provider's requests go through the HTTP client given for it (an ASGI transport into its
sandbox, possibly one that loses answers); budgets are generous so a test is never throttled by
the provider's real limit, only by what its sandbox is told to enforce.
"""

from collections.abc import Mapping

import httpx
from timebridge_providers.kit.session import Access, Session

from timebridge_common.outbound.http import RequestBudget


class SandboxSessions:
    """Sessions whose pool is the sandbox client registered for their provider."""

    def __init__(self, pools: Mapping[str, httpx.AsyncClient]) -> None:
        self._pools = dict(pools)
        self._budgets: dict[tuple[str, str], RequestBudget] = {}

    def session(self, provider: str, access: Access) -> Session:
        budget = self._budgets.setdefault((provider, access.credential), RequestBudget(10**6, 1))
        return Session(provider, access, self._pools[provider], budget)

    @classmethod
    def of_apps(cls, apps: Mapping[str, object]) -> "SandboxSessions":
        """One ASGI client per provider's sandbox app."""
        return cls(
            {
                name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app))  # type: ignore[arg-type]
                for name, app in apps.items()
            }
        )
