"""The conformance suite (``timebridge_providers.kit.conformance``) for Toggl Track against its
sandbox, in-process; plus what Toggl adds: the validation ping of a new webhook subscription, the
hourly quota's ``402`` waited out, a running timer not synced until it stops.

The :class:`TogglControl` is a Toggl user working through Toggl's API v9 with their own token.
No OpenAPI description of Toggl is published (so nothing to validate against), and Toggl has no
official Python SDK (the community TogglPy speaks the retired API v8).
"""

import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from timebridge_providers.installed import registry
from timebridge_providers.kit.conformance import SCENARIOS, NotOffered, Rig, Scenario, Work
from timebridge_providers.kit.conformance.rig import Captured
from timebridge_providers.kit.conformance.running import answering_client, run
from timebridge_providers.kit.ports.entries import Slot, Write
from timebridge_providers.toggl import people
from timebridge_providers.toggl.client import TogglClient
from timebridge_providers.toggl.webhooks import validation_code

from timebridge_common.errors import TransientError
from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_sandboxes.faults import RateLimit
from timebridge_sandboxes.testing import TimeoutTransport
from timebridge_sandboxes.toggl import TogglState, create_toggl_sandbox, demo_toggl

TIMEOUT_S = 1.0
BASE = "http://toggl.test"


@dataclass
class Receiver:
    """Our webhook endpoint, in-process: answers the validation ping with its code."""

    sent: list[Captured] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        def receive(request: httpx.Request) -> httpx.Response:
            code = validation_code(request.content)
            if code is not None:
                return httpx.Response(200, json={"validation_code": code})
            self.sent.append(Captured(dict(request.headers), request.content))
            return httpx.Response(200)

        return httpx.MockTransport(receive)


@dataclass
class TogglControl:
    state: TogglState
    http: httpx.AsyncClient
    token: str
    receiver: Receiver
    secret: str

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = await self.http.request(
            method, f"{BASE}/api/v9{path}", json=body, auth=(self.token, "api_token")
        )
        assert answer.is_success, answer.text
        return answer.json() if answer.content else None

    def count(self) -> int:
        return len(self.state.live())

    async def add(self, fields: TimeEntryFields) -> str:
        assert fields.started_at is not None
        body = {
            "created_with": "Toggl Track web",
            "workspace_id": self.state.workspace_id,
            "start": fields.started_at.isoformat(),
            "duration": fields.duration_seconds,
            "description": fields.notes,
            "project_id": int(fields.project_external_id or 0),
            "task_id": int(fields.task_external_id or 0),
            "billable": fields.billable,
            "tags": ["conformance"],
        }
        made = await self._call("POST", f"/workspaces/{self.state.workspace_id}/time_entries", body)
        return str(made["id"])

    async def edit(self, external_id: str, notes: str) -> None:
        path = f"/workspaces/{self.state.workspace_id}/time_entries/{external_id}"
        await self._call("PUT", path, {"description": notes})

    async def remove(self, external_id: str) -> None:
        await self._call(
            "DELETE", f"/workspaces/{self.state.workspace_id}/time_entries/{external_id}"
        )

    async def lock(self, external_id: str) -> None:
        answer = await self.http.post(f"{BASE}/_sandbox/time_entries/{external_id}/lock")
        assert answer.is_success, answer.text

    def limit_pages(self, size: int) -> bool:
        return False  # /me/time_entries is not paged

    async def deliveries(self) -> list[Captured]:
        return self.receiver.sent

    def sign(self, body: bytes, at: dt.datetime, *, secret: str | None = None) -> str:
        raise NotOffered(
            "Toggl signs only the body (no signed time): a stale delivery is one whose own "
            "timestamp is old, tested in libs/providers/tests/test_toggl_webhooks.py"
        )

    @property
    def webhook_secret(self) -> str:
        return self.secret

    @property
    def account(self) -> str:
        return str(self.state.workspace_id)


@dataclass
class Built:
    rig: Rig
    state: TogglState
    http: httpx.AsyncClient


async def toggl_rig(quota: RateLimit | None = None) -> Built:
    state = demo_toggl("conformance-toggl-token", "conformance-toggl-member")
    receiver = Receiver()
    app = create_toggl_sandbox(state, quota=quota, webhook_transport=receiver.transport())
    answers: list[int] = []

    http = answering_client(TimeoutTransport(app, TIMEOUT_S), answers)
    ann = next(u for u in state.users.values() if u.email == "ann@example.com")
    subscribed = await http.post(
        f"{BASE}/webhooks/api/v1/subscriptions/{state.workspace_id}",
        json={
            "url_callback": "https://receiver.test/v1/webhooks/toggl/conformance",
            "event_filters": [{"entity": "time_entry", "action": "*"}],
            "secret": "conformance-toggl-secret",
            "enabled": True,
        },
        auth=(ann.token, "api_token"),
    )
    assert subscribed.status_code == 200, subscribed.text
    assert subscribed.json()["validated_at"], "the validation ping was answered with its code"
    project = next(iter(state.projects.values()))
    task = next(iter(state.tasks.values()))
    control = TogglControl(state, http, ann.token, receiver, "conformance-toggl-secret")
    rig = Rig(
        provider=registry().get("toggl"),
        base_url=f"{BASE}/api/v9",
        sandbox_url=BASE,
        credential=ann.token,
        http=http,
        control=control,
        work=Work(str(ann.id), ann.email, str(project.id), str(task.id), ann.timezone),
        extra={"workspace_id": str(state.workspace_id)},
        answers=answers,
    )
    return Built(rig, state, http)


@pytest.fixture
async def built() -> AsyncIterator[Built]:
    made = await toggl_rig()
    yield made
    await made.http.aclose()


NOT_OFFERED = {"webhook_signatures"}
"""Reached only after the good, bad-body and bad-secret deliveries passed (see ``sign``)."""


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_toggl_conformance(built: Built, scenario: Scenario) -> None:
    if reason := await run(scenario, built.rig, NOT_OFFERED):
        pytest.skip(reason)


async def test_a_running_timer_is_not_synced_until_it_stops(built: Built) -> None:
    rig, state = built.rig, built.state
    assert rig.provider.observe is not None
    observer = rig.provider.observe(rig.session())
    now = dt.datetime.now(dt.UTC)
    first = await observer.changes(None, now=now, lookback=dt.timedelta(days=1))
    ann = rig.credential
    wid = state.workspace_id
    started = await rig.http.post(
        f"{BASE}/api/v9/workspaces/{wid}/time_entries",
        json={
            "created_with": "Toggl Track web",
            "start": (now - dt.timedelta(minutes=30)).isoformat(),
            "duration": -1,
            "description": "timer",
        },
        auth=(ann, "api_token"),
    )
    assert started.status_code == 200, started.text
    assert started.json()["duration"] < 0, "a running timer's duration is negative"
    running = await observer.changes(first.cursor, now=now, lookback=dt.timedelta(days=1))
    assert [c for c in running.changes if c.external_id == str(started.json()["id"])] == []
    stopped = await rig.http.patch(
        f"{BASE}/api/v9/workspaces/{wid}/time_entries/{started.json()['id']}/stop",
        auth=(ann, "api_token"),
    )
    assert stopped.status_code == 200, stopped.text
    after = await observer.changes(running.cursor, now=now, lookback=dt.timedelta(days=1))
    [change] = [c for c in after.changes if c.external_id == str(started.json()["id"])]
    assert change.fields.duration_seconds >= 1800
    assert not change.deleted


async def test_the_hourly_quota_402_is_transient_not_a_refusal() -> None:
    made = await toggl_rig(quota=RateLimit(3, 3600.0))  # the subscription took one
    try:
        check = made.rig.provider.check
        await check(made.rig.session())
        await check(made.rig.session())
        with pytest.raises(TransientError) as caught:
            await check(made.rig.session())
        assert caught.value.retry_after
        assert caught.value.retry_after >= 60
        assert made.rig.answers[-1] == 402
    finally:
        await made.http.aclose()


async def test_deliveries_are_signed_as_toggl_documents(built: Built) -> None:
    rig = built.rig
    external_id = await rig.control.add(rig.fields(dt.date(2026, 11, 9), dt.time(9), 600, "signed"))
    captured = (await rig.control.deliveries())[-1]
    event = json.loads(captured.body)
    assert captured.headers["x-webhook-signature-256"].startswith("sha256=")
    assert event["metadata"]["action"] == "created"
    assert event["payload"]["id"] == int(external_id)


async def test_an_admin_writes_a_members_entry_read_and_found_through_the_reports(
    built: Built,
) -> None:
    """``/me`` shows only the token user's entries: another member's entry (an admin logging
    for them) is read back, and a create whose answer was lost found, through Reports API v3's
    search, never created twice."""
    rig, state = built.rig, built.state
    max_ = next(u for u in state.users.values() if u.email == "max@example.com")
    assert rig.provider.entries is not None
    store = rig.provider.entries(rig.session())
    fields = rig.fields(dt.date(2026, 11, 10), dt.time(14), 2700, "for Max")
    fields = fields.model_copy(update={"user": UserRef(external_id=str(max_.id))})
    slot = rig.slot(fields)
    held = len(state.live())
    write = Write("create", fields, None, f"{slot.key}:create")
    first = await store.write(slot, write)
    # Decided again as after a lost answer (the search is a POST the sandbox would lose too, so
    # the loss itself is played by the conformance scenario on the token user's entries).
    target = await store.write(slot, write)
    assert target == first
    assert len(state.live()) == held + 1, "the lost create was found, not sent again"
    assert target is not None
    assert state.entries[int(target)].user_id == max_.id
    read = await store.read(Slot(slot.system, slot.key, target))
    assert read is not None
    assert read.fields.user.external_id == str(max_.id)
    assert (read.fields.duration_seconds, read.fields.notes) == (2700, "for Max")
    changed = fields.model_copy(update={"notes": "for Max, changed"})
    await store.write(Slot(slot.system, slot.key, target), Write("update", changed, read, "u"))
    again = await store.read(Slot(slot.system, slot.key, target))
    assert again is not None
    assert again.fields.notes == "for Max, changed"
    await store.write(Slot(slot.system, slot.key, target), Write("delete", None, again, "d"))
    assert await store.read(Slot(slot.system, slot.key, target)) is None


async def test_me_is_asked_once_per_credential_not_per_capability(
    built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``/me`` has its own quota of 30 requests an hour: capabilities opened one per operation
    share the token user's answer (regression: every write asked ``/me`` again)."""
    people._ME.clear()
    asked: list[int] = []
    real = TogglClient.me

    async def counting(self: TogglClient) -> Any:
        asked.append(1)
        return await real(self)

    monkeypatch.setattr(TogglClient, "me", counting)
    rig = built.rig
    assert rig.provider.entries is not None
    for n in range(3):
        store = rig.provider.entries(rig.session())
        fields = rig.fields(dt.date(2026, 11, 11), dt.time(9 + n), 600, f"write {n}")
        slot = rig.slot(fields)
        assert await store.write(slot, Write("create", fields, None, slot.key))
    assert len(asked) == 1
