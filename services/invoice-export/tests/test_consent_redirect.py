"""A browser back from a tool's consent screen is sent to the console (``TB_CONSOLE_URL``).

The callback's route over a stand-in for the connect use case (its own tests are in
``test_handlers``): a browser lands on the console's landing page (on to its Accounting
page), or on its page saying why not; an API client, or no console configured, gets the JSON
as before.
"""

from collections.abc import Mapping
from typing import Any, cast

import httpx
from fastapi import FastAPI

from timebridge_common.refusals import InvalidError
from timebridge_invoice_export.entrypoints.http_connections import oauth_router
from timebridge_invoice_export.handlers.connections import Connections

CONSOLE = "https://console.example"
HTML = {"accept": "text/html,application/xhtml+xml"}


class Completing:
    """Completes a consent as ``complete`` does: the connection, or a refusal with reason."""

    async def complete(self, provider: str, params: Mapping[str, str]) -> Any:
        if "error" in params:
            raise InvalidError(f"QuickBooks Online did not authorise Timebridge: {params['error']}")
        return type(
            "Connected",
            (),
            {
                "connection_id": "acc_1",
                "workspace_id": "acme corp",
                "provider": provider,
                "status": "connected",
                "tenant_id": "9130",
                "tenant_name": "Acme",
                "tenants": (),
                "mirrored_at": None,
                "last_poll_at": None,
                "last_error": None,
                "webhooks_registered_at": None,
                "verified_webhooks": 0,
            },
        )()


def client(console_url: str | None) -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(oauth_router(cast(Connections, Completing()), console_url))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ie")


async def test_a_browser_lands_on_the_consoles_landing_page() -> None:
    """Not the Accounting page itself: a redirect chain a consent form's POST began carries no
    SameSite=Lax session cookie; the console's landing page opens the Accounting page."""
    async with client(CONSOLE) as ie:
        answer = await ie.get("/v1/oauth/quickbooks/callback?code=c&state=s", headers=HTML)
    assert answer.status_code == 303
    assert answer.headers["location"] == (
        f"{CONSOLE}/accounting/connected?workspace=acme+corp&connection=acc_1"
    )


async def test_a_refused_consent_lands_on_the_consoles_page_saying_why() -> None:
    async with client(CONSOLE + "/") as ie:
        answer = await ie.get("/v1/oauth/quickbooks/callback?error=access_denied", headers=HTML)
    assert answer.status_code == 303
    location = httpx.URL(answer.headers["location"])
    assert str(location).startswith(f"{CONSOLE}/accounting/not-connected?")
    assert location.params["reason"] == (
        "QuickBooks Online did not authorise Timebridge: access_denied"
    )


async def test_an_api_client_or_no_console_gets_the_json() -> None:
    async with client(CONSOLE) as ie:
        answer = await ie.get("/v1/oauth/quickbooks/callback?code=c&state=s")
    assert answer.status_code == 200
    assert answer.json()["connection_id"] == "acc_1"
    async with client(None) as ie:
        answer = await ie.get("/v1/oauth/quickbooks/callback?code=c&state=s", headers=HTML)
    assert answer.status_code == 200
    assert answer.json()["status"] == "connected"
