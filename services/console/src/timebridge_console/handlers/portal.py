"""The portal's calls to the reporting service's portal API (``/v1/portal/...``).

Signing in needs no token (asking for a link, exchanging it); everything after carries the
recipient's portal session token, never a Core token: reporting decides what the recipient sees.
"""

from typing import Any

from timebridge_console.adapters.api import Download, ServiceApis, segment

SERVICE = "reporting"


class PortalApi:
    def __init__(self, apis: ServiceApis, session_token: str = "") -> None:
        self._apis = apis
        self._token = session_token

    async def _call(
        self, method: str, path: str, json: Any = None, headers: dict[str, str] | None = None
    ) -> Any:
        return await self._apis.request(
            SERVICE, method, f"/v1/portal{path}", self._token, json=json, headers=headers
        )

    async def ask_link(self, workspace_id: str, email: str) -> None:
        await self._call(
            "POST", f"/workspaces/{segment(workspace_id)}/sign-in-links", {"email": email}
        )

    async def exchange(self, token: str) -> dict[str, Any]:
        session: dict[str, Any] = await self._call("POST", "/sessions", {"token": token})
        return session

    async def me(self) -> dict[str, Any]:
        found: dict[str, Any] = await self._call("GET", "/me")
        return found

    async def reports(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._call("GET", "/reports")
        return found

    async def runs(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._call("GET", "/runs")
        return found

    async def request(self, definition_id: str, start: str, end: str, key: str) -> dict[str, Any]:
        """``key``: the form's own idempotency key, so a double submit is one run."""
        started: dict[str, Any] = await self._call(
            "POST",
            f"/reports/{segment(definition_id)}/requests",
            {"start": start, "end": end},
            headers={"idempotency-key": key},
        )
        return started

    async def download(self, run_id: str, fmt: str) -> Download:
        path = f"/v1/portal/runs/{segment(run_id)}/download/{segment(fmt)}"
        return await self._apis.download(SERVICE, path, self._token)

    async def sign_out(self) -> None:
        await self._call("DELETE", "/session")
