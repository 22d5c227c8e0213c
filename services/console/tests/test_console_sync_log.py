"""The sync log over reporting mocked as its API answers: an error is shown with its message and
the provider's answer, the filters (status, entry, user, time range) go to reporting as it takes
them, and a filter it cannot take is said in words."""

from typing import Any

import httpx

from timebridge_console.testing import console_client, signed_in

WS = "acme"
ERROR_ROW = {
    "kind": "entry",
    "event_id": "e1",
    "source": "core",
    "source_external_id": "te_9",
    "target": "everhour",
    "target_external_id": None,
    "status": "error",
    "operation": "create",
    "user_email": "ann@acme.test",
    "reason": "everhour refused the entry: the task is locked",
    "provider_response": {"code": 423, "message": "Task is locked"},
    "synced_at": "2026-12-06T09:00:00Z",
}


class Reporting:
    def __init__(self) -> None:
        self.asked: list[dict[str, str]] = []

    def answer(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        routes: dict[str, Any] = {
            f"/v1/workspaces/{WS}/integrations": [],
            f"/v1/workspaces/{WS}/providers": [
                {"name": "everhour", "title": "Everhour", "kind": "tracker", "auth": "api_key"}
            ],
        }
        if path == f"/v1/workspaces/{WS}/sync-log/timeline":
            self.asked.append(dict(request.url.params))
            return httpx.Response(200, json=[ERROR_ROW])
        if path not in routes:
            return httpx.Response(404, json={"detail": "not found"})
        return httpx.Response(200, json=routes[path])


async def test_an_error_shows_its_message_and_the_providers_answer() -> None:
    reporting = Reporting()
    async with console_client(httpx.MockTransport(reporting.answer)) as client:
        await signed_in(client, WS, f"/w/{WS}/sync-log")
        page = await client.get(
            f"/w/{WS}/sync-log",
            params={
                "status": "error",
                "entry": "te_9",
                "user": "ann@acme.test",
                "since": "2026-12-01T08:00",
                "until": "2026-12-06T18:30",
            },
        )
        assert page.status_code == 200
        assert "everhour refused the entry: the task is locked" in page.text
        # The provider's answer as it came (JSON; tojson escapes what HTML would read).
        assert '<pre>{"code": 423, "message": "Task is locked"}</pre>' in page.text
        assert "the history of entry te_9 across systems" in page.text
        assert reporting.asked[-1] == {
            "status": "error",
            "entry": "te_9",
            "user": "ann@acme.test",
            "since": "2026-12-01T08:00:00+00:00",
            "until": "2026-12-06T18:30:00+00:00",
        }

        refused = await client.get(f"/w/{WS}/sync-log", params={"since": "last tuesday"})
        assert refused.status_code == 422
        assert "Filter not applied: &#39;since&#39; is not a date and time." in refused.text
