"""Provider clients share one long-lived HTTP pool per provider base URL (issue 12).

Each delivery used to build its own ``httpx.AsyncClient``: a new TLS context and new connections
every time, about a third of ingest's CPU under an echo storm.
"""

from typing import Any

import httpx
import pytest
from timebridge_providers.kit.clients import ProviderClients
from timebridge_providers.kit.session import Access


async def test_clients_of_one_base_url_share_one_pool_until_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    built: list[int] = []
    original = httpx.AsyncClient.__init__

    def counting(self: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        built.append(1)
        original(self, *args, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", counting)
    clients = ProviderClients()
    for key in ("key-1", "key-1", "key-2") * 10:
        clients.session("everhour", Access("http://everhour.test", key))
    clients.session("core", Access("http://core.test", "token"))
    clients.session("core", Access("http://core.test/", "t2"))
    assert (len(built), clients.pools_opened) == (2, 2)
    await clients.aclose()
    clients.session("everhour", Access("http://everhour.test", "key-1"))
    assert len(built) == 3  # closed pools are not reused; a new one is opened
    await clients.aclose()


async def test_a_pool_is_not_carried_into_another_event_loop() -> None:
    clients = ProviderClients()
    first = clients.session("everhour", Access("http://everhour.test", "key")).http
    assert clients.pools_opened == 1
    clients._loop = object()  # type: ignore[assignment]
    assert clients.session("everhour", Access("http://everhour.test", "key")).http is not first
    assert clients.pools_opened == 2
    await clients.aclose()
    await first.aclose()
