"""The conformance suite for Clockify against its sandbox, in-process, every request and answer
validated against Clockify's OpenAPI description (``clockify-v1-openapi.yaml``).

The :class:`ClockifyControl` is a Clockify user working through Clockify's API with their own key.
Clockify publishes no official Python SDK (its SDK is TypeScript), so our client is the only one.
Its webhooks carry ``Clockify-Signature: <the webhook's token>`` (no signature over the body or a
time), so they are hints: the conformance suite's ``hint`` scheme runs (register, deliver, a
forged body changes nothing because the entry is re-read).
"""

import datetime as dt
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from timebridge_providers.clockify.translate import format_duration, parse_duration
from timebridge_providers.clockify.webhooks import token_matches
from timebridge_providers.installed import registry
from timebridge_providers.kit.conformance import SCENARIOS, NotOffered, Rig, Scenario, Work
from timebridge_providers.kit.conformance.rig import Captured
from timebridge_providers.kit.conformance.running import answering_client, run

from timebridge_common.events import TimeEntryFields
from timebridge_sandboxes.clockify import ClockifyState, create_clockify_sandbox, demo_clockify
from timebridge_sandboxes.clockify.spec import SPEC_NAME, SpecCheckingTransport, clockify_openapi
from timebridge_sandboxes.testing import TimeoutTransport, provider_specs

TIMEOUT_S = 1.0
BASE = "http://clockify.test"


@dataclass
class ClockifyControl:
    state: ClockifyState
    http: httpx.AsyncClient
    api_key: str
    sent: list[Captured] = field(default_factory=list)

    def receiver(self) -> httpx.MockTransport:
        def receive(request: httpx.Request) -> httpx.Response:
            self.sent.append(Captured(dict(request.headers), request.content))
            return httpx.Response(200)

        return httpx.MockTransport(receive)

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = await self.http.request(
            method, f"{BASE}/api/v1{path}", json=body, headers={"X-Api-Key": self.api_key}
        )
        assert answer.is_success, answer.text
        return answer.json() if answer.content else None

    def count(self) -> int:
        return len(self.state.entries)

    async def add(self, fields: TimeEntryFields) -> str:
        assert fields.started_at is not None
        end = fields.started_at + dt.timedelta(seconds=fields.duration_seconds)
        body = {
            "start": fields.started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "description": fields.notes,
            "projectId": fields.project_external_id,
            "taskId": fields.task_external_id,
            "billable": fields.billable,
        }
        made = await self._call("POST", f"/workspaces/{self.state.workspace_id}/time-entries", body)
        return str(made["id"])

    async def edit(self, external_id: str, notes: str) -> None:
        path = f"/workspaces/{self.state.workspace_id}/time-entries/{external_id}"
        current = await self._call("GET", path)
        body = {
            "start": current["timeInterval"]["start"],
            "end": current["timeInterval"]["end"],
            "description": notes,
            "projectId": current.get("projectId"),
            "taskId": current.get("taskId"),
            "billable": current["billable"],
        }
        await self._call("PUT", path, body)

    async def remove(self, external_id: str) -> None:
        await self._call(
            "DELETE", f"/workspaces/{self.state.workspace_id}/time-entries/{external_id}"
        )

    async def lock(self, external_id: str) -> None:
        answer = await self.http.post(f"{BASE}/_sandbox/time-entries/{external_id}/lock")
        assert answer.is_success, answer.text

    def limit_pages(self, size: int) -> bool:
        self.state.page_cap = size
        return True

    async def deliveries(self) -> list[Captured]:
        return self.sent

    def sign(self, body: bytes, at: dt.datetime, *, secret: str | None = None) -> str:
        raise NotOffered("Clockify does not sign deliveries: they are hints, re-read")

    @property
    def webhook_secret(self) -> str:
        return ""

    @property
    def account(self) -> str:
        return self.state.workspace_id


@dataclass
class Built:
    rig: Rig
    http: httpx.AsyncClient
    checks: list[Callable[[], None]] = field(default_factory=list)


async def clockify_rig() -> Built:
    state = demo_clockify("conformance-clockify-key", "conformance-clockify-member")
    ann = next(u for u in state.users.values() if u.email == "ann@example.com")
    control = ClockifyControl(state, httpx.AsyncClient(), ann.api_key)
    app = create_clockify_sandbox(state, webhook_transport=control.receiver())
    checker = SpecCheckingTransport(
        TimeoutTransport(app, TIMEOUT_S),
        clockify_openapi(provider_specs(), BASE),
    )
    answers: list[int] = []

    http = answering_client(checker, answers)
    control.http = http
    project = next(iter(state.projects.values()))
    task = next(iter(state.tasks.values()))
    rig = Rig(
        provider=registry().get("clockify"),
        base_url=f"{BASE}/api/v1",
        sandbox_url=BASE,
        credential=ann.api_key,
        http=http,
        control=control,
        work=Work(ann.id, ann.email, project.id, task.id, ann.time_zone),
        extra={"workspace_id": state.workspace_id},
        answers=answers,
    )

    def spec_clean() -> None:
        assert checker.checked > 0
        # The description documents no error answers: a 4xx/5xx is judged by Clockify's
        # documented error body (``{"message", "code"}``) in the client, not by the file.
        undocumented = re.compile(r"ResponseNotFound\(http_status='[45]\d\d'")
        problems = [p for p in checker.problems if not undocumented.search(p)]
        assert problems == [], "\n".join(problems)

    return Built(rig, http, [spec_clean])


@pytest.fixture
async def built() -> AsyncIterator[Built]:
    if not (provider_specs() / SPEC_NAME).exists():
        pytest.skip(f"the provider specs are not at {provider_specs()}")
    made = await clockify_rig()
    yield made
    await made.http.aclose()


NOT_OFFERED: set[str] = set()


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_clockify_conformance(built: Built, scenario: Scenario) -> None:
    if reason := await run(scenario, built.rig, NOT_OFFERED):
        pytest.skip(reason)
    for check in built.checks:
        check()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("PT1H30M", 5400), ("PT45S", 45), ("PT0S", 0), ("P1DT2H", 93600), ("PT2H0M1S", 7201)],
)
def test_iso_8601_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


def test_a_bad_duration_is_refused() -> None:
    for text in ("1:30", "PT", "P", "PT1.5", ""):
        with pytest.raises(ValueError, match="ISO 8601"):
            parse_duration(text)


async def test_errors_are_clockifys_body_and_a_bad_parameter_is_400(built: Built) -> None:
    state = built.rig.control.state  # type: ignore[attr-defined]
    http = built.http
    bad_key = await http.get(f"{BASE}/api/v1/user", headers={"X-Api-Key": "wrong"})
    assert bad_key.status_code == 401
    assert set(bad_key.json()) == {"message", "code"}
    path = f"{BASE}/api/v1/workspaces/{state.workspace_id}/user/{built.rig.work.user_id}"
    bad_page = await http.get(
        f"{path}/time-entries",
        params={"page-size": "zero"},
        headers={"X-Api-Key": built.rig.credential},
    )
    assert bad_page.status_code == 400, bad_page.text
    assert set(bad_page.json()) == {"message", "code"}


async def test_deliveries_carry_the_webhooks_token(built: Built) -> None:
    rig = built.rig
    assert rig.provider.observe is not None
    hooks = rig.provider.observe(rig.session()).hooks
    assert hooks is not None
    state = await hooks.register("https://receiver.test/v1/webhooks/clockify/secret")
    listed = await built.http.get(
        f"{BASE}/api/v1/workspaces/{rig.extra['workspace_id']}/webhooks",
        headers={"X-Api-Key": rig.credential},
    )
    tokens = {h["webhookEvent"]: h["authToken"] for h in listed.json()["webhooks"]}
    await rig.control.add(rig.fields(dt.date(2026, 11, 9), dt.time(9), 600, "hooked"))
    delivered = (await rig.control.deliveries())[-1]
    assert delivered.headers["clockify-webhook-event-type"] == "NEW_TIME_ENTRY"
    assert token_matches(delivered.headers, tokens["NEW_TIME_ENTRY"])
    assert not token_matches(delivered.headers, tokens["TIME_ENTRY_DELETED"])
    assert (await hooks.ensure_active(state.hook_id)) == state
    await hooks.delete(state.hook_id)
    assert await hooks.ensure_active(state.hook_id) is None


async def test_an_admins_poll_sees_every_members_time_in_their_zone(built: Built) -> None:
    rig = built.rig
    state = rig.control.state  # type: ignore[attr-defined]
    max_ = next(u for u in state.users.values() if u.email == "max@example.com")
    assert rig.provider.observe is not None
    observer = rig.provider.observe(rig.session())
    now = dt.datetime.now(dt.UTC)
    first = await observer.changes(None, now=now, lookback=dt.timedelta(days=7))
    # 23:30 in New York on the day before yesterday: already the next day in UTC.
    day = (now - dt.timedelta(days=2)).date()
    late = dt.datetime.combine(day, dt.time(23, 30), tzinfo=ZoneInfo("America/New_York"))
    made = await built.http.post(
        f"{BASE}/api/v1/workspaces/{state.workspace_id}/time-entries",
        json={
            "start": late.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": (late + dt.timedelta(hours=1)).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "description": "Max's evening",
        },
        headers={"X-Api-Key": max_.api_key},
    )
    assert made.status_code == 201, made.text
    second = await observer.changes(first.cursor, now=now, lookback=dt.timedelta(days=7))
    [change] = [c for c in second.changes if c.external_id == made.json()["id"]]
    assert change.fields.user.external_id == max_.id
    assert change.fields.timezone == "America/New_York"
    assert change.fields.date == day, "the date in the member's own zone"
    assert change.fields.duration_seconds == 3600
