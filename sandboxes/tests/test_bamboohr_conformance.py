"""BambooHR's time off through the kit, against its sandbox, in-process: every request and answer
validated against BambooHR's OpenAPI description (``bamboohr-openapi.yaml``).

The control is an HR admin working in BambooHR through its documented API (creating a request
for an employee, approving, cancelling, denying it); the provider is what ingest opens from the
registry. The time-entry scenarios of ``kit/conformance`` do not apply: an HR source has no
entries, so this is the time-off capability's own suite (listing with every status, the cursor,
cancellations, the email join, the connection test, throttling and refusals).
"""

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from timebridge_providers.bamboohr.client import basic_auth
from timebridge_providers.installed import registry
from timebridge_providers.kit.ports.time_off import TimeOffSource
from timebridge_providers.kit.session import Access, Session

from timebridge_common.outbound.http import AuthenticationError, RequestBudget, RetryPolicy
from timebridge_sandboxes.bamboohr import BambooHrState, create_bamboohr_sandbox, demo_bamboohr
from timebridge_sandboxes.bamboohr.spec import SPEC_NAME, SpecCheckingTransport, bamboohr_openapi
from timebridge_sandboxes.faults import Faults
from timebridge_sandboxes.testing import FakeTime, provider_specs

BASE = "http://acme.bamboohr.test"
TODAY = dt.date(2026, 11, 20)
NOW = dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC)
LOOKBACK = dt.timedelta(days=31)


@dataclass
class World:
    state: BambooHrState
    faults: Faults
    spec: SpecCheckingTransport
    http: httpx.AsyncClient
    fake: FakeTime

    def session(self, key: str = "ann-key") -> Session:
        access = Access(BASE, key, {"company_domain": "acme"})
        retry = RetryPolicy(sleep=self.fake.sleep, rng=lambda: 0.0)
        return Session("bamboohr", access, self.http, RequestBudget(100, 60.0), retry)

    def source(self) -> TimeOffSource:
        found = registry().get("bamboohr").time_off
        assert found is not None
        return found(self.session())

    async def admin(self, method: str, path: str, body: dict[str, Any]) -> httpx.Response:
        """The HR admin in BambooHR (its documented API, Ann's key)."""
        headers = {"Authorization": basic_auth("ann-key"), "Accept": "application/json"}
        answer = await self.http.request(method, f"{BASE}/api/v1{path}", json=body, headers=headers)
        assert answer.is_success, answer.headers.get("x-bamboohr-error-message")
        return answer

    async def request_off(self, employee: int, start: str, end: str, **body: Any) -> int:
        body = {"status": "approved", "start": start, "end": end, "timeOffTypeId": 78, **body}
        made = await self.admin("PUT", f"/employees/{employee}/time_off/request", body)
        return int(made.json()["id"])

    async def set_status(self, request_id: int, status: str) -> None:
        await self.admin("PUT", f"/time_off/requests/{request_id}/status", {"status": status})


@pytest.fixture
async def world() -> AsyncIterator[World]:
    if not (provider_specs() / SPEC_NAME).exists():
        pytest.skip(f"the provider specs are not at {provider_specs()}")
    today = [TODAY]
    state = demo_bamboohr("ann-key", "max-key", today=lambda: today[0])
    faults = Faults()
    spec = SpecCheckingTransport(
        httpx.ASGITransport(create_bamboohr_sandbox(state, faults)),
        bamboohr_openapi(provider_specs(), BASE),
    )
    async with httpx.AsyncClient(transport=spec) as http:
        yield World(state, faults, spec, http, FakeTime())
    assert spec.problems == []


async def test_the_connection_test_names_the_keys_employee(world: World) -> None:
    account = await registry().get("bamboohr").check(world.session())
    assert (account.external_id, account.name, account.email) == (
        "5",
        "Ann Admin",
        "ann@example.com",
    )
    with pytest.raises(AuthenticationError):
        await registry().get("bamboohr").check(world.session("wrong-key"))
    # 401 is documented for every call (Technical Overview), not on this operation:
    assert len(world.spec.take("answer 401")) == 1


async def test_a_user_key_without_an_employee_and_one_without_time_off(world: World) -> None:
    world.state.user_keys.add("hr-admin-key")
    account = await registry().get("bamboohr").check(world.session("hr-admin-key"))
    assert account.external_id == "0"
    world.spec.take("answer 404 to GET /api/v1/employees/0")  # documented: no such employee
    world.state.without_time_off.add("max-key")
    with pytest.raises(AuthenticationError):  # refused at Test Connection, not at every poll
        await registry().get("bamboohr").check(world.session("max-key"))
    # 403 is documented for every call (Technical Overview), not on this operation:
    assert len(world.spec.take("answer 403")) == 1


async def test_time_off_of_every_status_with_days_and_emails(world: World) -> None:
    ann = await world.request_off(5, "2026-11-23", "2026-11-24")  # Mon-Tue, 8 h each
    half = [{"ymd": "2026-11-25", "amount": 4}]
    max_ = await world.request_off(6, "2026-11-25", "2026-11-25", dates=half, status="requested")
    page = await world.source().changes(None, now=NOW, lookback=LOOKBACK)
    found = {r.external_id: r for r in page.requests}
    assert set(found) == {str(ann), str(max_)}
    assert found[str(ann)].email == "ann@example.com"
    assert found[str(ann)].status == "approved"
    assert found[str(ann)].days == {
        dt.date(2026, 11, 23): Decimal(8),
        dt.date(2026, 11, 24): Decimal(8),
    }
    assert (found[str(ann)].unit, found[str(ann)].amount) == ("hours", Decimal(16))
    assert found[str(max_)].status == "requested"
    assert found[str(max_)].days == {dt.date(2026, 11, 25): Decimal(4)}


async def test_a_cancellation_and_a_denial_are_seen_after_the_cursor(world: World) -> None:
    first = await world.request_off(5, "2026-11-23", "2026-11-24")
    second = await world.request_off(6, "2026-11-26", "2026-11-26", status="requested")
    page = await world.source().changes(None, now=NOW, lookback=LOOKBACK)
    assert len(page.requests) == 2
    world.state.today = lambda: TODAY + dt.timedelta(days=3)  # both change three days later
    later = NOW + dt.timedelta(days=3)
    repeated = await world.source().changes(page.cursor, now=later, lookback=LOOKBACK)
    assert len(repeated.requests) == 2  # changed on the cursor's day: seen again, not missed
    unchanged = await world.source().changes(repeated.cursor, now=later, lookback=LOOKBACK)
    assert [r.external_id for r in unchanged.requests] == []
    await world.set_status(first, "cancelled")
    await world.set_status(second, "declined")
    changed = await world.source().changes(unchanged.cursor, now=later, lookback=LOOKBACK)
    statuses = {r.external_id: r.status for r in changed.requests}
    assert statuses == {str(first): "canceled", str(second): "denied"}


async def test_days_units_and_a_superseding_request(world: World) -> None:
    leave = await world.request_off(6, "2026-11-30", "2026-12-04", timeOffTypeId=80)
    page = await world.source().changes(None, now=NOW, lookback=LOOKBACK)
    (request,) = page.requests
    assert (request.unit, request.amount, len(request.days)) == ("days", Decimal(5), 5)
    shorter = await world.request_off(
        6, "2026-11-30", "2026-12-01", timeOffTypeId=80, previousRequest=leave
    )
    again = await world.source().changes(None, now=NOW, lookback=LOOKBACK)
    assert {r.external_id: r.status for r in again.requests} == {
        str(leave): "canceled",
        str(shorter): "approved",
    }


async def test_throttling_is_waited_out(world: World) -> None:
    await world.request_off(5, "2026-11-23", "2026-11-23")
    world.faults.fail_next(2, status=503)  # BambooHR throttles with 503 (+ Retry-After)
    page = await world.source().changes(None, now=NOW, lookback=LOOKBACK)
    assert len(page.requests) == 1
    assert len(world.fake.sleeps) == 2  # each 503 was retried after a wait
    # BambooHR documents 503 for every call (Technical Overview), not per operation:
    assert len(world.spec.take("answer 503")) == 2


async def test_bamboohr_errors_have_no_body_and_say_why_in_a_header(world: World) -> None:
    headers = {"Authorization": basic_auth("ann-key"), "Accept": "application/json"}
    answer = await world.http.get(f"{BASE}/api/v1/time_off/requests", headers=headers)
    assert answer.status_code == 400
    assert answer.content == b""
    assert "start" in answer.headers["x-bamboohr-error-message"]
    world.spec.take("/time_off/requests")  # deliberately without the required dates
    denied = await world.http.get(
        f"{BASE}/api/v1/employees/0", headers={"Accept": "application/json"}
    )
    assert denied.status_code == 401
    world.spec.take("/employees/0")
