"""The Ops screens, as one signed-in admin (the operations API that reporting serves)."""

from typing import Any

from timebridge_console.adapters.api import Caller, segment


class Ops:
    def __init__(self, caller: Caller, workspace_id: str) -> None:
        self._api = caller
        self._ops = f"/v1/workspaces/{segment(workspace_id)}/ops"

    async def topics(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._api.get("reporting", f"{self._ops}/dead-letters")
        return found

    async def letters(self, topic: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._api.get(
            "reporting", f"{self._ops}/dead-letters/{segment(topic)}"
        )
        return found

    async def replay(
        self, topic: str, letters: list[str], *, everything: bool, include_invalid: bool
    ) -> dict[str, Any]:
        done: dict[str, Any] = await self._api.post(
            "reporting",
            f"{self._ops}/dead-letters/{segment(topic)}/replay",
            {"letters": letters, "all": everything, "include_invalid": include_invalid},
        )
        return done

    async def lag(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._api.get("reporting", f"{self._ops}/consumer-lag")
        return found
