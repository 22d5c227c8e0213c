"""History imports of an integration, as one signed-in admin (ingest's public API)."""

import datetime as dt
from typing import Any

from timebridge_console.adapters.api import Caller, segment


class HistoryImports:
    def __init__(self, caller: Caller, workspace_id: str, integration_id: str) -> None:
        self._api = caller
        self._path = (
            f"/v1/workspaces/{segment(workspace_id)}/integrations/{segment(integration_id)}/imports"
        )

    async def start(self, first: dt.date, last: dt.date | None, *, kind: str) -> dict[str, Any]:
        body: dict[str, Any] = {"from": first.isoformat(), "kind": kind}
        if last is not None:
            body["to"] = last.isoformat()
        started: dict[str, Any] = await self._api.post("ingest", self._path, body)
        return started

    async def runs(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._api.get("ingest", self._path)
        return found
