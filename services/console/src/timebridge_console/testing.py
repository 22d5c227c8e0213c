"""The console app for tests that need no browser: its pages over stand-in services.

Shared by the console's page tests (the services answered by an ``httpx.MockTransport``, as
their APIs answer) so each test module states only the answers it needs. Nothing here runs in
production (as ``timebridge_common.testing``).
"""

import re
from typing import Any

import httpx

from timebridge_console.bootstrap import bootstrap
from timebridge_console.config import Settings

SERVICES = ("ingest", "mapping", "conflict_resolver", "invoice_export", "reporting")
"""Each answers at ``http://<name with dashes>.test``: a mock tells them apart by host."""
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def console_client(transport: httpx.MockTransport | None = None) -> httpx.AsyncClient:
    """A client of the console app (``transport``: the services; none: pages that call none)."""
    settings = Settings(
        services={f"{name}_url": f"http://{name.replace('_', '-')}.test" for name in SERVICES},
        session_key="k" * 40,
    )
    app = bootstrap(settings, transport=transport).app
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console")


def csrf_of(page: httpx.Response) -> str:
    """The CSRF token of a page's forms."""
    found = _CSRF.search(page.text)
    assert found is not None, page.text
    return found.group(1)


async def signed_in(client: httpx.AsyncClient, workspace_id: str, page: str) -> str:
    """Sign in as the services would let a Core admin (they answer the access check); the
    CSRF token of ``page``'s forms."""
    form = await client.get("/signin")
    done = await client.post(
        "/signin", data={"csrf_token": csrf_of(form), "workspace_id": workspace_id, "token": "t"}
    )
    assert done.status_code == 303, done.text
    return csrf_of(await client.get(page))


def tracker_integration(workspace_id: str, integration_id: str, provider: str) -> dict[str, Any]:
    """Ingest's view of a connected two-way real-time tracker integration (its integrations
    API's answer); the caller names the provider, as the console never does."""
    return {
        "integration_id": integration_id,
        "workspace_id": workspace_id,
        "provider": provider,
        "status": "connected",
        "settings": {"direction": "two_way", "frequency": "realtime"},
        "account": {"email": "ann@acme.test"},
        "fields": {},
        "webhook_registered": False,
        "revision": 1,
    }
