"""The Reports screens, as one signed-in admin (the reporting service's public API)."""

from typing import Any

from timebridge_console.adapters.api import Caller, Download, segment


class Reports:
    def __init__(self, caller: Caller, workspace_id: str) -> None:
        self._api = caller
        self._ws = f"/v1/workspaces/{segment(workspace_id)}"

    def _definition(self, definition_id: str) -> str:
        return f"{self._ws}/report-definitions/{segment(definition_id)}"

    async def definitions(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._api.get(
            "reporting", f"{self._ws}/report-definitions"
        )
        return found

    async def definition(self, definition_id: str) -> dict[str, Any]:
        found: dict[str, Any] = await self._api.get("reporting", self._definition(definition_id))
        return found

    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = await self._api.post(
            "reporting", f"{self._ws}/report-definitions", body
        )
        return created

    async def change(self, definition_id: str, body: dict[str, Any]) -> None:
        await self._api.put("reporting", self._definition(definition_id), body)

    async def delete(self, definition_id: str) -> None:
        await self._api.delete("reporting", self._definition(definition_id))

    async def run_now(self, definition_id: str, key: str) -> dict[str, Any]:
        """``key``: the form's own idempotency key, so a double submit is one run."""
        started: dict[str, Any] = await self._api.post(
            "reporting",
            f"{self._definition(definition_id)}/runs",
            headers={"idempotency-key": key},
        )
        return started

    async def runs(self, definition_id: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        params = {"limit": str(limit)}
        if definition_id is not None:
            params["definition_id"] = definition_id
        found: list[dict[str, Any]] = await self._api.get(
            "reporting", f"{self._ws}/report-runs", params
        )
        return found

    async def download(self, run_id: str, fmt: str) -> Download:
        return await self._api.download(
            "reporting", f"{self._ws}/report-runs/{segment(run_id)}/download/{segment(fmt)}"
        )
