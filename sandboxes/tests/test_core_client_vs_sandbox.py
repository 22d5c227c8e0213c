"""Timebridge's Core client against the Core sandbox; its webhooks against ingest's checks."""

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp
from timebridge_providers.core.client import (
    CoreClient,
    EntryLockedError,
    ExternalRef,
    TimeEntry,
    TimeEntryWrite,
    VersionConflictError,
)

from timebridge_common.outbound.http import (
    AuthenticationError,
    NotFoundError,
    ProviderError,
    RequestBudget,
    RetryPolicy,
)
from timebridge_ingest.domain.core_webhook import (
    CoreTimeEntryWebhook,
    parse_webhook,
    verify_signature,
)
from timebridge_ingest.domain.errors import RejectedError
from timebridge_sandboxes.core import RATE_LIMIT, CoreState, Webhooks, create_core_sandbox
from timebridge_sandboxes.faults import Faults, RateLimit
from timebridge_sandboxes.testing import FakeTime, TimeoutTransport, Traffic, serve

WS = "acme"
ADMIN, MEMBER, SERVICE = "ct-admin-51c2", "ct-member-7d0e", "ct-service-a93f"
SECRET, OLD_SECRET = "whsec-current-8b1", "whsec-previous-4e7"
DAY = dt.date(2026, 11, 21)
HOOK_URL = f"http://ingest.test/v1/webhooks/core/{WS}"


class Receiver:
    """Ingest's side of Core webhooks: checks signature and body as ingest does, keeps them."""

    def __init__(self, now: Callable[[], dt.datetime], secret: str = SECRET) -> None:
        self.now = now
        self.secret = secret
        self.refusals: list[int] = []
        """Statuses to answer first (then ``202``), as a struggling receiver would."""
        self.payloads: list[dict[str, Any]] = []
        self.content_types: list[str] = []
        self.arrived = asyncio.Event()
        self.gate = asyncio.Event()
        """Answers wait until it is set: a slow receiver, while more deliveries could come."""
        self.gate.set()
        self.app = Starlette(
            routes=[Route("/v1/webhooks/core/{workspace}", self.hook, methods=["POST"])]
        )

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        signature = request.headers.get("core-signature")
        try:
            verify_signature(self.secret, signature, body, now=self.now(), tolerance_s=300)
            payload = json.loads(body)
            if payload["type"].startswith("time_entry."):
                parse_webhook(body, request.path_params["workspace"])
        except RejectedError as exc:
            return Response(exc.reason, status_code=exc.status)
        self.payloads.append(payload)
        self.content_types.append(request.headers["content-type"])
        self.arrived.set()
        await self.gate.wait()
        return Response(status_code=self.refusals.pop(0) if self.refusals else 202)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [p["data"][kind] for p in self.payloads if p["type"].startswith(kind)]


@dataclass
class World(Traffic):
    state: CoreState
    faults: Faults
    fake: FakeTime
    webhooks: Webhooks
    receiver: Receiver
    sandbox: ASGIApp
    admin: str
    member: str
    service: str
    project: str
    ticket: str

    def client(self, token: str = SERVICE, *, limit: int = 10) -> CoreClient:
        http = self.recording_client(TimeoutTransport(self.sandbox, 2.0))
        return CoreClient(
            "http://core.test",
            token,
            http=http,
            budget=RequestBudget(limit, 1.0, clock=self.fake.clock, sleep=self.fake.sleep),
            retry=RetryPolicy(sleep=self.fake.sleep, rng=lambda: 0.5, now=self.fake.utcnow),
        )

    def admin_api(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(self.sandbox), base_url="http://core.test/_sandbox"
        )

    async def subscribe(self, **extra: Any) -> None:
        async with self.admin_api() as api:
            body = {"url": HOOK_URL, "secret": SECRET, **extra}
            assert (await api.put(f"/workspaces/{WS}/webhook", json=body)).status_code == 200


@pytest.fixture
def world() -> World:
    fake, faults = FakeTime(), Faults()
    faults.clock = fake.clock
    receiver = Receiver(fake.utcnow)
    webhooks = Webhooks(httpx.ASGITransport(receiver.app), attempts=3, sleep=fake.sleep)
    state = CoreState(now=fake.utcnow)
    admin = state.add_user(WS, "Ann Admin", email="ann@acme.test", role="admin", token=ADMIN)
    member = state.add_user(WS, "Max Member", email="max@acme.test", token=MEMBER)
    service = state.add_service_token(WS, SERVICE)
    project = state.add_project(WS, "Website")
    ticket = state.add_ticket(WS, "Login page", project_id=project)
    state.add_user("other", "Olga Other", token="ct-other")
    sandbox = create_core_sandbox(
        state, faults, rate_limit=RateLimit(*RATE_LIMIT, clock=fake.clock), webhooks=webhooks
    )
    return World(
        state, faults, fake, webhooks, receiver, sandbox, admin, member, service, project, ticket
    )


def work(world: World, notes: str = "Login page", **fields: Any) -> TimeEntryWrite:
    defaults = {"user_id": world.member, "date": DAY, "duration_seconds": 5400}
    return TimeEntryWrite(**{**defaults, "notes": notes, **fields})


async def test_me_tells_each_tokens_workspace_and_role(world: World) -> None:
    admin = await world.client(ADMIN).me()
    member = await world.client(MEMBER).me()
    service = await world.client().me()
    assert (admin.workspace_id, admin.user.id, admin.user.role) == (WS, world.admin, "admin")
    assert (member.user.id, member.user.email, member.user.role) == (
        world.member,
        "max@acme.test",
        "member",
    )
    assert (service.workspace_id, service.user.id, service.user.role) == (
        WS,
        world.service,
        "admin",
    )
    assert world.sent[0].headers["Authorization"] == f"Bearer {ADMIN}"
    with pytest.raises(AuthenticationError) as caught:
        await world.client("ct-wrong").me()
    assert caught.value.status == 401
    assert '"code":"unauthorized"' in caught.value.body
    assert ADMIN not in caught.value.body


async def test_users_and_time_entries_are_read_over_several_pages(world: World) -> None:
    people = [world.state.add_user(WS, f"User {n}") for n in range(205)]
    for n in range(401):
        world.state.add_entry(WS, people[n % 205], DAY, 60 * n)
    client = world.client()

    users = [u async for u in client.users()]
    assert [u.id for u in users] == [world.admin, world.member, *people]
    first, second = world.sent
    assert (first.url.params["limit"], "cursor" in first.url.params) == ("200", False)
    assert second.url.params["cursor"]

    world.sent.clear()
    entries = [e async for e in client.time_entries()]
    assert [e.duration_seconds for e in entries] == [60 * n for n in range(401)]
    assert len(world.sent) == 3
    assert [p.name async for p in client.projects()] == ["Website"]
    assert [(t.id, t.project_id) async for t in client.tickets(project_id=world.project)] == [
        (world.ticket, world.project)
    ]
    assert (await client.ticket(world.ticket)).title == "Login page"


async def test_polling_sees_each_change_once_in_order_and_deletions(world: World) -> None:
    client = world.client()
    created = []
    for minutes in (30, 45, 60):
        created.append(await client.create_time_entry(work(world), idempotency_key=f"k{minutes}"))
        world.fake.now += 60
    first, second, third = created
    updated = await client.update_time_entry(
        first.id, TimeEntryWrite(duration_seconds=2700), if_version=first.version
    )
    world.fake.now += 60
    await client.delete_time_entry(second.id)
    assert (updated.version, updated.updated_at > first.updated_at) == (2, True)

    changed = [e async for e in client.time_entries(updated_since=first.updated_at)]
    assert [(e.id, e.version, e.deleted_at is not None) for e in changed] == [
        (third.id, 1, False),
        (first.id, 2, False),
        (second.id, 2, True),
    ]
    deleted = changed[2]
    assert deleted.deleted_at == deleted.updated_at
    assert deleted.updated_at - third.updated_at == dt.timedelta(seconds=120)
    live = [e.id async for e in client.time_entries(include_deleted=False)]
    assert live == [third.id, first.id]
    since_first = [e.id async for e in client.time_entries(updated_since=updated.updated_at)]
    assert since_first == [first.id, second.id]
    with pytest.raises(NotFoundError):
        await client.time_entry(second.id)
    assert (await client.time_entry(first.id)).duration_seconds == 2700


async def test_an_entry_is_found_by_the_external_reference_it_was_created_with(
    world: World,
) -> None:
    client = world.client()
    ref = ExternalRef(system="everhour", id="4711")
    created = await client.create_time_entry(work(world, external_ref=ref), idempotency_key="e1")
    await client.create_time_entry(work(world), idempotency_key="e2")
    found = await client.find_by_external_ref("everhour", "4711")
    assert found is not None
    assert (found.id, found.external_ref) == (created.id, ref)
    assert await client.find_by_external_ref("everhour", "4712") is None
    assert await client.find_by_external_ref("harvest", "4711") is None
    assert await world.client("ct-other").find_by_external_ref("everhour", "4711") is None
    with pytest.raises(NotFoundError):
        await world.client("ct-other").time_entry(created.id)


async def test_a_create_whose_answer_was_lost_is_repeated_with_its_key_and_made_once(
    world: World,
) -> None:
    await world.subscribe()
    world.faults.lose_next_responses(1)
    client = world.client()
    entry = await client.create_time_entry(work(world), idempotency_key="sync-ev-4711")
    assert list(world.state.entries) == [entry.id]
    assert world.answers == [200]
    assert [r.headers["Idempotency-Key"] for r in world.sent] == ["sync-ev-4711"] * 2
    assert world.fake.sleeps == [0.375]
    await world.webhooks.drain()
    assert [p["type"] for p in world.receiver.payloads] == ["time_entry.created"]


async def test_a_key_reused_with_another_body_is_refused(world: World) -> None:
    client = world.client()
    first = await client.create_time_entry(work(world), idempotency_key="k-1")
    again = await client.create_time_entry(work(world), idempotency_key="k-1")
    with pytest.raises(ProviderError) as caught:
        await client.create_time_entry(work(world, "Other notes"), idempotency_key="k-1")
    assert (again, world.answers) == (first, [201, 200, 409])
    assert caught.value.status == 409
    assert "idempotency_key_reused" in caught.value.body
    assert len(world.state.entries) == 1


async def test_an_update_on_a_stale_version_is_a_conflict_not_a_lost_update(
    world: World,
) -> None:
    client = world.client()
    entry = await client.create_time_entry(work(world, ticket_id=world.ticket), idempotency_key="k")
    mine = await client.update_time_entry(
        entry.id, TimeEntryWrite(notes="Mine", ticket_id=None), if_version=entry.version
    )
    assert (mine.version, mine.notes, mine.ticket_id) == (2, "Mine", None)
    with pytest.raises(VersionConflictError) as caught:
        await client.update_time_entry(
            entry.id, TimeEntryWrite(notes="Stale"), if_version=entry.version
        )
    assert (caught.value.status, world.sent[-1].headers["If-Match"]) == (412, "1")
    assert (await client.time_entry(entry.id)).notes == "Mine"


async def test_locked_entries_refuse_update_and_delete(world: World) -> None:
    client = world.client()
    entry = await client.create_time_entry(work(world), idempotency_key="k")
    async with world.admin_api() as api:
        locked = (await api.post(f"/time-entries/{entry.id}/lock")).json()
    assert (locked["locked"], locked["version"]) == (True, 2)
    with pytest.raises(EntryLockedError) as caught:
        await client.update_time_entry(entry.id, TimeEntryWrite(notes="x"), if_version=2)
    assert caught.value.status == 423
    with pytest.raises(EntryLockedError):
        await client.delete_time_entry(entry.id)
    assert (await client.time_entry(entry.id)).locked is True


async def test_deleting_twice_is_fine(world: World) -> None:
    client = world.client()
    entry = await client.create_time_entry(work(world), idempotency_key="k")
    await client.delete_time_entry(entry.id)
    await client.delete_time_entry(entry.id)
    assert world.answers == [201, 204, 404]
    assert world.state.entries[entry.id].deleted_at is not None


async def test_members_write_only_their_own_time(world: World) -> None:
    member = world.client(MEMBER)
    own = await member.create_time_entry(work(world), idempotency_key="m1")
    assert own.user.id == world.member
    with pytest.raises(AuthenticationError) as caught:
        await member.create_time_entry(work(world, user_id=world.admin), idempotency_key="m2")
    assert caught.value.status == 403
    with pytest.raises(ProviderError) as invalid:
        await world.client().create_time_entry(
            work(world, project_id="p_404"), idempotency_key="s1"
        )
    assert (invalid.value.status, "project_id" in invalid.value.body) == (422, True)


async def test_a_429_storm_is_waited_out_as_told(world: World) -> None:
    world.faults.rate_limit_storm(requests=2, retry_after_s=3)
    assert (await world.client().me()).user.id == world.service
    assert world.answers == [429, 429, 200]
    assert world.fake.sleeps == [3.0, 3.0]


async def test_the_sandbox_enforces_10_per_second_and_the_budget_stays_under_it(
    world: World,
) -> None:
    client = world.client()
    for _ in range(30):
        await client.me()
    assert 429 not in world.answers
    # The budget is a log of the last second's grants at the whole limit (10): 30 requests take
    # two more windows, each counted 5% longer than a second (a request reaches the sandbox
    # after its grant). The earlier half-burst bucket took 5 s.
    assert world.fake.now == pytest.approx(2.1)

    greedy = world.client(ADMIN, limit=100)
    for _ in range(30):
        await greedy.me()
    assert world.answers.count(429) > 0
    assert world.answers.count(200) == 60


async def test_5xx_are_retried_for_reads_and_for_keyed_creates(world: World) -> None:
    client = world.client()
    world.faults.fail_next(2)
    assert len([u async for u in client.users()]) == 2
    assert world.answers == [503, 503, 200]
    assert world.fake.sleeps == [0.375, 0.75]

    world.faults.fail_next(1, status=500)
    created = await client.create_time_entry(work(world), idempotency_key="k")
    assert world.answers[3:] == [500, 201]
    assert list(world.state.entries) == [created.id]


async def test_every_change_is_signed_and_delivered_in_order_per_entry(world: World) -> None:
    await world.subscribe(previous_secrets=[OLD_SECRET])
    client = world.client()
    entry = await client.create_time_entry(work(world), idempotency_key="k")
    await client.update_time_entry(entry.id, TimeEntryWrite(notes="Edited"), if_version=1)
    async with world.admin_api() as api:
        ui = await api.post(
            f"/workspaces/{WS}/time-entries",
            json={"user_id": world.admin, "date": "2026-11-21", "duration_seconds": 600},
        )
        await api.patch(f"/time-entries/{ui.json()['id']}", json={"billable": False})
        await api.post(f"/workspaces/{WS}/tickets", json={"title": "Invoices", "status": "new"})
        await api.patch(f"/tickets/{world.ticket}", json={"status": "done"})
    await client.delete_time_entry(entry.id)
    await world.webhooks.drain()

    payloads = world.receiver.payloads
    assert [(p["type"], p["workspace_id"]) for p in payloads] == [
        ("time_entry.created", WS),
        ("time_entry.updated", WS),
        ("time_entry.created", WS),
        ("time_entry.updated", WS),
        ("ticket.created", WS),
        ("ticket.updated", WS),
        ("time_entry.deleted", WS),
    ]
    assert len({p["id"] for p in payloads}) == 7
    assert set(world.receiver.content_types) == {"application/json"}
    mine = [e for e in world.receiver.of("time_entry") if e["id"] == entry.id]
    assert [(e["version"], e["notes"]) for e in mine] == [
        (1, "Login page"),
        (2, "Edited"),
        (3, "Edited"),
    ]
    assert [
        p["occurred_at"] for p in payloads if p["data"].get("time_entry", {}).get("id") == entry.id
    ] == [e["updated_at"] for e in mine]
    assert "deleted_at" not in mine[2]
    assert [t["status"] for t in world.receiver.of("ticket")] == ["new", "done"]
    world.receiver.secret = OLD_SECRET
    await world.client(ADMIN).update_time_entry(
        ui.json()["id"], TimeEntryWrite(notes="Rotated"), if_version=2
    )
    await world.webhooks.drain()
    assert world.receiver.payloads[-1]["data"]["time_entry"]["notes"] == "Rotated"


async def test_a_refused_delivery_is_retried_with_its_id_before_the_entrys_next_change(
    world: World,
) -> None:
    await world.subscribe()
    world.receiver.refusals = [503, 500]
    world.receiver.gate.clear()
    client = world.client()
    entry = await client.create_time_entry(work(world), idempotency_key="k")
    await client.update_time_entry(entry.id, TimeEntryWrite(notes="Later"), if_version=1)
    async with asyncio.timeout(5):
        await world.receiver.arrived.wait()
    await asyncio.sleep(0.01)  # time enough for an unordered second delivery to arrive too
    assert [p["type"] for p in world.receiver.payloads] == ["time_entry.created"]
    world.receiver.gate.set()
    await world.webhooks.drain()
    assert [(p["type"], p["id"]) for p in world.receiver.payloads] == [
        *[("time_entry.created", "dlv_1")] * 3,
        ("time_entry.updated", "dlv_2"),
    ]
    async with world.admin_api() as api:
        log = (await api.get("/deliveries")).json()
    assert [(d["id"], d["answers"], d["outcome"]) for d in log] == [
        ("dlv_1", [503, 500, 202], "delivered"),
        ("dlv_2", [202], "delivered"),
    ]
    assert world.fake.sleeps == [1.0, 2.0]

    world.receiver.refusals = [500, 500, 500]
    await client.delete_time_entry(entry.id)
    await world.webhooks.drain()
    assert (world.state.deliveries[-1].answers, world.state.deliveries[-1].outcome) == (
        [500, 500, 500],
        "failed",
    )


async def test_the_admin_api_seeds_resets_and_switches_faults(world: World) -> None:
    async with world.admin_api() as api:
        seeded = await api.post(
            "/seed",
            json={
                "workspace_id": "beta",
                "users": [{"name": "Bo", "role": "admin", "token": "ct-beta"}],
                "service_tokens": ["ct-beta-service"],
                "projects": [{"name": "Ops", "tickets": ["Patch", "Reboot"]}],
            },
        )
        assert (await api.post("/faults", json={"server_errors": 1})).json()["server_errors"] == 1
        me = await world.client("ct-beta").me()
        assert (me.workspace_id, world.answers) == ("beta", [503, 200])
        assert (await api.post("/reset")).status_code == 204
    body = seeded.json()
    assert len(body["projects"][0]["tickets"]) == 2
    assert (body["users"], body["service_users"]) == (["u_5"], ["u_6"])
    assert (world.state.users, world.state.tokens) == ({}, {})


async def test_over_real_http_a_signed_webhook_is_accepted_by_ingests_checks() -> None:
    state = CoreState()
    state.add_user(WS, "Ann Admin", email="ann@acme.test", role="admin", token=ADMIN)
    receiver = Receiver(lambda: dt.datetime.now(dt.UTC))
    async with (
        serve(create_core_sandbox(state)) as core_url,
        serve(receiver.app) as ingest_url,
        CoreClient(core_url, ADMIN, timeout_s=5) as client,
    ):
        async with httpx.AsyncClient(base_url=f"{core_url}/_sandbox") as api:
            url = f"{ingest_url}/v1/webhooks/core/{WS}"
            await api.put(f"/workspaces/{WS}/webhook", json={"url": url, "secret": SECRET})
        me = await client.me()
        entry = await client.create_time_entry(
            TimeEntryWrite(user_id=me.user.id, date=DAY, duration_seconds=5400, notes="T-42"),
            idempotency_key="loopback-1",
        )
        async with asyncio.timeout(5):
            await receiver.arrived.wait()
    (payload,) = receiver.payloads
    webhook = parse_webhook(json.dumps(payload).encode(), WS)
    assert isinstance(webhook, CoreTimeEntryWebhook)
    sent = webhook.data.time_entry
    assert (webhook.type, webhook.id) == ("time_entry.created", "dlv_1")
    assert (sent.id, sent.user.id, sent.duration_seconds, sent.notes, sent.updated_at) == (
        entry.id,
        me.user.id,
        5400,
        "T-42",
        entry.updated_at,
    )
    assert TimeEntry.model_validate(payload["data"]["time_entry"]).version == entry.version
