"""Timebridge's Everhour client against the Everhour sandbox, in-process and over real HTTP."""

import asyncio
import datetime as dt
from dataclasses import dataclass

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp
from timebridge_providers.everhour.client import (
    TIME_UPDATED,
    EverhourClient,
    TimeRecordLockedError,
    WebhookDelivery,
    handshake_reply,
    parse_delivery,
)

from timebridge_common.outbound.http import (
    AuthenticationError,
    NotFoundError,
    OutcomeUnknownError,
    ProviderError,
    RequestBudget,
    RetryPolicy,
)
from timebridge_sandboxes.everhour import RATE_LIMIT, EverhourState, create_everhour_sandbox
from timebridge_sandboxes.faults import Faults, RateLimit
from timebridge_sandboxes.testing import FakeTime, Traffic, serve

ADMIN_KEY = "ek-admin-0c4f"
MEMBER_KEY = "ek-member-9a1b"
DAY = dt.date(2026, 11, 20)


class Receiver:
    """Timebridge's side of Everhour webhooks: answers the handshake, keeps the deliveries."""

    def __init__(self, *, echo: bool = True) -> None:
        self.echo = echo
        self.secrets: list[str] = []
        self.deliveries: list[WebhookDelivery] = []
        self.user_agents: list[str] = []
        self.arrived = asyncio.Event()
        self.app = Starlette(routes=[Route("/hooks/everhour/{token}", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        self.user_agents.append(request.headers.get("user-agent", ""))
        reply = handshake_reply(request.headers)
        if reply is not None:
            self.secrets.extend(reply.values())
            return Response(status_code=200, headers=reply if self.echo else None)
        self.deliveries.append(parse_delivery(await request.body()))
        self.arrived.set()
        return Response(status_code=202)


@dataclass
class World(Traffic):
    state: EverhourState
    faults: Faults
    fake: FakeTime
    receiver: Receiver
    sandbox: ASGIApp
    admin: int
    member: int
    project: str
    section: int
    task: str

    def client(self, api_key: str = ADMIN_KEY, *, limit: int = 20) -> EverhourClient:
        http = self.recording_client(httpx.ASGITransport(self.sandbox))
        return EverhourClient(
            "http://everhour.test",
            api_key,
            http=http,
            budget=RequestBudget(limit, 10.0, clock=self.fake.clock, sleep=self.fake.sleep),
            retry=RetryPolicy(sleep=self.fake.sleep, rng=lambda: 0.5),
        )


@pytest.fixture
def world() -> World:
    fake, receiver, faults = FakeTime(), Receiver(), Faults()
    state = EverhourState(now=lambda: dt.datetime(2026, 11, 21, 9, 30, tzinfo=dt.UTC))
    admin = state.add_user("Ann Admin", api_key=ADMIN_KEY, email="ann@acme.test")
    member = state.add_user("Max Member", api_key=MEMBER_KEY, role="member")
    project = state.add_project("Website")
    section = state.add_section(project, "Backlog")
    task = state.add_task(project, "Login page", section_id=section)
    faults.clock = fake.clock
    sandbox = create_everhour_sandbox(
        state,
        faults,
        rate_limit=RateLimit(*RATE_LIMIT, clock=fake.clock),
        webhook_transport=httpx.ASGITransport(receiver.app),
    )
    return World(state, faults, fake, receiver, sandbox, admin, member, project, section, task)


async def test_connection_test_with_good_and_bad_key(world: World) -> None:
    me = await world.client().current_user()
    assert (me.id, me.name, me.email, me.role) == (
        world.admin,
        "Ann Admin",
        "ann@acme.test",
        "admin",
    )
    with pytest.raises(AuthenticationError) as caught:
        await world.client("ek-wrong").current_user()
    assert caught.value.status == 401
    assert world.sent[0].headers["X-Api-Key"] == ADMIN_KEY


async def test_users_projects_and_tasks_are_read_page_by_page(world: World) -> None:
    for n in range(5):
        world.state.add_project(f"Client {n}")
    for n in range(6):
        world.state.add_task(world.project, f"Task {n}", status="closed" if n == 5 else "open")
    client = world.client()

    users = await client.team_users()
    assert [(u.id, u.role) for u in users] == [(world.admin, "admin"), (world.member, "member")]

    world.sent.clear()
    projects = [p async for p in client.projects(page_size=2)]
    assert [p.name for p in projects] == ["Website"] + [f"Client {n}" for n in range(5)]
    assert [r.url.params["page"] for r in world.sent] == ["1", "2", "3", "4"]
    assert projects[0].billing is not None
    assert projects[0].billing.type == "hourly"
    assert [p.name async for p in client.projects(query="client 3")] == ["Client 3"]
    assert (await client.project(world.project)).users == (world.admin, world.member)

    world.sent.clear()
    tasks = [t async for t in client.project_tasks(world.project, page_size=3)]
    assert [t.name for t in tasks] == ["Login page"] + [f"Task {n}" for n in range(6)]
    assert len(world.sent) == 3
    open_tasks = [t async for t in client.project_tasks(world.project, exclude_closed=True)]
    assert len(open_tasks) == 6
    assert (await client.task(world.task)).projects == (world.project,)
    with pytest.raises(NotFoundError):
        await client.task("ev:404")


async def test_a_task_is_created_in_a_section(world: World) -> None:
    client = world.client()
    sections = await client.sections(world.project)
    assert [(s.id, s.name) for s in sections] == [(world.section, "Backlog")]
    task = await client.create_task(
        world.project, name="Invoice export", section_id=world.section, description="T-42"
    )
    assert (task.name, task.section, task.projects) == (
        "Invoice export",
        world.section,
        (world.project,),
    )
    assert world.state.tasks[task.id].description == "T-42"
    other = world.state.add_project("Other")
    with pytest.raises(ProviderError) as caught:
        await client.create_task(other, name="Nope", section_id=world.section)
    assert caught.value.status == 400


async def test_time_is_added_updated_and_deleted_in_seconds(world: World) -> None:
    client = world.client()
    added = await client.add_time(world.task, seconds=5400, date=DAY, comment="T-42 login")
    assert (added.time, added.user, added.date, added.comment) == (
        5400,
        world.admin,
        DAY,
        "T-42 login",
    )
    assert world.state.records[added.id].time == 5400

    again = await client.add_time(world.task, seconds=1800, date=DAY)
    assert (again.id, again.time) == (added.id, 7200)
    assert [h.action for h in again.history] == ["ADD", "ADD"]

    updated = await client.update_time(world.task, seconds=3600, date=DAY)
    assert (updated.id, updated.time, updated.comment) == (added.id, 3600, "T-42 login")
    theirs = await client.add_time(world.task, seconds=900, date=DAY, user_id=world.member)
    assert theirs.id != added.id

    records = [r async for r in client.team_time(DAY, DAY)]
    assert sorted((r.user, r.time) for r in records) == [(world.admin, 3600), (world.member, 900)]
    task = await client.task(world.task)
    assert task.time is not None
    assert task.time.total == 4500
    assert task.time.users == {world.admin: 3600, world.member: 900}

    await client.delete_time(world.task, date=DAY)
    assert [r.user async for r in client.team_time(DAY, DAY)] == [world.member]
    with pytest.raises(NotFoundError):
        await client.update_time(world.task, seconds=60, date=DAY)


async def test_team_time_is_read_by_inclusive_range_and_pages(world: World) -> None:
    client = world.client()
    for offset in range(5):
        await client.add_time(
            world.task, seconds=600 * (offset + 1), date=DAY + dt.timedelta(offset)
        )
    world.sent.clear()
    records = [
        r async for r in client.team_time(DAY + dt.timedelta(1), DAY + dt.timedelta(3), page_size=2)
    ]
    assert [(r.date.day, r.time) for r in records] == [(21, 1200), (22, 1800), (23, 2400)]
    assert [(r.url.params["from"], r.url.params["page"]) for r in world.sent] == [
        ("2026-11-21", "1"),
        ("2026-11-21", "2"),
    ]


async def test_locked_and_invoiced_records_are_detected_and_refused(world: World) -> None:
    admin, member = world.client(), world.client(MEMBER_KEY)
    locked = await admin.add_time(world.task, seconds=3600, date=DAY)
    invoiced = await member.add_time(world.task, seconds=1800, date=DAY)
    world.state.lock_time(locked.id)
    world.state.lock_time(invoiced.id, invoiced=True)

    seen = {r.id: r async for r in admin.team_time(DAY, DAY)}
    assert (seen[locked.id].is_locked, seen[locked.id].locked) == (True, True)
    assert (seen[invoiced.id].is_invoiced, seen[invoiced.id].locked) == (True, True)

    with pytest.raises(TimeRecordLockedError) as caught:
        await admin.update_time(world.task, seconds=60, date=DAY)
    assert caught.value.status == 403
    with pytest.raises(TimeRecordLockedError):
        await member.delete_time(world.task, date=DAY)
    fixed = await admin.update_time(world.task, seconds=2000, date=DAY, user_id=world.member)
    assert fixed.time == 2000
    assert world.state.records[locked.id].time == 3600


async def test_webhook_handshake_and_deliveries_on_time_changes(world: World) -> None:
    client = world.client()
    target = "http://receiver.test/hooks/everhour/5f2e9c"
    hook = await client.create_hook(target, project_id=world.project)
    assert (hook.target_url, hook.events, hook.project) == (target, (TIME_UPDATED,), world.project)
    assert [len(secret) for secret in world.receiver.secrets] == [128]
    assert [h.id for h in await client.hooks()] == [hook.id]

    record = await client.add_time(world.task, seconds=2700, date=DAY, comment="T-7")
    await client.delete_time(world.task, date=DAY)
    added, removed = world.receiver.deliveries
    assert (added.event, added.payload.id) == (TIME_UPDATED, world.task)
    assert added.time_record().model_dump(include={"id", "time", "user", "date", "comment"}) == {
        "id": record.id,
        "time": 2700,
        "user": world.admin,
        "date": DAY,
        "comment": "T-7",
    }
    assert (removed.time_record().id, removed.time_record().time) == (record.id, 0)
    assert set(world.receiver.user_agents) == {"Everhour (everhour.com)"}

    with pytest.raises(ProviderError) as duplicate:
        await client.create_hook(target)
    assert duplicate.value.status == 409
    await client.delete_hook(hook.id)
    assert await client.hooks() == []


async def test_a_receiver_that_does_not_echo_the_secret_is_refused(world: World) -> None:
    world.receiver.echo = False
    with pytest.raises(ProviderError) as caught:
        await world.client().create_hook("http://receiver.test/hooks/everhour/1")
    assert (caught.value.status, "Invalid callback" in caught.value.body) == (400, True)
    assert world.state.hooks == {}


async def test_a_429_storm_is_waited_out_as_told(world: World) -> None:
    world.faults.rate_limit_storm(requests=2, retry_after_s=3)
    client = world.client()
    assert (await client.current_user()).id == world.admin
    assert world.answers == [429, 429, 200]
    assert world.fake.sleeps == [3.0, 3.0]


async def test_the_sandbox_enforces_everhours_limit_and_the_budget_stays_under_it(
    world: World,
) -> None:
    client = world.client()
    for _ in range(40):
        await client.current_user()
    assert 429 not in world.answers
    assert world.fake.now >= 10.0  # the 21st waited for the first to leave the window

    greedy = world.client(limit=100)
    for _ in range(30):
        await greedy.current_user()
    assert world.answers.count(429) > 0
    assert world.answers.count(200) == 70


async def test_5xx_are_retried_and_a_failed_post_wrote_nothing(world: World) -> None:
    client = world.client()
    world.faults.fail_next(2)
    assert len(await client.team_users()) == 2
    assert world.answers == [503, 503, 200]
    assert world.fake.sleeps == [0.375, 0.75]

    world.faults.fail_next(1, status=500)
    with pytest.raises(OutcomeUnknownError):
        await client.add_time(world.task, seconds=600, date=DAY)
    assert await client.find_time(world.task, DAY, world.admin) is None


async def test_faults_can_be_switched_through_the_admin_api(world: World) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(world.sandbox), base_url="http://everhour.test"
    ) as admin:
        answer = await admin.post(
            "/_sandbox/faults", json={"rate_limited_requests": 1, "retry_after_s": 2}
        )
        assert answer.json()["rate_limited_requests"] == 1
        assert (await world.client().current_user()).id == world.admin
        assert world.fake.sleeps == [2.0]
        seeded = await admin.post(
            "/_sandbox/seed",
            json={"projects": [{"name": "Seeded", "tasks": [{"name": "One"}, {"name": "Two"}]}]},
        )
        assert len(seeded.json()["projects"][0]["tasks"]) == 2
        assert (await admin.post("/_sandbox/reset")).status_code == 204
    assert world.state.projects == {}


async def test_over_real_http_with_handshake_delivery_and_a_lost_response() -> None:
    state, faults, receiver = EverhourState(), Faults(), Receiver()
    admin = state.add_user("Ann Admin", api_key=ADMIN_KEY)
    project = state.add_project("Website")
    task = state.add_task(project, "Login page")
    async with (
        serve(create_everhour_sandbox(state, faults)) as everhour_url,
        serve(receiver.app) as receiver_url,
        EverhourClient(everhour_url, ADMIN_KEY, timeout_s=1.0) as client,
    ):
        assert (await client.current_user()).id == admin
        hook = await client.create_hook(f"{receiver_url}/hooks/everhour/a1b2")
        assert len(receiver.secrets) == 1
        assert state.hooks[hook.id].is_active

        record = await client.add_time(task, seconds=1500, date=DAY)
        async with asyncio.timeout(5):
            await receiver.arrived.wait()
        assert receiver.deliveries[0].time_record().time == 1500

        faults.lose_next_responses(1, delay_s=2.5)
        with pytest.raises(OutcomeUnknownError):
            await client.add_time(task, seconds=900, date=DAY + dt.timedelta(1))
        found = await client.find_time(task, DAY + dt.timedelta(1), admin)
        assert found is not None
        assert found.time == 900
        records = [r async for r in client.team_time(DAY, DAY + dt.timedelta(1))]
        assert sorted((r.id, r.time) for r in records) == [(record.id, 1500), (found.id, 900)]


async def test_time_by_user_and_by_project_and_a_hook_updated_back_to_active(world: World) -> None:
    client = world.client()
    other = world.state.add_task(world.project, "Signup page", section_id=world.section)
    elsewhere = world.state.add_task(world.state.add_project("Intranet"), "Wiki")
    await client.add_time(world.task, seconds=600, date=DAY)
    await client.add_time(other, seconds=1200, date=DAY, user_id=world.member)
    await client.add_time(elsewhere, seconds=300, date=DAY + dt.timedelta(days=1))
    http = world.recording_client(httpx.ASGITransport(world.sandbox))
    base, key = "http://everhour.test", {"X-Api-Key": ADMIN_KEY}
    project_time = await http.get(f"{base}/projects/{world.project}/time", headers=key)
    assert sorted(r["time"] for r in project_time.json()) == [600, 1200]
    mine = await http.get(
        f"{base}/users/{world.admin}/time",
        headers=key,
        params={"from": DAY.isoformat(), "to": DAY.isoformat()},
    )
    assert [r["time"] for r in mine.json()] == [600]
    assert (await http.get(f"{base}/users/999/time", headers=key)).status_code == 404

    hook = await client.create_hook("http://receiver.test/hooks/everhour/a1")
    world.state.hooks[hook.id].is_active = False  # Everhour disabled it after failed deliveries
    body = {"targetUrl": "http://receiver.test/hooks/everhour/b2", "events": [TIME_UPDATED]}
    updated = await http.put(f"{base}/hooks/{hook.id}", headers=key, json=body)
    assert updated.status_code == 200
    assert (updated.json()["targetUrl"], updated.json()["isActive"]) == (body["targetUrl"], True)
    assert len(world.receiver.secrets) == 2  # the new URL was handshaken too
    assert (await http.put(f"{base}/hooks/999", headers=key, json=body)).status_code == 404
    await http.aclose()


async def test_a_timer_started_and_stopped_adds_its_time_to_the_days_record(world: World) -> None:
    client = world.client()
    await client.create_hook("http://receiver.test/hooks/everhour/t1")
    clock = [dt.datetime(2026, 11, 21, 9, 0, tzinfo=dt.UTC)]
    world.state.now = lambda: clock[0]
    http = world.recording_client(httpx.ASGITransport(world.sandbox))
    base, key = "http://everhour.test", {"X-Api-Key": ADMIN_KEY}
    idle = await http.get(f"{base}/timers/current", headers=key)
    assert idle.json() == {"status": "stopped"}
    body = {"task": world.task, "userDate": DAY.isoformat(), "comment": "pairing"}
    started = await http.post(f"{base}/timers", headers=key, json=body)
    assert (started.json()["status"], started.json()["userDate"]) == ("active", DAY.isoformat())
    clock[0] += dt.timedelta(minutes=25)
    running = await http.get(f"{base}/timers/current", headers=key)
    assert running.json()["duration"] == 1500
    stopped = (await http.delete(f"{base}/timers/current", headers=key)).json()
    assert stopped["status"] == "stopped"
    assert (stopped["taskTime"]["time"], stopped["taskTime"]["date"]) == (1500, DAY.isoformat())
    record = await client.find_time(world.task, DAY, world.admin)
    assert record is not None
    assert (record.time, record.comment) == (1500, "pairing")
    assert [d.time_record().time for d in world.receiver.deliveries] == [1500]
    missing = await http.post(f"{base}/timers", headers=key, json={"task": "ev:1"})
    assert missing.status_code == 404
    await http.aclose()


async def test_bad_bytes_and_bad_urls_are_refused_in_everhours_error_shape(world: World) -> None:
    http = world.recording_client(httpx.ASGITransport(world.sandbox))
    base = "http://everhour.test"
    key = {"X-Api-Key": ADMIN_KEY, "content-type": "application/json"}
    cases = [
        ("POST", f"/tasks/{world.task}/time", b"\xff\xfe"),
        ("POST", f"/tasks/{world.task}/time", b"\xff"),
        (
            "POST",
            f"/tasks/{world.task}/time",
            b'{"time": 60, "date": "2026-11-20", "comment": "a\\u0000"}',
        ),
        ("POST", "/hooks", b'{"targetUrl": "http://x\\u0000y", "events": ["api:time:updated"]}'),
        ("POST", "/hooks", b'{"targetUrl": "http://[::1", "events": ["api:time:updated"]}'),
    ]
    for method, path, body in cases:
        answer = await http.request(method, base + path, content=body, headers=key)
        assert answer.status_code == 400, (path, body, answer.text)
        assert set(answer.json()) == {"code", "message"}
    assert world.state.records == {}
    assert world.state.hooks == {}
    await http.aclose()
