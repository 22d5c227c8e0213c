"""History imports on the integration page, over services mocked as their APIs answer.

The bar is ingest's progress (``percent``, days covered, entries found); the page asks again
every second only while a run is unfinished; a period is sent as ingest takes it and a refusal
is said in words. The browser test (tests/integration/test_console_imports.py) watches a real
run's bar move.
"""

import datetime as dt
import json
from typing import Any

import httpx
import pytest

from timebridge_console.domain import imports
from timebridge_console.domain.choices import FormError
from timebridge_console.testing import console_client, tracker_integration
from timebridge_console.testing import signed_in as sign_in

WS, INTEGRATION = "acme", "int_1"
BASE = f"/v1/workspaces/{WS}/integrations/{INTEGRATION}"
INTEGRATION_VIEW = tracker_integration(WS, INTEGRATION, "everhour")


def run(state: str, percent: int, **extra: Any) -> dict[str, Any]:
    return {
        "import_id": f"imp_{state}",
        "integration_id": INTEGRATION,
        "kind": "backfill",
        "state": state,
        "from": "2026-09-01",
        "to": "2026-09-30",
        "percent": percent,
        "days_done": 30 * percent // 100,
        "days_total": 30,
        "windows_done": 2,
        "windows_total": 5,
        "covered_until": None,
        "entries_observed": 17,
        "last_error": None,
        "requested_at": "2026-12-06T09:00:00Z",
        "started_at": "2026-12-06T09:00:01Z",
        "finished_at": None,
        "next_attempt_at": None,
        **extra,
    }


class Services:
    """The services' answers; what the console sent is kept in ``sent``."""

    def __init__(self, runs: list[dict[str, Any]], start: httpx.Response | None = None) -> None:
        self.runs = runs
        self.start = start or httpx.Response(202, json=run("queued", 0))
        self.sent: list[tuple[str, str, Any]] = []

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.answer)

    def answer(self, request: httpx.Request) -> httpx.Response:
        service, path = request.url.host.split(".")[0], request.url.path
        body = json.loads(request.content) if request.content else None
        self.sent.append((request.method, path, body))
        if request.method == "POST" and path.endswith("/imports"):
            return self.start
        if request.method == "POST" and path == f"/v1/workspaces/{WS}/integrations":
            return httpx.Response(201, json=INTEGRATION_VIEW)
        routes: dict[tuple[str, str], Any] = {
            ("ingest", f"/v1/workspaces/{WS}/integrations"): [INTEGRATION_VIEW],
            ("ingest", BASE): INTEGRATION_VIEW,
            ("ingest", f"{BASE}/imports"): self.runs,
            ("ingest", f"{BASE}/health"): {"status": "ok", "deliveries_waiting": 0},
            ("mapping", f"/v1/workspaces/{WS}/providers"): [
                {"name": "everhour", "title": "Everhour", "kind": "tracker", "auth": "api_key"}
            ],
        }
        found = routes.get((service, path))
        if found is None:
            return httpx.Response(404, json={"detail": "not found"})
        return httpx.Response(200, json=found)


def console(services: Services) -> httpx.AsyncClient:
    return console_client(services.transport())


async def signed_in(client: httpx.AsyncClient) -> str:
    """Signed in; the CSRF token of the integration's page."""
    return await sign_in(client, WS, f"/w/{WS}/integrations/{INTEGRATION}")


async def test_a_running_import_shows_its_progress_and_keeps_asking() -> None:
    services = Services([run("running", 40), run("done", 100, kind="initial")])
    async with console(services) as client:
        await signed_in(client)
        page = await client.get(f"/w/{WS}/integrations/{INTEGRATION}")
        assert '<progress max="100" value="40"' in page.text
        assert '<progress max="100" value="100"' in page.text
        assert "40% · 12 of 30 days · Importing" in page.text
        assert f'hx-get="/w/{WS}/integrations/{INTEGRATION}/imports" hx-trigger="every 1s"' in (
            page.text
        )
        fragment = await client.get(f"/w/{WS}/integrations/{INTEGRATION}/imports")
        assert 'id="imports"' in fragment.text
        assert "<html" not in fragment.text
        assert 'data-percent="40"' in fragment.text


async def test_finished_imports_are_not_asked_again() -> None:
    failed = run("failed", 20, last_error="everhour answered 400: too far back")
    async with console(Services([failed, run("done", 100)])) as client:
        await signed_in(client)
        page = await client.get(f"/w/{WS}/integrations/{INTEGRATION}")
        assert "hx-trigger" not in page.text.split('id="imports"')[1].split(">")[0]
        assert "Failed: everhour answered 400: too far back" in page.text


async def test_a_backfill_is_sent_as_ingest_takes_it_and_a_refusal_said() -> None:
    services = Services([])
    async with console(services) as client:
        csrf = await signed_in(client)
        started = await client.post(
            f"/w/{WS}/integrations/{INTEGRATION}/imports",
            data={"csrf_token": csrf, "import_from": "2026-09-01", "import_to": "2026-09-30"},
        )
        assert started.status_code == 303
        assert "notice=import_started" in started.headers["location"]
        sent = [b for m, p, b in services.sent if m == "POST" and p == f"{BASE}/imports"]
        assert sent == [{"from": "2026-09-01", "to": "2026-09-30", "kind": "backfill"}]

        services.start = httpx.Response(409, json={"detail": "an import is not finished yet"})
        refused = await client.post(
            f"/w/{WS}/integrations/{INTEGRATION}/imports",
            data={"csrf_token": csrf, "import_from": "2026-09-01"},
        )
        assert refused.status_code == 409
        assert 'id="import-error"' in refused.text
        assert "an import is not finished yet" in refused.text

        backwards = await client.post(
            f"/w/{WS}/integrations/{INTEGRATION}/imports",
            data={"csrf_token": csrf, "import_from": "2026-09-30", "import_to": "2026-09-01"},
        )
        assert backwards.status_code == 422
        assert "the first day is after the last day" in backwards.text
        assert len([p for m, p, _ in services.sent if m == "POST" and "imports" in p]) == 2


async def test_connecting_with_a_start_date_starts_the_initial_import() -> None:
    services = Services([])
    async with console(services) as client:
        csrf = await signed_in(client)
        saved = await client.post(
            f"/w/{WS}/integrations/new/everhour",
            data={
                "csrf_token": csrf,
                "api_key": "key",
                "direction": "two_way",
                "frequency": "realtime",
                "unmapped_user_policy": "queue",
                "conflict_policy": "manual_review",
                "import_from": "2026-10-01",
            },
        )
        assert saved.status_code == 303, saved.text
        assert "notice=connected_importing" in saved.headers["location"]
        sent = [b for m, p, b in services.sent if m == "POST" and p == f"{BASE}/imports"]
        assert sent == [{"from": "2026-10-01", "kind": "initial"}]


def test_the_forms_period_in_words() -> None:
    today = dt.date(2026, 12, 6)
    assert imports.period({"import_from": "2026-09-01"}, today=today) == (
        dt.date(2026, 9, 1),
        None,
    )
    for fields, words in [
        ({}, "choose the first day"),
        ({"import_from": "01/09/2026"}, "not a date"),
        ({"import_from": "2026-12-07"}, "after the last day"),
    ]:
        with pytest.raises(FormError, match=words):
            imports.period(fields, today=today)
    assert imports.optional_start({"import_from": " "}) is None
    assert imports.any_active([{"state": "done"}, {"state": "waiting"}])
    assert not imports.any_active([{"state": "failed"}])
    assert imports.state_label({"state": "waiting"}).startswith("Paused")
