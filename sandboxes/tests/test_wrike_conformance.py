"""The conformance suite (``timebridge_providers.kit.conformance``) for Wrike against its sandbox,
in-process; plus what Wrike adds: decimal hours, another member's time refused as unwritable,
form bodies, its error shape, its secure webhooks (the handshake answered with the HMAC of the
secret proposed, ``TimelogChanged`` deliveries re-read, a suspended hook set active again).

The :class:`WrikeControl` is a Wrike user working through API v4 with their own token, sending
form bodies (our client sends query parameters: Wrike takes either). No OpenAPI description of
Wrike is in ``../shared/provider-specs``, and Wrike publishes no official Python SDK.
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
from timebridge_providers.kit.ports.entries import Slot, UnwritableEntryError, Write
from timebridge_providers.kit.ports.observe import RefusedError
from timebridge_providers.wrike.client import WrikeClient
from timebridge_providers.wrike.webhooks import WrikeWebhooks

from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_common.outbound.http import AuthenticationError
from timebridge_sandboxes.testing import TimeoutTransport
from timebridge_sandboxes.wrike import WrikeState, create_wrike_sandbox, demo_wrike

TIMEOUT_S = 1.0
BASE = "http://wrike.test"
PROPOSED = "conformance-proposed-secret-0123456789"
"""The secret the conformance scenario proposes (``kit.conformance.webhooks``)."""


@dataclass
class Receiver:
    """The hook URL: answers Wrike's handshake as ingest does (HMAC with the secret proposed)
    and keeps the deliveries."""

    secret: str = PROPOSED
    sent: list[Captured] = field(default_factory=list)
    handshakes: int = 0

    def transport(self) -> httpx.MockTransport:
        def receive(request: httpx.Request) -> httpx.Response:
            headers = dict(request.headers)
            answer = WrikeWebhooks().keyed_handshake(self.secret, headers, request.content)
            if answer is not None:
                self.handshakes += 1
                return httpx.Response(200, headers=answer.headers)
            self.sent.append(Captured(headers, request.content))
            return httpx.Response(202)

        return httpx.MockTransport(receive)


@dataclass
class WrikeControl:
    state: WrikeState
    http: httpx.AsyncClient
    token: str
    receiver: Receiver

    async def _call(self, method: str, path: str, form: dict[str, str] | None = None) -> Any:
        answer = await self.http.request(
            method,
            f"{BASE}/api/v4{path}",
            data=form,
            headers={"Authorization": f"Bearer {self.token}"},
        )
        assert answer.is_success, answer.text
        return answer.json()

    def count(self) -> int:
        return len(self.state.timelogs)

    async def add(self, fields: TimeEntryFields) -> str:
        form = {
            "hours": str(fields.duration_seconds / 3600),
            "trackedDate": fields.date.isoformat(),
            "comment": fields.notes,
            "billingType": "Billable" if fields.billable else "NonBillable",
        }
        made = await self._call("POST", f"/tasks/{fields.task_external_id}/timelogs", form)
        return str(made["data"][0]["id"])

    async def edit(self, external_id: str, notes: str) -> None:
        await self._call("PUT", f"/timelogs/{external_id}", {"comment": notes})

    async def remove(self, external_id: str) -> None:
        await self._call("DELETE", f"/timelogs/{external_id}")

    async def lock(self, external_id: str) -> None:
        answer = await self.http.post(f"{BASE}/_sandbox/timelogs/{external_id}/approve")
        assert answer.is_success, answer.text

    def limit_pages(self, size: int) -> bool:
        return False  # Wrike's timelog lists are not paged

    async def deliveries(self) -> list[Captured]:
        return self.receiver.sent

    def sign(self, body: bytes, at: dt.datetime, *, secret: str | None = None) -> str:
        raise NotOffered("Wrike's deliveries are hints: the timelog is re-read through the API")

    @property
    def webhook_secret(self) -> str:
        return ""

    @property
    def account(self) -> str:
        return ""


@dataclass
class Built:
    rig: Rig
    state: WrikeState
    http: httpx.AsyncClient
    receiver: Receiver


async def wrike_rig() -> Built:
    state = demo_wrike("conformance-wrike-token", "conformance-wrike-member")
    answers: list[int] = []
    receiver = Receiver()
    app = create_wrike_sandbox(state, webhook_transport=receiver.transport())
    http = answering_client(TimeoutTransport(app, TIMEOUT_S), answers)
    ann = next(c for c in state.contacts.values() if c.email == "ann@example.com")
    project = next(iter(state.folders.values()))
    task = next(iter(state.tasks.values()))
    rig = Rig(
        provider=registry().get("wrike"),
        base_url=f"{BASE}/api/v4",
        sandbox_url=BASE,
        credential=ann.token,
        http=http,
        control=WrikeControl(state, http, ann.token, receiver),
        work=Work(ann.id, ann.email, project.id, task.id, ann.timezone),
        answers=answers,
    )
    return Built(rig, state, http, receiver)


@pytest.fixture
async def built() -> AsyncIterator[Built]:
    made = await wrike_rig()
    yield made
    await made.http.aclose()


NOT_OFFERED: dict[str, str] = {}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.__name__)
async def test_wrike_conformance(built: Built, scenario: Scenario) -> None:
    if reason := await run(scenario, built.rig, NOT_OFFERED):
        pytest.skip(reason)


async def test_hours_are_decimal_on_the_wire_and_seconds_read_back(built: Built) -> None:
    rig = built.rig
    assert rig.provider.entries is not None
    store = rig.provider.entries(rig.session())
    fields = rig.fields(dt.date(2026, 11, 10), dt.time(9), 1000, "odd seconds")
    slot = rig.slot(fields)
    target = await store.write(slot, Write("create", fields, None, slot.key))
    assert target is not None
    assert built.state.timelogs[target].hours == pytest.approx(1000 / 3600, abs=1e-4)
    read = await store.read(Slot(slot.system, slot.key, target))
    assert read is not None
    assert read.fields.duration_seconds == 1000


async def test_another_members_time_is_unwritable(built: Built) -> None:
    rig = built.rig
    assert rig.provider.entries is not None
    store = rig.provider.entries(rig.session())
    max_id = next(c.id for c in built.state.contacts.values() if c.email == "max@example.com")
    fields = rig.fields(dt.date(2026, 11, 10), dt.time(9), 600, "max's")
    fields = fields.model_copy(update={"user": UserRef(external_id=max_id)})
    held = rig.control.count()
    with pytest.raises(UnwritableEntryError):
        await store.write(rig.slot(fields), Write("create", fields, None, "k"))
    assert rig.control.count() == held


async def test_a_wrong_token_is_refused_in_wrikes_shape(built: Built) -> None:
    client = WrikeClient(f"{BASE}/api/v4", "not-a-token", http=built.http)
    with pytest.raises(AuthenticationError) as refused:
        await client.me()
    assert '"errorDescription"' in refused.value.body
    assert "not_authorized" in refused.value.body


async def test_a_member_reads_anothers_timelog_but_cannot_change_it(built: Built) -> None:
    rig = built.rig
    ann_log = await rig.control.add(rig.fields(dt.date(2026, 11, 10), dt.time(9), 900, "ann's"))
    max_token = next(c.token for c in built.state.contacts.values() if c.email == "max@example.com")
    member = WrikeClient(f"{BASE}/api/v4", max_token, http=built.http)
    seen = await member.timelog(ann_log)
    assert seen is not None
    assert seen.userId == rig.work.user_id
    with pytest.raises(AuthenticationError):
        await member.update(ann_log, {"comment": "not mine"})
    assert built.state.timelogs[ann_log].comment == "ann's"


@pytest.mark.parametrize(
    ("method", "query", "form"),
    [
        ("POST", "", b"hours=\xff&trackedDate=2026-01-01"),
        ("POST", "?hours=nan&trackedDate=2026-01-01", None),
        ("POST", "?hours=1&trackedDate=someday", None),
        ("POST", "?hours=1&trackedDate=2026-01-01&billingType=Maybe", None),
        ("GET", "?updatedDate=%7B", None),
        ("GET", '?trackedDate={"start":5}', None),
    ],
)
async def test_bad_requests_are_400_in_wrikes_shape(
    built: Built, method: str, query: str, form: bytes | None
) -> None:
    path = f"/tasks/{built.rig.work.task_id}/timelogs" if method == "POST" else "/timelogs"
    headers = {"Authorization": f"Bearer {built.rig.credential}"}
    if form is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    answer = await built.http.request(
        method, f"{BASE}/api/v4{path}{query}", content=form, headers=headers
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_request"
    assert built.state.timelogs == {}


async def test_a_hook_is_verified_signed_re_read_and_revived(built: Built) -> None:
    """Wrike's handshake, an ``X-Request-Hash`` delivery per timelog added, changed or deleted
    (the deleted one re-read as a deletion), a wrong handshake answer refused, a suspended hook
    set ``Active`` again under the same id."""
    rig, receiver = built.rig, built.receiver
    assert rig.provider.observe is not None
    observer = rig.provider.observe(rig.session())
    assert observer.hooks is not None
    hook = await observer.hooks.register("https://receiver.test/v1/webhooks/wrike/t", PROPOSED)
    assert hook.active
    assert receiver.handshakes == 1
    intake = WrikeWebhooks()
    now = dt.datetime.now(dt.UTC)
    logged = await rig.control.add(rig.fields(now.date(), dt.time(9), 1800, "hooked"))
    await rig.control.edit(logged, "edited")
    await rig.control.remove(logged)
    kinds = []
    for delivery in receiver.sent[-3:]:
        assert "x-request-hash" in delivery.headers
        assert intake.authenticate(
            PROPOSED, delivery.headers, delivery.body, now=now, tolerance_s=60
        )
        [event] = json.loads(delivery.body)
        kinds.append(event["type"])
        assert intake.hints(delivery.body)[0].external_id == logged
    assert kinds == ["Added", "Updated", "Removed"]
    [gone] = await observer.reread(intake.hints(receiver.sent[-1].body), now=now)
    assert gone.deleted
    assert gone.external_id == logged
    with pytest.raises(RefusedError) as forged:
        intake.authenticate(
            "other", receiver.sent[-1].headers, receiver.sent[-1].body, now=now, tolerance_s=60
        )
    assert forged.value.status == 401
    receiver.secret = "not-the-secret-proposed"
    refused = await rig.http.post(
        f"{BASE}/api/v4/webhooks",
        data={"hookUrl": "https://receiver.test/x", "secret": PROPOSED},
        headers={"Authorization": f"Bearer {rig.credential}"},
    )
    assert refused.status_code == 400, "a URL that cannot answer the handshake gets no hook"
    suspended = await rig.http.post(f"{BASE}/_sandbox/webhooks/{hook.hook_id}/suspend")
    assert suspended.is_success
    revived = await observer.hooks.ensure_active(hook.hook_id)
    assert revived is not None
    assert revived.active
    assert revived.hook_id == hook.hook_id
    await observer.hooks.delete(hook.hook_id)
    assert await observer.hooks.ensure_active(hook.hook_id) is None
