"""The conformance suite (``timebridge_providers.kit.conformance``) for ClickUp against its
sandbox, in-process, with every exchange validated against ClickUp's OpenAPI description; plus
what ClickUp adds: a running timer not synced until it stops, a suspended webhook revived, the
``X-Signature`` of a delivery, a member's token seeing only its own time, ClickUp's error body.

The :class:`ClickUpControl` is a ClickUp user working through API v2 with their own token.
ClickUp publishes no official Python SDK.
"""

import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from timebridge_providers.clickup.webhooks import sign, verify_signature
from timebridge_providers.installed import registry
from timebridge_providers.kit.conformance import SCENARIOS, NotOffered, Rig, Scenario, Work
from timebridge_providers.kit.conformance.rig import Captured
from timebridge_providers.kit.conformance.running import answering_client
from timebridge_providers.kit.ports.observe import RefusedError

from timebridge_common.events import TimeEntryFields
from timebridge_common.outbound.http import AuthenticationError
from timebridge_sandboxes.clickup import ClickUpState, create_clickup_sandbox, demo_clickup
from timebridge_sandboxes.clickup.spec import SPEC_NAME, ClickUpSpecCheck, clickup_openapi
from timebridge_sandboxes.testing import TimeoutTransport, provider_specs

TIMEOUT_S = 1.0
BASE = "http://clickup.test"


@dataclass
class Receiver:
    sent: list[Captured] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        def receive(request: httpx.Request) -> httpx.Response:
            self.sent.append(Captured(dict(request.headers), request.content))
            return httpx.Response(200)

        return httpx.MockTransport(receive)


@dataclass
class ClickUpControl:
    state: ClickUpState
    http: httpx.AsyncClient
    token: str
    receiver: Receiver

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = await self.http.request(
            method,
            f"{BASE}/api/v2{path}",
            json=body,
            headers={"Authorization": self.token, "Content-Type": "application/json"},
        )
        assert answer.is_success, answer.text
        return answer.json() if answer.content else None

    def count(self) -> int:
        return len(self.state.entries)

    async def add(self, fields: TimeEntryFields) -> str:
        assert fields.started_at is not None
        body = {
            "start": int(fields.started_at.timestamp() * 1000),
            "duration": fields.duration_seconds * 1000,
            "description": fields.notes,
            "billable": fields.billable,
            "assignee": int(fields.user.external_id),
            "tid": fields.task_external_id,
        }
        made = await self._call("POST", f"/team/{self.state.team_id}/time_entries", body)
        return str(made["data"]["id"])

    async def edit(self, external_id: str, notes: str) -> None:
        path = f"/team/{self.state.team_id}/time_entries/{external_id}"
        await self._call("PUT", path, {"description": notes, "tags": []})

    async def remove(self, external_id: str) -> None:
        await self._call("DELETE", f"/team/{self.state.team_id}/time_entries/{external_id}")

    async def lock(self, external_id: str) -> None:
        answer = await self.http.post(f"{BASE}/_sandbox/time_entries/{external_id}/lock")
        assert answer.is_success, answer.text

    def limit_pages(self, size: int) -> bool:
        return False  # ClickUp's time-entry listing is not paged

    async def deliveries(self) -> list[Captured]:
        return self.receiver.sent

    def sign(self, body: bytes, at: dt.datetime, *, secret: str | None = None) -> str:
        raise NotOffered("ClickUp deliveries are hints: the entry is re-read through the API")

    @property
    def webhook_secret(self) -> str:
        return ""

    @property
    def account(self) -> str:
        return str(self.state.team_id)


@dataclass
class Built:
    rig: Rig
    state: ClickUpState
    http: httpx.AsyncClient
    checker: ClickUpSpecCheck
    receiver: Receiver


async def clickup_rig() -> Built:
    state = demo_clickup("pk_conformance_ann", "pk_conformance_max")
    receiver = Receiver()
    app = create_clickup_sandbox(state, webhook_transport=receiver.transport())
    checker = ClickUpSpecCheck(
        TimeoutTransport(app, TIMEOUT_S), clickup_openapi(provider_specs(), BASE)
    )
    answers: list[int] = []

    http = answering_client(checker, answers)
    ann = next(u for u in state.users.values() if u.email == "ann@example.com")
    website = next(iter(state.lists.values()))
    task = next(iter(state.tasks.values()))
    control = ClickUpControl(state, http, ann.token, receiver)
    rig = Rig(
        provider=registry().get("clickup"),
        base_url=f"{BASE}/api",
        sandbox_url=BASE,
        credential=ann.token,
        http=http,
        control=control,
        work=Work(str(ann.id), ann.email, str(website.id), task.id, ann.timezone),
        extra={"team_id": str(state.team_id)},
        answers=answers,
    )
    return Built(rig, state, http, checker, receiver)


@pytest.fixture
async def built() -> AsyncIterator[Built]:
    if not (provider_specs() / SPEC_NAME).exists():
        pytest.skip(f"the provider specs are not at {provider_specs()}")
    made = await clickup_rig()
    yield made
    await made.http.aclose()
    assert made.checker.checked > 0
    assert made.checker.problems == [], "\n".join(made.checker.problems)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_clickup_conformance(built: Built, scenario: Scenario) -> None:
    await scenario(built.rig)  # ClickUp offers every capability: nothing may be NotOffered


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": token, "Content-Type": "application/json"}


async def test_a_running_timer_is_not_synced_until_it_stops(built: Built) -> None:
    rig, state = built.rig, built.state
    assert rig.provider.observe is not None
    observer = rig.provider.observe(rig.session())
    now = dt.datetime.now(dt.UTC)
    first = await observer.changes(None, now=now, lookback=dt.timedelta(days=1))
    path = f"{BASE}/api/v2/team/{state.team_id}/time_entries"
    started = await rig.http.post(
        f"{path}/start",
        json={"tid": rig.work.task_id, "description": "timer", "billable": True},
        headers=_headers(rig.credential),
    )
    assert started.status_code == 200, started.text
    timer = started.json()["data"]["id"]
    assert int(started.json()["data"]["duration"]) < 0, "a running timer's duration is negative"
    running = await observer.changes(first.cursor, now=now, lookback=dt.timedelta(days=1))
    assert [c for c in running.changes if c.external_id == timer] == []
    state.entries[timer].start -= 1_800_000  # it has been running for half an hour
    stopped = await rig.http.post(f"{path}/stop", headers=_headers(rig.credential))
    assert stopped.status_code == 200, stopped.text
    after = await observer.changes(running.cursor, now=now, lookback=dt.timedelta(days=1))
    [change] = [c for c in after.changes if c.external_id == timer]
    assert 1800 <= change.fields.duration_seconds < 1860
    assert change.fields.billable
    assert not change.deleted
    again = await rig.http.post(f"{path}/stop", headers=_headers(rig.credential))
    assert again.status_code == 400, "no timer running"


async def test_a_members_token_sees_its_own_time_only(built: Built) -> None:
    rig, state = built.rig, built.state
    max_ = next(u for u in state.users.values() if u.email == "max@example.com")
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    anns = await rig.control.add(rig.fields(day, dt.time(9), 600, "ann's"))
    member = Rig(**{**vars(rig), "credential": max_.token})
    before = len(rig.answers)
    assert member.provider.observe is not None
    page = await member.provider.observe(member.session()).changes(
        None, now=dt.datetime.now(dt.UTC), lookback=dt.timedelta(days=3)
    )
    assert anns not in {c.external_id for c in page.changes}, "a member lists only its own"
    assert 401 in rig.answers[before:], "the listing of everyone's time was refused first"


async def test_a_suspended_webhook_is_revived_and_deliveries_are_signed(built: Built) -> None:
    rig, state = built.rig, built.state
    assert rig.provider.observe is not None
    hooks = rig.provider.observe(rig.session()).hooks
    assert hooks is not None
    hook = await hooks.register("https://receiver.test/v1/webhooks/clickup/secret-path")
    await rig.control.add(rig.fields(dt.date(2026, 11, 9), dt.time(9), 900, "signed"))
    delivery = built.receiver.sent[-1]
    verify_signature(
        state.hooks[hook.hook_id].secret, delivery.headers["x-signature"], delivery.body
    )
    with pytest.raises(RefusedError):
        verify_signature("wrong", delivery.headers["x-signature"], delivery.body)
    assert sign(state.hooks[hook.hook_id].secret, delivery.body) == delivery.headers["x-signature"]
    suspended = await rig.http.post(f"{BASE}/_sandbox/webhooks/{hook.hook_id}/suspend")
    assert suspended.is_success
    sent = len(built.receiver.sent)
    await rig.control.add(rig.fields(dt.date(2026, 11, 9), dt.time(11), 900, "unsent"))
    assert len(built.receiver.sent) == sent, "a suspended hook is not called"
    revived = await hooks.ensure_active(hook.hook_id)
    assert revived is not None
    assert revived.active
    assert revived.hook_id == hook.hook_id
    await hooks.delete(hook.hook_id)
    assert await hooks.ensure_active(hook.hook_id) is None


async def test_a_bad_token_is_refused_in_clickups_error_shape(built: Built) -> None:
    rig = built.rig
    bad = Rig(**{**vars(rig), "credential": "pk_not_a_token"})
    with pytest.raises(AuthenticationError) as refused:
        await bad.provider.check(bad.session())
    assert json.loads(refused.value.body) == {"err": "Token invalid", "ECODE": "OAUTH_025"}
    answer = await rig.http.post(
        f"{BASE}/api/v2/team/{built.state.team_id}/time_entries",
        content=b'{"start": "\\u0000"',
        headers=_headers(rig.credential),
    )
    assert answer.status_code == 400, "bad bytes are a 4xx in ClickUp's shape, never a 500"
    assert set(answer.json()) == {"err", "ECODE"}
    assert built.checker.take("RequestBodyValidationError"), "the spec refuses that body too"
    assert built.state.entries == {}


async def test_a_lists_tasks_are_followed_page_by_page_and_one_is_created(built: Built) -> None:
    rig, state = built.rig, built.state
    website = next(iter(state.lists.values()))
    for n in range(4):
        state.add_task(website, f"extra {n}")
    state.task_page = 2  # ClickUp answers 100 a page; two here, so three pages
    assert rig.provider.directory is not None
    directory = rig.provider.directory(rig.session())
    names = [t.name async for t in directory.tasks(rig.work.project_id)]
    assert names == ["Fix the login page", "extra 0", "extra 1", "extra 2", "extra 3"]
    made = await directory.create_task(rig.work.project_id, name="New", description="why")
    assert made.project_ids == (rig.work.project_id,)
    assert (await directory.task(made.external_id)).description == "why"
