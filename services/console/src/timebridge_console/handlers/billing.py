"""Projects and rates of the accounting article, as one signed-in admin (invoice-export's API):
which client each Core project bills, and its hourly rate."""

from typing import Any

from timebridge_console.adapters.api import Caller, segment


class Billing:
    def __init__(self, caller: Caller, workspace_id: str) -> None:
        self._api = caller
        self._ws = f"/v1/workspaces/{segment(workspace_id)}"

    async def projects(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._api.get("invoice_export", f"{self._ws}/projects")
        return found

    async def rates(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._api.get("invoice_export", f"{self._ws}/rates")
        return found

    async def assign(self, project_id: str, client_id: str | None) -> None:
        """Bill the project to ``client_id``; ``None``: to no client."""
        path = f"{self._ws}/projects/{segment(project_id)}"
        if client_id is None:
            await self._api.delete("invoice_export", f"{path}/client")
        else:
            await self._api.put("invoice_export", path, {"client_id": client_id})

    async def set_rate(self, project_id: str, hourly_rate: str, currency: str) -> None:
        body = {"project_id": project_id, "hourly_rate": hourly_rate, "currency": currency}
        await self._api.put("invoice_export", f"{self._ws}/rates", body)
