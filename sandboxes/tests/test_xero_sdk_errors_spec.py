"""The Xero sandbox driven by xero-python: Xero's documented error bodies, webhook payloads
against its webhook spec, and the spec check failing on answers Xero would not give (see
``test_xero_sdk``)."""

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import urllib3
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from xero_python.accounting import (  # type: ignore[import-untyped]
    Invoice,
    Invoices,
)
from xero_python.exceptions import (  # type: ignore[import-untyped]
    BadRequestException,
    RateLimitException,
)

from sandboxes.tests.xero_sdk_world import (
    HOOK_KEY,
    HOOK_URL,
    NEEDS_SPECS,
    SPECS,
    World,
    error_body,
    make_world,
    new_customer,
    world,
)
from timebridge_sandboxes.faults import RateLimit
from timebridge_sandboxes.testing import serve_in_thread
from timebridge_sandboxes.xero.spec import SpecChecked, webhook_problems

pytestmark = NEEDS_SPECS
__all__ = ["make_world", "world"]  # the fixtures (from xero_sdk_world)


def test_xeros_documented_error_bodies(make_world: Callable[..., World]) -> None:
    world = make_world(rate_limit=RateLimit(3, 2.0))
    with world.http() as http:
        unauthorised = http.get(
            "/api.xro/2.0/Contacts",
            headers={**world.bearer(), "Authorization": "Bearer not-a-token"},
        )
        not_connected = http.get("/api.xro/2.0/Contacts", headers=world.bearer("other-tenant"))
    assert unauthorised.status_code == 401
    problem = unauthorised.json()
    assert {k: problem[k] for k in ("Type", "Title", "Status", "Detail")} == {
        "Type": None,
        "Title": "Unauthorized",
        "Status": 401,
        "Detail": "AuthenticationUnsuccessful",
    }
    assert problem["Instance"]
    assert problem["Extensions"] == {}
    assert not_connected.status_code == 403

    with pytest.raises(BadRequestException) as invalid:
        world.accounting.create_invoices(
            world.tenant, Invoices(invoices=[Invoice(type="ACCREC", line_items=[])])
        )
    body = error_body(invalid.value)
    assert body["Message"] == "A validation exception occurred"
    assert body["Elements"][0]["Type"] == "ACCREC"
    assert body["Elements"][0]["ValidationErrors"][0]["Message"].startswith("A Contact")

    # the 4th call within the window is refused; the SDK (urllib3) waits Retry-After and retries
    for _ in range(3):
        world.accounting.get_contacts(world.tenant)
    refusals = [e for e in world.exchanges("/api.xro/2.0/Contacts") if e.status == 429]
    assert refusals, "the 4th call in the window was not refused"
    assert refusals[0].answer_headers["x-rate-limit-problem"] == "minute"
    assert 1 <= int(refusals[0].answer_headers["retry-after"]) <= 2
    # without the SDK's retries the refusal reaches the caller as Xero's RateLimitException
    world.client.rest_client.pool_manager = urllib3.PoolManager(retries=False)

    def four_calls() -> None:
        for _ in range(4):
            world.accounting.get_contacts(world.tenant)

    with pytest.raises(RateLimitException) as limited:
        four_calls()
    assert limited.value.rate_limit == "minute"
    assert int(limited.value.headers["Retry-After"]) > 0


def test_webhook_payloads_match_xeros_webhook_spec(world: World) -> None:
    with world.http() as http:
        subscribed = http.put("/_sandbox/webhook", json={"url": HOOK_URL, "key": HOOK_KEY})
    assert subscribed.json()["status"] == "OK"
    contact = new_customer(world, "Massive Dynamic")
    deadline = time.monotonic() + 5
    events: list[Any] = []
    while not events and time.monotonic() < deadline:
        time.sleep(0.02)
        events = [json.loads(body) for body, _ in world.hooks if json.loads(body)["events"]]
    assert events, "no webhook delivered"
    payload = events[0]
    assert webhook_problems(SPECS, payload) == []
    assert payload["events"][0]["resourceId"] == contact.contact_id
    assert payload["events"][0]["eventCategory"] == "CONTACT"


def _wrong(_: Request) -> JSONResponse:
    return JSONResponse({"Invoices": [{"InvoiceID": "not-a-uuid", "Total": "lots", "Status": "X"}]})


def test_the_spec_check_fails_on_answers_xero_would_not_give(tmp_path: Path) -> None:
    """The checker is not a rubber stamp: a wrong answer and a wrong request are reported."""
    app = Starlette(routes=[Route("/api.xro/2.0/Invoices", _wrong, methods=["GET", "PUT"])])
    checked = SpecChecked(app, SPECS)
    with serve_in_thread(checked) as base, httpx.Client(base_url=base) as http:
        http.get("/api.xro/2.0/Invoices", headers={"xero-tenant-id": "t"})
        http.put("/api.xro/2.0/Invoices", headers={"xero-tenant-id": "t"}, json={"Invoices": 7})
    problems = checked.problems
    assert any(p.startswith("GET /api.xro/2.0/Invoices -> 200: response") for p in problems)
    assert any(p.startswith("PUT /api.xro/2.0/Invoices -> 200: request") for p in problems)
