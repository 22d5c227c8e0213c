"""The accounting article's screens, as one signed-in admin (invoice-export's public API)."""

import asyncio
from typing import Any

from timebridge_console.adapters.api import Caller, segment


class Accounting:
    def __init__(self, caller: Caller, workspace_id: str) -> None:
        self._api = caller
        self._ws = f"/v1/workspaces/{segment(workspace_id)}"

    async def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        return await self._api.get("invoice_export", f"{self._ws}{path}", params)

    async def connections(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._get("/accounting/connections")
        return found

    async def authorize(self, provider: str) -> str:
        """Where to send the admin's browser: the tool's consent page."""
        started = await self._api.post(
            "invoice_export", f"{self._ws}/accounting/{segment(provider)}/authorize"
        )
        return str(started["authorize_url"])

    async def choose_company(self, connection_id: str, tenant_id: str) -> None:
        path = f"{self._ws}/accounting/connections/{segment(connection_id)}/tenant"
        await self._api.post("invoice_export", path, {"tenant_id": tenant_id})

    async def disconnect(self, connection_id: str) -> None:
        path = f"{self._ws}/accounting/connections/{segment(connection_id)}"
        await self._api.delete("invoice_export", path)

    async def clients(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._get("/clients")
        return found

    async def archive(self, client_id: str, archived: bool) -> None:
        action = "archive" if archived else "unarchive"
        path = f"{self._ws}/clients/{segment(client_id)}/{action}"
        await self._api.post("invoice_export", path)

    async def invoices(self) -> list[dict[str, Any]]:
        """Every invoice with its preview (issue date, tool state, warnings), fetched together."""
        summaries: list[dict[str, Any]] = await self._get("/invoices")
        return list(await asyncio.gather(*(self.invoice(s["invoice_id"]) for s in summaries)))

    async def invoice(self, invoice_id: str) -> dict[str, Any]:
        found: dict[str, Any] = await self._get(f"/invoices/{segment(invoice_id)}")
        return found

    async def create_invoice(self, client_id: str, start: str, end: str) -> dict[str, Any]:
        body = {"client_id": client_id, "period_start": start, "period_end": end}
        created: dict[str, Any] = await self._api.post(
            "invoice_export", f"{self._ws}/invoices", body
        )
        return created

    async def invoice_action(self, invoice_id: str, action: str) -> None:
        """``export``, ``sync`` (read the tool's state now) or ``delete``."""
        path = f"{self._ws}/invoices/{segment(invoice_id)}"
        if action == "delete":
            await self._api.delete("invoice_export", path)
        else:
            await self._api.post("invoice_export", f"{path}/{action}")
