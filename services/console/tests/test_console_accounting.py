"""Accounting over invoice-export mocked as its API answers: a consent that covered several
companies asks which one (a labelled choice, sent as invoice-export takes it), and each action
is confirmed in its own words (not a settings notice)."""

import json
import re
from typing import Any

import httpx

from timebridge_console.testing import console_client, signed_in

WS, CONNECTION = "acme", "acc_1"
ACCOUNTING = f"/v1/workspaces/{WS}/accounting/connections"


class InvoiceExport:
    """invoice-export's answers (and mapping's provider list); what the console sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, Any]] = []
        self.connection: dict[str, Any] = {
            "connection_id": CONNECTION,
            "provider": "xero",
            "provider_name": "Xero",
            "status": "pending_tenant",
            "tenant_id": None,
            "tenant_name": None,
            "tenants": [{"id": "t-1", "name": "Acme NZ"}, {"id": "t-2", "name": "Acme AU"}],
            "mirrored_at": None,
            "last_error": None,
        }

    def answer(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        body: Any = json.loads(request.content) if request.content else None
        self.sent.append((request.method, path, body))
        if request.method == "POST" and path == f"{ACCOUNTING}/{CONNECTION}/tenant":
            chosen = next(t for t in self.connection["tenants"] if t["id"] == body["tenant_id"])
            self.connection |= {"tenant_id": chosen["id"], "tenant_name": chosen["name"]}
            return httpx.Response(200, json=self.connection)
        if request.method == "DELETE" and path == f"{ACCOUNTING}/{CONNECTION}":
            self.connection["status"] = "disconnected"
            return httpx.Response(200, json=self.connection)
        routes: dict[str, Any] = {
            f"/v1/workspaces/{WS}/integrations": [],
            ACCOUNTING: [self.connection],
            f"/v1/workspaces/{WS}/providers": [
                {"name": "xero", "title": "Xero", "kind": "accounting", "auth": "oauth2"}
            ],
        }
        if path not in routes:
            return httpx.Response(404, json={"detail": "not found"})
        return httpx.Response(200, json=routes[path])


async def test_the_company_is_chosen_when_the_consent_covered_several() -> None:
    tool = InvoiceExport()
    async with console_client(httpx.MockTransport(tool.answer)) as client:
        csrf = await signed_in(client, WS, f"/w/{WS}/accounting")
        page = await client.get(f"/w/{WS}/accounting")
        assert f'<label for="tenant-{CONNECTION}">Choose the company</label>' in page.text
        assert re.search(rf'<select id="tenant-{CONNECTION}" name="tenant_id">', page.text)
        assert '<option value="t-2">Acme AU</option>' in page.text
        chosen = await client.post(
            f"/w/{WS}/accounting/{CONNECTION}/company",
            data={"csrf_token": csrf, "tenant_id": "t-2"},
            follow_redirects=True,
        )
        assert "Company chosen: its clients are mirrored in a moment." in chosen.text
        assert "Acme AU" in chosen.text
        assert "Choose the company" not in chosen.text
        assert ("POST", f"{ACCOUNTING}/{CONNECTION}/tenant", {"tenant_id": "t-2"}) in tool.sent

        gone = await client.post(
            f"/w/{WS}/accounting/{CONNECTION}/disconnect",
            data={"csrf_token": csrf},
            follow_redirects=True,
        )
        assert "Disconnected: syncing stopped" in gone.text
        assert "Settings saved" not in gone.text
