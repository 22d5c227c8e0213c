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
from typing import Any

import httpx
import pytest
from timebridge_providers.installed import registry
from timebridge_providers.kit.conformance import SCENARIOS, NotOffered, Rig, Scenario, Work
from timebridge_providers.kit.conformance.rig import Captured
from timebridge_providers.kit.ports.observe import webhooks_of

from timebridge_common.events import TimeEntryFields
from timebridge_sandboxes.harvest import create_harvest_sandbox, demo_harvest
from timebridge_sandboxes.harvest_openapi import SpecCheckingTransport, harvest_openapi
from timebridge_sandboxes.harvest_state import HarvestState
from timebridge_sandboxes.testing import TimeoutTransport, provider_specs

TIMEOUT_S = 1.0
"""How long a client waits for an answer; a lost answer is held for longer."""


def recording(transport: httpx.AsyncBaseTransport, answers: list[int]) -> httpx.AsyncClient:
    async def on_response(response: httpx.Response) -> None:
        if not response.request.url.path.startswith("/_sandbox"):
            answers.append(response.status_code)

    return httpx.AsyncClient(transport=transport, event_hooks={"response": [on_response]})


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
    http = recording(checker, answers)
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


BUILDERS: dict[str, Callable[[], Any]] = {
    "harvest": lambda: harvest_rig(timestamps=False),
    "harvest-timestamps": lambda: harvest_rig(timestamps=True),
}


@pytest.fixture(params=sorted(BUILDERS))
async def built(request: pytest.FixtureRequest) -> AsyncIterator[Built]:
    if not (provider_specs() / "harvest-v2-openapi.yaml").exists():
        pytest.skip(f"the provider specs are not at {provider_specs()}")
    made: Built = await BUILDERS[request.param]()
    yield made
    for client in made.closers:
        await client.aclose()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_conformance(built: Built, scenario: Scenario) -> None:
    try:
        await scenario(built.rig)
    except NotOffered as reason:
        pytest.skip(str(reason))
    for check in built.checks:
        check()


def test_every_tracker_has_a_rig() -> None:
    trackers = {p.name for p in registry() if p.profile.kind != "accounting"}
    covered = {name.split("-")[0] for name in BUILDERS}
    assert trackers <= covered | {"everhour", "core"}, trackers - covered
    assert webhooks_of(registry().get("harvest").observe) is None
