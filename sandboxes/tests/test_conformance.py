"""The conformance suite (``timebridge_providers.kit.conformance``) for every tracker provider
against its sandbox, in-process: Harvest (on a duration and a timestamp account, every request and
answer validated against Harvest's OpenAPI description), Everhour and Core.

Each provider's :class:`Control` plays a person using the provider directly: through the
provider's own API with their credential (Harvest, Everhour) or the sandbox's UI routes (Core,
whose entries people make in Core's UI).
"""

import datetime as dt
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from timebridge_providers.installed import registry
from timebridge_providers.kit.conformance import SCENARIOS, NotOffered, Rig, Scenario, Work
from timebridge_providers.kit.conformance.rig import Captured
from timebridge_providers.kit.conformance.running import answering_client
from timebridge_providers.kit.ports.observe import webhooks_of

from timebridge_common.events import TimeEntryFields
from timebridge_sandboxes.__main__ import demo_core, demo_everhour
from timebridge_sandboxes.core import CoreState, Subscription, Webhooks, create_core_sandbox
from timebridge_sandboxes.everhour import EverhourState, create_everhour_sandbox
from timebridge_sandboxes.harvest import create_harvest_sandbox, demo_harvest
from timebridge_sandboxes.harvest_openapi import SpecCheckingTransport, harvest_openapi
from timebridge_sandboxes.harvest_state import HarvestState
from timebridge_sandboxes.testing import TimeoutTransport, provider_specs

TIMEOUT_S = 1.0
"""How long a client waits for an answer; a lost answer is held for longer."""


@dataclass
class HarvestControl:
    """A Harvest user working in their account through Harvest's API with their own token."""

    state: HarvestState
    http: httpx.AsyncClient
    base_url: str
    token: str

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "Harvest-Account-Id": self.state.account_id,
            "User-Agent": "Conformance (tests@example.com)",
        }

    def count(self) -> int:
        return len(self.state.entries)

    async def add(self, fields: TimeEntryFields) -> str:
        body = {
            "project_id": int(fields.project_external_id or 0),
            "task_id": int(fields.task_external_id or 0),
            "spent_date": fields.date.isoformat(),
            "hours": round(fields.duration_seconds / 3600, 4),
            "notes": fields.notes,
        }
        answer = await self.http.post(
            f"{self.base_url}/v2/time_entries", json=body, headers=self._headers()
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    async def edit(self, external_id: str, notes: str) -> None:
        answer = await self.http.patch(
            f"{self.base_url}/v2/time_entries/{external_id}",
            json={"notes": notes},
            headers=self._headers(),
        )
        assert answer.status_code == 200, answer.text

    async def remove(self, external_id: str) -> None:
        answer = await self.http.delete(
            f"{self.base_url}/v2/time_entries/{external_id}", headers=self._headers()
        )
        assert answer.status_code == 200, answer.text

    async def lock(self, external_id: str) -> None:
        self.state.lock(int(external_id))  # a manager approved the timesheet

    def limit_pages(self, size: int) -> bool:
        self.state.page_cap = size
        return True

    async def deliveries(self) -> list[Captured]:
        raise NotOffered("Harvest sends no webhooks")

    def sign(self, body: bytes, at: dt.datetime, *, secret: str | None = None) -> str:
        raise NotOffered("Harvest sends no webhooks")

    @property
    def webhook_secret(self) -> str:
        return ""

    @property
    def account(self) -> str:
        return self.state.account_id


@dataclass
class Built:
    rig: Rig
    checks: list[Callable[[], None]] = field(default_factory=list)
    closers: list[httpx.AsyncClient] = field(default_factory=list)


async def harvest_rig(*, timestamps: bool) -> Built:
    state = demo_harvest("conformance-token", "conformance-member-token", "1000001")
    state.wants_timestamp_timers = timestamps
    base_url = "http://harvest.test"
    checker = SpecCheckingTransport(
        TimeoutTransport(create_harvest_sandbox(state), TIMEOUT_S),
        harvest_openapi(provider_specs(), base_url),
    )
    answers: list[int] = []
    http = answering_client(checker, answers)
    ann = next(u for u in state.users.values() if u.email == "ann@example.com")
    project = next(iter(state.projects.values()))
    task = next(t for t in state.tasks.values() if t.name == "Fix the login page")
    control = HarvestControl(state, http, base_url, ann.token)
    rig = Rig(
        provider=registry().get("harvest"),
        base_url=f"{base_url}/v2",
        sandbox_url=base_url,
        credential=ann.token,
        http=http,
        control=control,
        work=Work(str(ann.id), ann.email, str(project.id), str(task.id), "Europe/Berlin"),
        extra={"Harvest-Account-Id": state.account_id},
        answers=answers,
    )

    def spec_clean() -> None:
        assert checker.checked > 0
        assert checker.problems == [], "\n".join(checker.problems)

    return Built(rig, [spec_clean], [http])


@dataclass
class Capture:
    """Receives a sandbox's webhooks in-process; answers a registration handshake as the
    provider's intake says to."""

    provider: str
    sent: list[Captured] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        intake = webhooks_of(registry().get(self.provider).observe)

        def receive(request: httpx.Request) -> httpx.Response:
            reply = None
            if intake is not None and intake.scheme == "hint":
                reply = intake.handshake(dict(request.headers))
            if reply is not None:
                return httpx.Response(200, headers=reply)
            self.sent.append(Captured(dict(request.headers), request.content))
            return httpx.Response(200)

        return httpx.MockTransport(receive)


@dataclass
class EverhourControl:
    """An Everhour user logging time through Everhour's API with their own key."""

    state: EverhourState
    http: httpx.AsyncClient
    base_url: str
    api_key: str
    capture: Capture

    async def _call(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        answer = await self.http.request(
            method, f"{self.base_url}{path}", json=body, headers={"X-Api-Key": self.api_key}
        )
        assert answer.is_success, answer.text
        return answer.json() if answer.content else {}

    def count(self) -> int:
        return sum(1 for r in self.state.records.values() if r.time > 0)

    async def add(self, fields: TimeEntryFields) -> str:
        body = {
            "time": fields.duration_seconds,
            "date": fields.date.isoformat(),
            "user": int(fields.user.external_id),
            "comment": fields.notes,
        }
        record = await self._call("POST", f"/tasks/{fields.task_external_id}/time", body)
        return str(record["id"])

    async def edit(self, external_id: str, notes: str) -> None:
        record = self.state.records[int(external_id)]
        body = {
            "time": record.time,
            "date": record.date.isoformat(),
            "user": record.user,
            "comment": notes,
        }
        await self._call("PUT", f"/tasks/{record.task}/time", body)

    async def remove(self, external_id: str) -> None:
        record = self.state.records[int(external_id)]
        body = {"date": record.date.isoformat(), "user": record.user}
        await self._call("DELETE", f"/tasks/{record.task}/time", body)

    async def lock(self, external_id: str) -> None:
        answer = await self.http.post(f"{self.base_url}/_sandbox/time/{external_id}/lock")
        assert answer.is_success, answer.text

    def limit_pages(self, size: int) -> bool:
        return False  # Everhour's client sets the page size (the last page is the short one)

    async def deliveries(self) -> list[Captured]:
        return self.capture.sent

    def sign(self, body: bytes, at: dt.datetime, *, secret: str | None = None) -> str:
        raise NotOffered("Everhour does not sign deliveries")

    @property
    def webhook_secret(self) -> str:
        return ""

    @property
    def account(self) -> str:
        return ""


async def everhour_rig() -> Built:
    capture = Capture("everhour")
    state = demo_everhour("conformance-everhour-key", "conformance-everhour-member")
    app = create_everhour_sandbox(state, webhook_transport=capture.transport())
    answers: list[int] = []
    http = answering_client(TimeoutTransport(app, TIMEOUT_S), answers)
    base_url = "http://everhour.test"
    ann = next(u for u in state.users.values() if u.email == "ann@example.com")
    ann.timezone = 2  # Everhour gives a UTC offset in hours; the translation reads Etc/GMT-2
    task = next(iter(state.tasks.values()))
    control = EverhourControl(state, http, base_url, ann.api_key, capture)
    rig = Rig(
        provider=registry().get("everhour"),
        base_url=base_url,
        credential=ann.api_key,
        http=http,
        control=control,
        work=Work(str(ann.id), ann.email, task.project, task.id, "Etc/GMT-2"),
        answers=answers,
    )
    return Built(rig, [], [http])


@dataclass
class CoreControl:
    """A Core user working in Core's own UI (the sandbox's ``/_sandbox`` routes)."""

    state: CoreState
    http: httpx.AsyncClient
    base_url: str
    workspace: str
    webhooks: Webhooks
    capture: Capture

    def count(self) -> int:
        return sum(1 for e in self.state.entries.values() if e.deleted_at is None)

    async def add(self, fields: TimeEntryFields) -> str:
        body = {
            "user_id": fields.user.external_id,
            "project_id": fields.project_external_id,
            "ticket_id": fields.task_external_id,
            "date": fields.date.isoformat(),
            "started_at": fields.started_at.isoformat() if fields.started_at else None,
            "duration_seconds": fields.duration_seconds,
            "notes": fields.notes,
            "billable": fields.billable,
            "timezone": fields.timezone,
        }
        url = f"{self.base_url}/_sandbox/workspaces/{self.workspace}/time-entries"
        answer = await self.http.post(url, json=body)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    async def edit(self, external_id: str, notes: str) -> None:
        url = f"{self.base_url}/_sandbox/time-entries/{external_id}"
        answer = await self.http.patch(url, json={"notes": notes})
        assert answer.is_success, answer.text

    async def remove(self, external_id: str) -> None:
        answer = await self.http.delete(f"{self.base_url}/_sandbox/time-entries/{external_id}")
        assert answer.is_success, answer.text

    async def lock(self, external_id: str) -> None:
        answer = await self.http.post(f"{self.base_url}/_sandbox/time-entries/{external_id}/lock")
        assert answer.is_success, answer.text

    def limit_pages(self, size: int) -> bool:
        self.state.page_cap = size
        return True

    async def deliveries(self) -> list[Captured]:
        await self.webhooks.drain()
        return self.capture.sent

    def sign(self, body: bytes, at: dt.datetime, *, secret: str | None = None) -> str:
        subscription = Subscription("https://receiver.test/", secret or self.webhook_secret)
        return subscription.signature(int(at.timestamp()), body)

    @property
    def webhook_secret(self) -> str:
        return self.state.webhooks[self.workspace].secret

    @property
    def account(self) -> str:
        return self.workspace


async def core_rig() -> Built:
    capture = Capture("core")
    state, tokens = demo_core("conformance")
    state.webhooks["conformance"] = Subscription(
        "https://receiver.test/v1/webhooks/core/conformance", "conformance-secret"
    )
    webhooks = Webhooks(transport=capture.transport())
    app = create_core_sandbox(state, webhooks=webhooks)
    answers: list[int] = []
    http = answering_client(TimeoutTransport(app, TIMEOUT_S), answers)
    base_url = "http://core.test"
    ann = next(u for u in state.users.values() if u.email == "ann@example.com")
    project = next(iter(state.projects.values()))
    ticket = next(iter(state.tickets.values()))
    control = CoreControl(state, http, base_url, "conformance", webhooks, capture)
    rig = Rig(
        provider=registry().get("core"),
        base_url=base_url,
        credential=tokens["admin"],
        http=http,
        control=control,
        work=Work(ann.id, ann.email, project.id, ticket.id, "Europe/Berlin"),
        source="harvest",
        answers=answers,
    )
    return Built(rig, [], [http])


BUILDERS: dict[str, Callable[[], Any]] = {
    "harvest": lambda: harvest_rig(timestamps=False),
    "harvest-timestamps": lambda: harvest_rig(timestamps=True),
    "everhour": everhour_rig,
    "core": core_rig,
}


@pytest.fixture(params=sorted(BUILDERS))
async def built(request: pytest.FixtureRequest) -> AsyncIterator[Built]:
    specs = provider_specs() / "harvest-v2-openapi.yaml"
    if request.param.startswith("harvest") and not specs.exists():
        pytest.skip(f"the provider specs are not at {provider_specs()}")
    made: Built = await BUILDERS[request.param]()
    yield made
    for client in made.closers:
        await client.aclose()


NOT_OFFERED = {
    ("harvest", "webhook_signatures"),  # Harvest has no webhooks: it is polled
    ("everhour", "provider_report_sums_the_time_logged"),
    ("core", "provider_report_sums_the_time_logged"),
}
"""What each provider does not offer, on purpose: any other skip is a capability lost."""


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_conformance(built: Built, scenario: Scenario) -> None:
    try:
        await scenario(built.rig)
    except NotOffered as reason:
        if (built.rig.provider.name, scenario.__name__) not in NOT_OFFERED:
            raise AssertionError(f"not offered any more: {reason}") from None
        pytest.skip(str(reason))
    for check in built.checks:
        check()


RIGS_ELSEWHERE = {"toggl", "clockify"}
"""Trackers whose rig lives in a test file of their own (``test_<name>_conformance.py``)."""


def test_every_tracker_has_a_rig() -> None:
    """Every installed tracker runs the suite: with a builder in BUILDERS here, or in its own
    ``test_<name>_conformance.py`` beside this file (a Control for its sandbox, SCENARIOS run on
    its rig, its on-purpose gaps named)."""
    trackers = {p.name for p in registry() if p.profile.kind != "accounting"}
    covered = {name.split("-")[0] for name in BUILDERS} | RIGS_ELSEWHERE
    here = Path(__file__).parent
    missing = sorted(
        t for t in trackers - covered if not (here / f"test_{t}_conformance.py").exists()
    )
    assert not missing, f"no conformance rig for {missing}"
    assert webhooks_of(registry().get("harvest").observe) is None
