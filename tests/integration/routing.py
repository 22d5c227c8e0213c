"""One HTTP transport for every sandbox: requests are routed to an in-process app by host.

Services open every provider through the kit's ``ProviderClients`` with a single transport; in
tests that transport is this router, so ``http://harvest.sandbox`` reaches the Harvest sandbox and
``http://core.sandbox`` Core's, with no provider-specific factory in any service's bootstrap.
"""

from collections.abc import Mapping
from typing import Any

import httpx


class HostRouter(httpx.AsyncBaseTransport):
    """Dispatches each request to the ASGI app registered for its host."""

    def __init__(self, apps: Mapping[str, Any]) -> None:
        self._transports = {host: httpx.ASGITransport(app=app) for host, app in apps.items()}

    def add(self, host: str, app: Any) -> None:
        self._transports[host] = httpx.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        transport = self._transports.get(request.url.host)
        if transport is None:
            raise httpx.ConnectError(f"no sandbox at {request.url.host}", request=request)
        return await transport.handle_async_request(request)

    async def aclose(self) -> None:
        for transport in self._transports.values():
            await transport.aclose()
