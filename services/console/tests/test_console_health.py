"""An integration whose key the tracker refuses: the pages say it needs re-authorisation.

The console's rendering over answers the services give (ingest's health says
``needs_reauthorisation`` after a poll the tracker refused; a browser test cannot wait for a
poll): the services are an ``httpx.MockTransport`` that answers as their APIs do.
"""

import json
from typing import Any

import httpx
import pytest

from timebridge_console.testing import console_client, tracker_integration
from timebridge_console.testing import signed_in as sign_in

WS, INTEGRATION = "acme", "int_1"
REFUSAL = "401 Unauthorized: Invalid API key"


def answers(connection_status: str, retest_ok: bool) -> httpx.MockTransport:
    integration = tracker_integration(WS, INTEGRATION, "everhour")
    routes: dict[tuple[str, str], Any] = {
        ("ingest", f"/v1/workspaces/{WS}/integrations"): [integration],
        ("ingest", f"/v1/workspaces/{WS}/integrations/{INTEGRATION}"): integration,
        ("ingest", f"/v1/workspaces/{WS}/integrations/{INTEGRATION}/health"): {
            "status": connection_status,
            "last_error": REFUSAL if connection_status != "ok" else None,
            "error_kind": "authentication" if connection_status != "ok" else None,
            "consecutive_failures": 3,
            "webhook_registered": False,
            "deliveries_waiting": 0,
        },
        ("ingest", f"/v1/workspaces/{WS}/integrations/{INTEGRATION}/retest"): (
            {"ok": True, "account": {"email": "ann@acme.test"}}
            if retest_ok
            else {"ok": False, "error_kind": "authentication", "message": REFUSAL}
        ),
        ("reporting", f"/v1/workspaces/{WS}/integrations/{INTEGRATION}/health"): {
            "last_success_at": None,
            "last_error_at": None,
            "errors_24h": 0,
            "backlog": 0,
            "open_conflicts": 0,
        },
        ("reporting", f"/v1/workspaces/{WS}/sync-log/timeline"): [
            {
                "kind": "connection",
                "event_id": "e2",
                "integration_id": INTEGRATION,
                "connection_id": INTEGRATION,
                "source": "everhour",
                "state": "needs_reauthorisation",
                "previous_state": "ok",
                "status": "error",
                "error_class": "authentication",
                "reason": f"everhour refused the credential: reconnect it ({REFUSAL})",
                "provider_response": {"code": 401},
                "failures": 3,
                "synced_at": "2026-12-06T10:02:00Z",
            },
            {
                "kind": "entry",
                "event_id": "e1",
                "source": "core",
                "source_external_id": "te_1",
                "target": "everhour",
                "target_external_id": "1",
                "status": "synced",
                "operation": "create",
                "user_email": "ann@acme.test",
                "reason": None,
                "synced_at": "2026-12-06T09:00:00Z",
            },
        ],
        ("mapping", f"/v1/workspaces/{WS}/integrations/{INTEGRATION}/user-mappings"): {
            "mappings": [],
            "unmapped_core_users": [{"id": "u_2", "email": "max@acme.test", "name": "Max"}],
            "unmapped_tracker_users": [],
        },
        ("mapping", f"/v1/workspaces/{WS}/integrations/{INTEGRATION}/held-entries"): [
            {"source": "core", "external_id": "te_7"},
            {"source": "core", "external_id": "te_8"},
        ],
        ("mapping", f"/v1/workspaces/{WS}/providers"): [
            {"name": "everhour", "title": "Everhour", "kind": "tracker", "auth": "api_key"}
        ],
    }

    def replaced(request: httpx.Request) -> httpx.Response:
        """Ingest's key replacement: the new key is tested first (only "new-key" works)."""
        if json.loads(request.content)["api_key"] != "new-key":
            return httpx.Response(422, json={"detail": f"everhour refused the key: {REFUSAL}"})
        return httpx.Response(
            200, json=routes[("ingest", request.url.path[: -len("/credentials")])]
        )

    def answer(request: httpx.Request) -> httpx.Response:
        service = request.url.host.split(".")[0]
        if request.method == "PUT" and request.url.path.endswith("/credentials"):
            return replaced(request)
        found = routes.get((service, request.url.path))
        if request.url.path.endswith("/health") and connection_status == "ingest_down":
            if service == "ingest":
                return httpx.Response(503, json={"detail": "ingest is restarting"})
            refused = {"state": "needs_reauthorisation", "message": REFUSAL}
            return httpx.Response(200, json={**(found or {}), "connection": refused})
        if service == "mapping" and connection_status == "mapping_down":
            return httpx.Response(503, json={"detail": "the Core connection is not known yet"})
        if found is None:
            return httpx.Response(404, json={"detail": "not found"})
        return httpx.Response(200, json=found)

    return httpx.MockTransport(answer)


def console(transport: httpx.MockTransport) -> httpx.AsyncClient:
    return console_client(transport)


async def signed_in(client: httpx.AsyncClient) -> str:
    """Signed in; the CSRF token of the integration's page."""
    return await sign_in(client, WS, f"/w/{WS}/integrations/{INTEGRATION}")


@pytest.mark.parametrize("retest_ok", [True, False])
async def test_a_refused_key_asks_for_re_authorisation(retest_ok: bool) -> None:
    async with console(answers("needs_reauthorisation", retest_ok)) as client:
        csrf = await signed_in(client)
        listed = await client.get(f"/w/{WS}/integrations")
        assert "needs re-authorisation" in listed.text
        page = await client.get(f"/w/{WS}/integrations/{INTEGRATION}")
        assert 'role="alert" id="reauthorise"' in page.text
        assert f"Everhour answered: {REFUSAL}" in page.text
        assert f'action="/w/{WS}/integrations/{INTEGRATION}/reconnect"' in page.text
        assert "New Everhour API key" in page.text
        retested = await client.post(
            f"/w/{WS}/integrations/{INTEGRATION}/retest", data={"csrf_token": csrf}
        )
        assert retested.status_code == 200
        if retest_ok:
            assert "Connection works" in retested.text
        else:
            assert "Connection failed (" in retested.text
            assert REFUSAL in retested.text


async def test_a_working_connection_shows_its_polls_and_no_alarm() -> None:
    async with console(answers("ok", True)) as client:
        await signed_in(client)
        listed = await client.get(f"/w/{WS}/integrations")
        assert "needs re-authorisation" not in listed.text
        page = await client.get(f"/w/{WS}/integrations/{INTEGRATION}")
        assert 'id="reauthorise"' not in page.text
        assert "<dd>Working</dd>" in page.text
        assert f'href="/w/{WS}/integrations/{INTEGRATION}/users#held-h">2: assign by hand' in (
            page.text
        )
        assert '<option value="u_2">Max max@acme.test</option>' in page.text
        assert "reconnect-form" not in page.text


async def test_trackers_that_cannot_be_listed_are_said_so() -> None:
    async with console(answers("mapping_down", True)) as client:
        await signed_in(client)
        listed = await client.get(f"/w/{WS}/integrations")
        assert listed.status_code == 200
        assert 'id="catalog-error"' in listed.text
        assert "the Core connection is not known yet" in listed.text


async def test_reportings_record_of_a_refusal_also_asks_for_it() -> None:
    """Ingest unreachable: reporting's copy of the connection's health still says it."""
    async with console(answers("ingest_down", True)) as client:
        await signed_in(client)
        listed = await client.get(f"/w/{WS}/integrations")
        assert "needs re-authorisation" in listed.text
        page = await client.get(f"/w/{WS}/integrations/{INTEGRATION}")
        assert 'id="reauthorise"' in page.text
        assert f"Everhour answered: {REFUSAL}" in page.text
        assert "ingest is restarting" in page.text


async def test_the_sync_log_shows_a_refused_key_among_the_entries() -> None:
    async with console(answers("needs_reauthorisation", True)) as client:
        await signed_in(client)
        log = await client.get(f"/w/{WS}/sync-log", params={"status": "error"})
    assert log.status_code == 200
    change = log.text.split('class="connection-change"')[1].split("</tr>")[0]
    assert "Needs re-authorisation" in change
    assert f"reconnect it ({REFUSAL})" in change
    assert f'href="/w/{WS}/integrations/{INTEGRATION}#connection"' in change
    assert "te_1" in log.text


async def test_re_connect_replaces_the_key_and_keeps_the_integration() -> None:
    async with console(answers("needs_reauthorisation", False)) as client:
        csrf = await signed_in(client)
        url = f"/w/{WS}/integrations/{INTEGRATION}/reconnect"
        done = await client.post(url, data={"csrf_token": csrf, "api_key": "new-key"})
        assert done.status_code == 303
        assert done.headers["location"].endswith(f"/integrations/{INTEGRATION}?notice=reconnected")
        refused = await client.post(url, data={"csrf_token": csrf, "api_key": "old-key"})
        assert refused.status_code == 422
        assert f"everhour refused the key: {REFUSAL}" in refused.text
        empty = await client.post(url, data={"csrf_token": csrf, "api_key": " "})
        assert "Paste the new API key first." in empty.text
