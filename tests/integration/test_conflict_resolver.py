"""The conflict-resolver's write path on real Kafka and Postgres, against the provider sandboxes.

The Everhour and Core sandboxes answer the clients over httpx's ASGI transport on fake time (a
``Retry-After`` costs nothing), except where a lost answer needs a real timeout (a socket for
Everhour, :class:`TimeoutTransport` for Core). Most scenarios call the ``EntryMapped`` handler
directly; the first and the dead-letter ones go through Kafka end to end (consumer, inbox,
outbox relay, dead-letter topic).
"""

import datetime as dt
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
from timebridge_providers.core.client import CoreClient
from timebridge_providers.everhour.client import EverhourClient

from timebridge_common.config import DlqLimitConfig, RetryConfig
from timebridge_common.connections import credential_context
from timebridge_common.crypto import SecretBox
from timebridge_common.errors import InvalidMessageError, TransientError
from timebridge_common.events import (
    ConnectionChanged,
    EntryMapped,
    EntrySynced,
    Envelope,
    IntegrationSettings,
    TimeEntryFields,
    UserRef,
)
from timebridge_common.kafka.dlt import dlt_topic
from timebridge_common.kafka.lag import group_has_read_to_end
from timebridge_common.kafka.publisher import EventPublisher
from timebridge_common.kafka.replay import replay
from timebridge_common.outbound.http import RequestBudget, RetryPolicy
from timebridge_common.testing import (
    end_offsets,
    in_memory_tracing,
    position_group_at_end,
    read_topic,
    sample_entry_mapped,
    sample_time_entry_logged,
    wait_for,
)
from timebridge_conflict_resolver.bootstrap import ConflictResolver, bootstrap
from timebridge_conflict_resolver.config import Settings
from timebridge_conflict_resolver.handlers.observations import on_time_entry_logged
from timebridge_conflict_resolver.handlers.sync import DEAD_LETTERS
from timebridge_sandboxes.core import CoreState, create_core_sandbox
from timebridge_sandboxes.everhour import EverhourState, create_everhour_sandbox
from timebridge_sandboxes.faults import WRITE_METHODS, Faults, RateLimit
from timebridge_sandboxes.testing import FakeTime, TimeoutTransport, serve

from .conftest import KAFKA, kafka_config, unique
from .resolver_entries import on_clients

EVERHOUR_URL = "http://everhour.sandbox"
CORE_URL = "http://core.sandbox"
EVERHOUR_KEY = "ek-resolver-admin"
DAY = dt.date(2026, 11, 21)
UNLIMITED = 1_000_000
_clock = itertools.count(1)


def later() -> dt.datetime:
    """A source version newer than anything before it (and than the sandboxes' records)."""
    return dt.datetime.now(dt.UTC) + dt.timedelta(hours=1, seconds=next(_clock))


class AnswerLostAfterWrite(httpx.AsyncBaseTransport):
    """Core applies the next ``world.core_unanswered_writes`` writes, then a proxy in front of it
    answers ``503``: the client cannot tell that the write happened (the sandbox's own 5xx fault
    refuses before applying)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, world: "World") -> None:
        self.inner = inner
        self.world = world

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method in WRITE_METHODS and self.world.core_unanswered_writes > 0:
            self.world.core_unanswered_writes -= 1
            await response.aread()
            return httpx.Response(503, json={"error": {"code": "unavailable"}}, request=request)
        return response


@dataclass
class World:
    everhour: EverhourState
    faults: Faults
    core: CoreState
    core_faults: Faults
    time: FakeTime
    box: SecretBox
    ann: int
    project: str
    everhour_app: Any
    core_app: Any
    resolver: ConflictResolver = field(init=False)
    core_timeout_s: float = 30.0
    core_unanswered_writes: int = 0
    after_everhour_write: Callable[[], None] | None = None
    """Someone else's change landing between a write and its read-back."""

    def everhour_client(self, base_url: str, key: str) -> EverhourClient:
        """On fake time; a served sandbox (a real socket) gets a short timeout instead."""
        budget = RequestBudget(20, 10, clock=self.time.clock, sleep=self.time.sleep)
        retry = RetryPolicy(max_attempts=3, sleep=self.time.sleep, rng=lambda: 0.5)
        if base_url != EVERHOUR_URL:
            return EverhourClient(base_url, key, budget=budget, retry=retry, timeout_s=1.0)

        async def after_write(response: httpx.Response) -> None:
            request = response.request
            writes = request.method in {"POST", "PUT"} and request.url.path.endswith("/time")
            if writes and response.is_success and self.after_everhour_write is not None:
                self.after_everhour_write()

        http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.everhour_app),
            event_hooks={"response": [after_write]},
        )
        return EverhourClient(base_url, key, http=http, budget=budget, retry=retry)

    def core_client(self, base_url: str, token: str) -> CoreClient:
        """On fake time, with a real read timeout, so a held answer is lost as over a socket."""
        transport = TimeoutTransport(self.core_app, self.core_timeout_s)
        http = httpx.AsyncClient(transport=AnswerLostAfterWrite(transport, self))
        return CoreClient(
            base_url,
            token,
            http=http,
            budget=RequestBudget(10, 1, clock=self.time.clock, sleep=self.time.sleep),
            retry=RetryPolicy(max_attempts=3, sleep=self.time.sleep, rng=lambda: 0.5),
        )

    def api(self) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.resolver.app)
        return httpx.AsyncClient(transport=transport, base_url="http://resolver")


@pytest.fixture(scope="module")
async def world(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> AsyncIterator[World]:
    kafka = kafka_config()
    # Like a new deployment, the resolver reads the connection copies from the start: it then
    # knows other runs' integrations too, whose changes on the shared topics fail as invalid
    # (credentials under another key) instead of waiting forever for a copy never published
    # after it started. They may be dead-lettered; the limit must not stop the service for it.
    now_on = [t for t in topics if not t.startswith(ConnectionChanged.topic())]
    await position_group_at_end(KAFKA, f"{kafka.group_prefix}-conflict-resolver", now_on)
    everhour, faults, core, core_faults = EverhourState(), Faults(), CoreState(), Faults()
    ann = everhour.add_user("Ann", api_key=EVERHOUR_KEY, email="ann@acme.test")
    key = SecretBox.generate_key()
    world = World(
        everhour,
        faults,
        core,
        core_faults,
        FakeTime(),
        SecretBox(key),
        ann,
        everhour.add_project("Website"),
        create_everhour_sandbox(everhour, faults, rate_limit=RateLimit(UNLIMITED, 10)),
        create_core_sandbox(core, core_faults, rate_limit=RateLimit(UNLIMITED, 1)),
    )
    tracing, _ = in_memory_tracing("conflict-resolver")
    world.resolver = resolver = bootstrap(
        Settings(
            kafka=kafka,
            encryption_key=key,
            retry=RetryConfig(max_attempts=3, initial_backoff_s=0.05, max_backoff_s=0.5),
            dlq_limit=DlqLimitConfig(max_invalid_ratio=1, max_consecutive=10**9),
        ),
        pool=await make_pool(await create_database("conflict-resolver")),
        tracer_provider=tracing,
        entries=on_clients(world.everhour_client, world.core_client),
        core=world.core_client,
    )
    await resolver.runtime.start()
    yield world
    await resolver.runtime.stop()


@dataclass
class Setup:
    """One workspace with its Core and one Everhour integration, and a fresh Everhour task."""

    world: World
    workspace: str
    integration: str
    task: str
    admin_token: str
    member_token: str
    core_user: str
    core_project: str
    ticket: str
    revision: int = 1

    async def connect(
        self,
        connection_id: str,
        provider: str,
        url: str,
        secret: str,
        status: str = "connected",
        **extra: Any,
    ) -> None:
        event = ConnectionChanged(
            workspace_id=self.workspace,
            connection_id=connection_id,
            provider=provider,
            status=status,
            base_url=url,
            credentials_encrypted=self.world.box.encrypt(
                secret, context=credential_context(connection_id)
            ),
            revision=self.revision,
            changed_at=dt.datetime.now(dt.UTC),
            **extra,
        )
        self.revision += 1
        envelope = Envelope.for_event(event, producer="ingest")
        await self.world.resolver.connections.apply("it", envelope, event)

    async def policy(
        self, policy: str, *, url: str = EVERHOUR_URL, direction: str = "two_way"
    ) -> None:
        settings = IntegrationSettings(conflict_policy=policy, direction=direction)
        await self.connect(self.integration, "everhour", url, EVERHOUR_KEY, settings=settings)

    def core_entry(self, entry_id: str, seconds: int, notes: str = "", **more: Any) -> EntryMapped:
        """A Core entry mapped to Everhour: Ann on this setup's task."""
        fields = sample_entry_mapped().entry.model_copy(
            update={
                "user": UserRef(external_id=str(self.world.ann), email="ann@acme.test"),
                "project_external_id": self.world.project,
                "task_external_id": self.task,
                "duration_seconds": seconds,
                "notes": notes,
                **more,
            }
        )
        return sample_entry_mapped(
            workspace_id=self.workspace,
            integration_id=self.integration,
            source_external_id=entry_id,
            entry=fields,
            source_entry=fields.model_copy(
                update={"user": UserRef(external_id=self.core_user, email="ann@acme.test")}
            ),
            source_updated_at=later(),
        )

    def everhour_record(self, record_id: int, seconds: int, notes: str = "") -> EntryMapped:
        """An Everhour record mapped to Core: the ticket of this setup's task."""
        everhour = TimeEntryFields(
            user=UserRef(external_id=str(self.world.ann), email="ann@acme.test"),
            project_external_id=self.world.project,
            task_external_id=self.task,
            date=DAY,
            duration_seconds=seconds,
            notes=notes,
            billable=True,
        )
        core = everhour.model_copy(
            update={
                "user": UserRef(external_id=self.core_user, email="ann@acme.test"),
                "project_external_id": self.core_project,
                "task_external_id": self.ticket,
            }
        )
        return sample_entry_mapped(
            workspace_id=self.workspace,
            integration_id=self.integration,
            source="everhour",
            source_external_id=str(record_id),
            target="core",
            entry=core,
            source_entry=everhour,
            source_updated_at=later(),
        )

    async def sync(self, event: EntryMapped, envelope: Envelope | None = None) -> EntrySynced:
        outcome = await self.world.resolver.syncer.on_entry_mapped(
            envelope or Envelope.for_event(event, producer="mapping"), event
        )
        assert outcome is not None
        return outcome

    async def record(self, date: dt.date = DAY) -> Any:
        async with self.world.everhour_client(EVERHOUR_URL, EVERHOUR_KEY) as client:
            return await client.find_time(self.task, date, self.world.ann)

    async def edit_in_everhour(self, seconds: int, comment: str | None = None) -> None:
        """Someone changes the record in Everhour itself."""
        async with self.world.everhour_client(EVERHOUR_URL, EVERHOUR_KEY) as client:
            await client.update_time(
                self.task, seconds=seconds, date=DAY, user_id=self.world.ann, comment=comment
            )

    def log_in_core(self, seconds: int, notes: str = "", **fields: Any) -> str:
        """Ann logs time in Core on this setup's ticket (the entry exists in the Core sandbox)."""
        return self.world.core.add_entry(
            self.workspace,
            self.core_user,
            fields.pop("date", DAY),
            seconds,
            project_id=self.core_project,
            ticket_id=self.ticket,
            notes=notes,
            **fields,
        )

    async def edit_in_core(self, entry_id: str, **fields: Any) -> None:
        """Someone changes the entry in Core's UI (the sandbox's admin API)."""
        transport = httpx.ASGITransport(app=self.world.core_app)
        async with httpx.AsyncClient(transport=transport, base_url=CORE_URL) as core:
            answer = await core.patch(f"/_sandbox/time-entries/{entry_id}", json=fields)
            assert answer.status_code == 200, answer.text

    def core_sighting(self, entry_id: str) -> EntryMapped:
        """What mapping publishes for the Core entry as the Core sandbox has it now."""
        entry = self.world.core.entries[entry_id]
        user = self.world.core.users[entry.user_id]
        as_core = TimeEntryFields(
            user=UserRef(external_id=entry.user_id, email=user.email, name=user.name),
            project_external_id=entry.project_id,
            task_external_id=entry.ticket_id,
            date=entry.date,
            started_at=entry.started_at,
            timezone=entry.timezone,
            duration_seconds=entry.duration_seconds,
            notes=entry.notes,
            billable=entry.billable,
        )
        as_everhour = as_core.model_copy(
            update={
                "user": UserRef(external_id=str(self.world.ann), email="ann@acme.test"),
                "project_external_id": self.world.project,
                "task_external_id": self.task if entry.ticket_id == self.ticket else None,
            }
        )
        return sample_entry_mapped(
            workspace_id=self.workspace,
            integration_id=self.integration,
            source_external_id=entry_id,
            operation="delete" if entry.deleted_at else "upsert",
            entry=as_everhour,
            source_entry=as_core,
            source_updated_at=later(),
        )

    def review(self, token: str | None = None) -> dict[str, str]:
        return {"authorization": f"Bearer {token or self.admin_token}"}


async def setup(world: World, policy: str = "manual_review", url: str = EVERHOUR_URL) -> Setup:
    workspace = unique("ws")
    admin, member = f"ct-admin-{workspace}", f"ct-member-{workspace}"
    world.core.add_user(workspace, "Core Admin", email="admin@acme.test", role="admin", token=admin)
    core_user = world.core.add_user(workspace, "Ann", email="ann@acme.test", token=member)
    core_project = world.core.add_project(workspace, "Website")
    ticket = world.core.add_ticket(workspace, "Login page", project_id=core_project)
    service = f"ct-service-{workspace}"
    world.core.add_service_token(workspace, service)
    task = world.everhour.add_task(world.project, f"Task of {workspace}")
    s = Setup(world, workspace, unique("int"), task, admin, member, core_user, core_project, ticket)
    await s.connect(f"core_{workspace}", "core", CORE_URL, service)
    await s.policy(policy, url=url)
    return s


def history(record: Any) -> list[str]:
    return [h.action for h in record.history]


async def test_a_core_entry_becomes_one_everhour_record_through_kafka(world: World) -> None:
    s = await setup(world)
    first = s.core_entry("te_1", 5400, "Fixing the login page")
    changed = first.model_copy(
        update={
            "entry": first.entry.model_copy(update={"duration_seconds": 6000}),
            "source_updated_at": later(),
        }
    )
    before = await end_offsets(KAFKA, EntrySynced.topic())
    publisher = EventPublisher(
        world.resolver.runtime.broker, world.resolver.runtime.tracer, "mapping"
    )
    envelope = Envelope.for_event(first, producer="mapping")
    for _ in range(3):  # redelivered: one write, one outcome
        await publisher.publish(first, envelope)
    await publisher.publish(changed, Envelope.for_event(changed, producer="mapping"))

    def ours(records: list[Any]) -> list[EntrySynced]:
        return outcomes_for(records, f"{s.workspace}:core:te_1".encode())

    records = await read_topic(KAFKA, before, until=lambda rs: len(ours(rs)) >= 2)
    outcomes = ours(records)
    record = await s.record()
    assert [(o.status, o.operation) for o in outcomes] == [
        ("synced", "create"),
        ("synced", "update"),
    ]
    assert outcomes[0].target_external_id == str(record.id)
    assert outcomes[0].entry == first.entry
    assert (record.user, record.task.id, record.date) == (world.ann, s.task, DAY)
    assert (record.time, record.comment) == (6000, "Fixing the login page")
    assert history(record) == ["ADD", "EDIT"]


async def test_entries_of_one_user_task_and_day_are_one_record_with_the_sum(world: World) -> None:
    s = await setup(world)
    one = await s.sync(s.core_entry("te_1", 3600, "Login page"))
    two = await s.sync(s.core_entry("te_2", 1800, "Review"))
    record = await s.record()
    assert (record.time, record.comment) == (5400, "Login page; Review")
    assert [(o.status, o.operation) for o in (one, two)] == [
        ("synced", "create"),
        ("synced", "update"),
    ]
    assert one.target_external_id == two.target_external_id == str(record.id)
    assert two.entry is not None
    assert two.entry.duration_seconds == 1800  # each entry reports its own hours, not the sum
    moved = s.core_entry("te_2", 1800, "Review", date=DAY + dt.timedelta(days=1))
    assert (await s.sync(moved)).status == "synced"
    assert (await s.record()).time == 3600
    assert (await s.record(DAY + dt.timedelta(days=1))).time == 1800


async def test_the_same_change_delivered_again_or_after_a_crash_is_written_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = await setup(world)
    event = s.core_entry("te_1", 2700, "Pairing")
    envelope = Envelope.for_event(event, producer="mapping")

    async def crash(*_: Any) -> bool:
        raise ConnectionError("the process died before recording the outcome")

    monkeypatch.setattr(world.resolver.syncer.store, "complete", crash)
    with pytest.raises(ConnectionError):
        await s.sync(event, envelope)
    monkeypatch.undo()
    assert history(await s.record()) == ["ADD"]

    resumed = await s.sync(event, envelope)
    assert (resumed.status, resumed.operation) == ("synced", "create")
    for _ in range(3):
        assert await world.resolver.syncer.on_entry_mapped(envelope, event) is None
    replayed = await s.sync(event)  # the same change under another event id
    assert (replayed.status, replayed.operation) == ("synced", "none")
    record = await s.record()
    assert (record.time, history(record)) == (2700, ["ADD"])


async def test_a_429_storm_is_waited_out_honouring_retry_after(world: World) -> None:
    s = await setup(world)
    world.time.sleeps.clear()
    world.faults.rate_limit_storm(requests=2, retry_after_s=7)
    outcome = await s.sync(s.core_entry("te_1", 3600))
    assert outcome.status == "synced"
    assert world.time.sleeps.count(7) == 2

    event = s.core_entry("te_2", 600)
    envelope = Envelope.for_event(event, producer="mapping")
    world.faults.rate_limit_storm(requests=5, retry_after_s=9)
    with pytest.raises(TransientError) as storm:  # longer than the client's attempts: the
        await s.sync(event, envelope)  # consumer retries the message with this wait
    assert storm.value.retry_after == 9
    world.faults.rate_limit_storm()
    assert (await s.sync(event, envelope)).status == "synced"
    record = await s.record()
    assert (record.time, history(record)) == (4200, ["ADD", "EDIT"])


async def test_a_lost_answer_is_looked_up_not_written_twice(world: World) -> None:
    faults = Faults()
    async with serve(create_everhour_sandbox(world.everhour, faults)) as url:
        s = await setup(world, url=url)
        faults.lose_next_responses(1, delay_s=2.5)
        outcome = await s.sync(s.core_entry("te_1", 1500, "Lost answer"))
    assert (outcome.status, outcome.operation) == ("synced", "create")
    record = await s.record()
    assert (record.time, history(record)) == (1500, ["ADD"])


async def test_a_locked_record_is_a_conflict_with_the_reason(world: World) -> None:
    s = await setup(world)
    await s.sync(s.core_entry("te_1", 3600))
    world.everhour.lock_time((await s.record()).id, invoiced=False)
    outcome = await s.sync(s.core_entry("te_1", 4500))
    assert (outcome.status, outcome.operation) == ("conflict", "none")
    assert outcome.reason is not None
    assert "locked" in outcome.reason
    assert outcome.provider_response is not None
    assert "locked" in outcome.provider_response
    assert (await s.record()).time == 3600
    async with world.api() as api:
        listed = await api.get(
            f"/v1/workspaces/{s.workspace}/integrations/{s.integration}/conflicts",
            headers=s.review(),
        )
    assert [c["kind"] for c in listed.json()] == ["locked"]


async def test_a_manual_review_conflict_is_listed_and_resolved_through_the_api(
    world: World,
) -> None:
    s = await setup(world)
    await s.sync(s.core_entry("te_1", 3600, "Login page"))
    await s.edit_in_everhour(4000)
    outcome = await s.sync(s.core_entry("te_1", 5400, "Login page"))
    assert outcome.status == "conflict"
    assert (await s.record()).time == 4000
    conflicts = f"/v1/workspaces/{s.workspace}/integrations/{s.integration}/conflicts"
    async with world.api() as api:
        assert (await api.get(conflicts)).status_code == 401
        assert (await api.get(conflicts, headers=s.review(s.member_token))).status_code == 403
        listed = (await api.get(conflicts, headers=s.review())).json()
        assert len(listed) == 1
        item = listed[0]
        assert (item["kind"], item["source_external_id"]) == ("changed", "te_1")
        assert item["source_version"]["duration_seconds"] == 5400
        assert item["target_version"]["duration_seconds"] == 4000
        resolution = f"/v1/workspaces/{s.workspace}/conflicts/{item['conflict_id']}/resolution"
        bad = await api.post(resolution, json={"keep": "harvest"}, headers=s.review())
        assert bad.status_code == 422
        answer = await api.post(resolution, json={"keep": "core"}, headers=s.review())
        assert answer.status_code == 200, answer.text
        assert (answer.json()["status"], answer.json()["operation"]) == ("synced", "update")
        again = await api.post(resolution, json={"keep": "core"}, headers=s.review())
        assert again.status_code == 409
        assert (await api.get(conflicts, headers=s.review())).json() == []
    assert (await s.record()).time == 5400


async def test_the_conflict_policy_settles_without_review(world: World) -> None:
    s = await setup(world, policy="prefer_tracker")
    await s.sync(s.core_entry("te_1", 3600))
    await s.edit_in_everhour(4000)
    kept = await s.sync(s.core_entry("te_1", 5400))
    assert (kept.status, (await s.record()).time) == ("skipped", 4000)
    assert kept.reason is not None
    assert "prefer_tracker" in kept.reason
    await s.policy("prefer_core")
    await s.edit_in_everhour(4100)
    written = await s.sync(s.core_entry("te_1", 6000))
    assert (written.status, (await s.record()).time) == ("synced", 6000)
    assert written.reason is not None
    assert "prefer_core" in written.reason


async def test_an_echo_of_timebridge_s_own_write_is_recognised(world: World) -> None:
    s = await setup(world)
    await s.sync(s.core_entry("te_1", 3600, "Login page"))
    record = await s.record()
    echo = await s.sync(s.everhour_record(record.id, 3600, "Login page"))
    assert (echo.status, echo.operation, echo.target_external_id) == ("skipped", "none", "te_1")
    assert echo.reason is not None
    assert "echo of Timebridge's own write" in echo.reason
    assert echo.entry is None  # the hours are reported once, by the Core entry
    assert not [e for e in world.core.entries.values() if e.workspace_id == s.workspace]


async def test_the_same_work_already_in_the_target_is_linked_not_duplicated(
    world: World,
) -> None:
    s = await setup(world)
    async with world.everhour_client(EVERHOUR_URL, EVERHOUR_KEY) as everhour:
        logged = await everhour.add_time(s.task, seconds=3600, date=DAY, comment="by hand")
    seen = sample_time_entry_logged(
        workspace_id=s.workspace,
        integration_id=s.integration,
        source="everhour",
        external_id=str(logged.id),
        entry=TimeEntryFields(
            user=UserRef(external_id=str(world.ann), email="Ann@acme.test"),
            task_external_id=s.task,
            date=DAY,
            duration_seconds=3600,
            billable=True,
        ),
    )
    await on_time_entry_logged(
        world.resolver.syncer.observations,  # type: ignore[arg-type]
        Envelope.for_event(seen, producer="ingest"),
        seen,
    )
    outcome = await s.sync(s.core_entry("te_1", 3600, "Login page"))
    assert (outcome.status, outcome.operation) == ("synced", "none")
    assert outcome.target_external_id == str(logged.id)
    assert outcome.reason is not None
    assert "linked to existing entry" in outcome.reason
    record = await s.record()
    assert (record.time, history(record)) == (3600, ["ADD"])
    echo = await s.sync(s.everhour_record(logged.id, 3600, "by hand"))
    assert echo.status == "skipped"  # the other side of the pair, never copied to Core


async def test_deletes_propagate(world: World) -> None:
    s = await setup(world)
    one, two = s.core_entry("te_1", 3600, "a"), s.core_entry("te_2", 1800, "b")
    await s.sync(one)
    await s.sync(two)
    gone = await s.sync(
        two.model_copy(update={"operation": "delete", "source_updated_at": later()})
    )
    assert (gone.status, gone.operation) == ("synced", "delete")
    assert ((await s.record()).time, (await s.record()).comment) == (3600, "a")
    last = await s.sync(
        one.model_copy(update={"operation": "delete", "source_updated_at": later()})
    )
    assert (last.status, last.operation) == ("synced", "delete")
    assert await s.record() is None
    never = s.core_entry("te_3", 60).model_copy(update={"operation": "delete"})
    assert (await s.sync(never)).status == "skipped"


async def test_an_everhour_record_becomes_one_core_entry_and_follows_it(world: World) -> None:
    s = await setup(world)
    created = await s.sync(s.everhour_record(4711, 5400, "From Everhour"))
    assert (created.status, created.operation) == ("synced", "create")
    entry = world.core.entries[created.target_external_id or ""]
    assert entry.external_ref == {"system": "everhour", "id": "4711"}
    assert (entry.user_id, entry.ticket_id, entry.project_id) == (
        s.core_user,
        s.ticket,
        s.core_project,
    )
    assert (entry.date, entry.duration_seconds, entry.notes) == (DAY, 5400, "From Everhour")
    keys = [key for (workspace, key) in world.core.idempotency if workspace == s.workspace]
    assert len(keys) == 1
    assert keys[0].startswith(f"timebridge:{s.integration}:everhour:4711:")

    as_core_has_it = s.everhour_record(4711, 5400, "From Everhour").entry
    echo = s.core_entry(entry.id, 5400, "From Everhour").model_copy(
        update={"source_entry": as_core_has_it}
    )
    assert (await s.sync(echo)).status == "skipped"

    updated = await s.sync(s.everhour_record(4711, 6000, "From Everhour"))
    assert (updated.status, updated.operation, entry.duration_seconds) == ("synced", "update", 6000)
    assert entry.version == 2
    world.core.entries[entry.id].locked = True
    locked = await s.sync(s.everhour_record(4711, 6600, "From Everhour"))
    assert locked.status == "conflict"
    world.core.entries[entry.id].locked = False
    deleted = await s.sync(s.everhour_record(4711, 6600).model_copy(update={"operation": "delete"}))
    assert (deleted.status, deleted.operation) == ("synced", "delete")
    assert entry.deleted_at is not None


async def test_an_entry_deleted_in_core_comes_back_when_the_tracker_wins(world: World) -> None:
    s = await setup(world, policy="prefer_tracker")
    first = await s.sync(s.everhour_record(4712, 1800, "Standup"))
    world.core.entries[first.target_external_id or ""].deleted_at = dt.datetime.now(dt.UTC)
    again = await s.sync(s.everhour_record(4712, 2400, "Standup"))
    assert (again.status, again.operation) == ("synced", "create")
    assert again.target_external_id != first.target_external_id
    live = [
        e
        for e in world.core.entries.values()
        if e.workspace_id == s.workspace and e.deleted_at is None
    ]
    assert [(e.id, e.duration_seconds, e.external_ref) for e in live] == [
        (again.target_external_id, 2400, {"system": "everhour", "id": "4712"})
    ]


async def test_a_changed_copy_is_reviewed_or_restored_by_the_policy_under_one_way(
    world: World,
) -> None:
    """Under ``core_to_tracker`` Everhour is only a target: an edit there is not carried to
    Core (mapping would not even publish it), so reaching the resolver it is reviewed."""
    s = await setup(world)
    await s.policy("manual_review", direction="core_to_tracker")
    await s.sync(s.core_entry("te_1", 3600, "Login page"))
    record = await s.record()
    await s.edit_in_everhour(4000)
    edited = await s.sync(s.everhour_record(record.id, 4000, "Login page"))
    assert (edited.status, edited.target_external_id) == ("conflict", "te_1")
    assert edited.entry is None
    await s.policy("prefer_core", direction="core_to_tracker")
    restored = await s.sync(s.everhour_record(record.id, 4000, "Login page"))
    assert (restored.status, restored.operation) == ("skipped", "update")
    assert restored.reason is not None
    assert "restored" in restored.reason
    assert (await s.record()).time == 3600
    assert not [e for e in world.core.entries.values() if e.workspace_id == s.workspace]


async def test_an_unknown_integration_is_invalid_once_the_copies_are_read_to_the_end(
    world: World,
) -> None:
    """Was: retried forever (a stalled partition). The resolver reads the connections topic
    from the start; once its group has committed the topic's end, an integration it still
    lacks will never come, so the change is dead-lettered and shows as an error."""
    s = await setup(world)
    stranger = s.core_entry("te_1", 60).model_copy(update={"integration_id": unique("int_unknown")})
    key = f"{stranger.workspace_id}:core:te_1".encode()
    await wait_for(
        lambda: group_has_read_to_end(
            KAFKA,
            next(
                c for c in world.resolver.runtime.consumers if c.model is ConnectionChanged
            ).group_id,
            ConnectionChanged.topic(),
        ),
        timeout_s=30,
    )
    with pytest.raises(InvalidMessageError, match="read to its end"):
        await s.sync(stranger)
    synced_from = await end_offsets(KAFKA, EntrySynced.topic())
    publisher = EventPublisher(
        world.resolver.runtime.broker, world.resolver.runtime.tracer, "mapping"
    )
    envelope = Envelope.for_event(stranger, producer="mapping")
    await publisher.publish(stranger, envelope)
    # Every resolver on the shared topic (other runs' too) says the same of this change.
    records = await read_topic(
        KAFKA,
        synced_from,
        until=lambda rs: bool(outcomes_for(rs, key, foreign=True)),
        timeout_s=60,
    )
    errors = outcomes_for(records, key, foreign=True)
    assert errors
    assert all(e.status == "error" and FOREIGN in (e.reason or "") for e in errors)
    # ... and this one published its own: the dead letter's inbox claim is in its database.
    store = world.resolver.syncer.store
    await wait_for(lambda: store.processed(DEAD_LETTERS, envelope.event_id), timeout_s=60)


async def test_a_disconnected_integration_is_skipped(world: World) -> None:
    s = await setup(world)
    await s.connect(
        s.integration,
        "everhour",
        EVERHOUR_URL,
        EVERHOUR_KEY,
        status="disconnected",
    )
    skipped = await s.sync(s.core_entry("te_1", 60))
    assert (skipped.status, skipped.reason) == ("skipped", "the integration is disconnected")


def core_entries(world: World, workspace: str) -> list[Any]:
    return [e for e in world.core.entries.values() if e.workspace_id == workspace]


async def conflicts_of(s: Setup) -> list[dict[str, Any]]:
    async with s.world.api() as api:
        listed = await api.get(
            f"/v1/workspaces/{s.workspace}/integrations/{s.integration}/conflicts",
            headers=s.review(),
        )
    result: list[dict[str, Any]] = listed.json()
    return result


async def resolve(s: Setup, conflict_id: str, keep: str) -> httpx.Response:
    async with s.world.api() as api:
        return await api.post(
            f"/v1/workspaces/{s.workspace}/conflicts/{conflict_id}/resolution",
            json={"keep": keep},
            headers=s.review(),
        )


async def test_an_everhour_edit_of_a_core_entry_s_copy_is_carried_back_to_core(
    world: World,
) -> None:
    s = await setup(world)
    started = dt.datetime(2026, 11, 21, 8, tzinfo=dt.UTC)
    te = s.log_in_core(3600, "Login page", started_at=started, timezone="Europe/Berlin")
    assert (await s.sync(s.core_sighting(te))).status == "synced"
    record = await s.record()
    await s.edit_in_everhour(4500)

    carried = await s.sync(s.everhour_record(record.id, 4500, "Login page"))
    assert (carried.status, carried.operation, carried.target_external_id) == (
        "synced",
        "update",
        te,
    )
    assert carried.reason is not None
    assert f"applied (duration) to core {te}" in carried.reason
    assert carried.entry is None  # the hours are the Core entry's, reported by it
    entry = world.core.entries[te]
    assert (entry.duration_seconds, entry.notes, entry.version) == (4500, "Login page", 2)
    assert (entry.started_at, entry.timezone) == (started, "Europe/Berlin")  # Core's own

    # Core's sighting of that write comes back: both sides already equal, nothing is written.
    echo = await s.sync(s.core_sighting(te))
    assert (echo.status, echo.operation) == ("synced", "none")
    assert echo.reason is not None
    assert "already holds this version" in echo.reason
    assert echo.entry is not None
    assert echo.entry.duration_seconds == 4500
    again = await s.sync(s.everhour_record(record.id, 4500, "Login page"))  # a later poll
    assert (again.status, again.target_external_id) == ("skipped", te)
    record = await s.record()
    assert (record.time, history(record)) == (4500, ["ADD", "EDIT"])
    assert [(e.id, e.version) for e in core_entries(world, s.workspace)] == [(te, 2)]

    # Deleting the copy in Everhour deletes the Core entry it copies.
    async with world.everhour_client(EVERHOUR_URL, EVERHOUR_KEY) as client:
        await client.delete_time(s.task, date=DAY, user_id=world.ann)
    gone = s.everhour_record(record.id, 4500, "Login page").model_copy(
        update={"operation": "delete"}
    )
    deleted = await s.sync(gone)
    assert (deleted.status, deleted.operation, deleted.target_external_id) == (
        "synced",
        "delete",
        te,
    )
    assert world.core.entries[te].deleted_at is not None
    after = await s.sync(s.core_sighting(te))
    assert (after.status, after.operation) == ("synced", "delete")
    assert await s.record() is None


async def test_an_edit_of_a_record_summing_several_core_entries_is_reviewed(
    world: World,
) -> None:
    s = await setup(world)
    await s.sync(s.core_entry("te_1", 3600, "a"))
    await s.sync(s.core_entry("te_2", 1800, "b"))
    record = await s.record()
    await s.edit_in_everhour(6000)
    edited = await s.sync(s.everhour_record(record.id, 6000, "a; b"))
    assert (edited.status, edited.target_external_id, edited.entry) == ("conflict", None, None)
    assert edited.reason is not None
    assert "sum of 2 core entries (core te_1, core te_2)" in edited.reason
    assert "cannot be split" in edited.reason
    [item] = await conflicts_of(s)
    assert (item["kind"], item["source"], item["source_external_id"]) == (
        "copy_changed",
        "everhour",
        str(record.id),
    )
    refused = await resolve(s, item["conflict_id"], "everhour")
    assert refused.status_code == 409
    assert "cannot be split" in refused.text
    kept_core = await resolve(s, item["conflict_id"], "core")
    assert kept_core.status_code == 200, kept_core.text
    assert (kept_core.json()["status"], kept_core.json()["operation"]) == ("skipped", "update")
    assert "restored" in kept_core.json()["reason"]
    assert (await s.record()).time == 5400
    assert not core_entries(world, s.workspace)


async def test_an_everhour_edit_while_core_changed_too_is_decided_by_the_policy(
    world: World,
) -> None:
    s = await setup(world)
    te = s.log_in_core(3600, "Login page")
    await s.sync(s.core_sighting(te))
    record = await s.record()
    await s.edit_in_core(te, notes="Changed in Core")  # not yet seen by Timebridge
    await s.edit_in_everhour(5000)

    reviewed = await s.sync(s.everhour_record(record.id, 5000, "Login page"))
    assert (reviewed.status, reviewed.target_external_id) == ("conflict", te)
    assert reviewed.reason is not None
    assert "choose which version to keep" in reviewed.reason
    [item] = await conflicts_of(s)
    assert item["kind"] == "changed"
    assert item["target_version"]["notes"] == "Changed in Core"
    entry = world.core.entries[te]
    assert (entry.duration_seconds, entry.notes) == (3600, "Changed in Core")

    await s.policy("prefer_tracker")
    won = await s.sync(s.everhour_record(record.id, 5000, "Login page"))
    assert (won.status, won.operation, won.target_external_id) == ("synced", "update", te)
    assert won.reason is not None
    assert "prefer_tracker" in won.reason
    # Only what changed in Everhour is carried: Core's own change of the notes stays.
    assert (entry.duration_seconds, entry.notes) == (5000, "Changed in Core")
    assert await conflicts_of(s) == []  # superseded by the policy's decision

    other = await setup(world, policy="prefer_core")
    te2 = other.log_in_core(1800, "Review")
    await other.sync(other.core_sighting(te2))
    await other.edit_in_core(te2, duration_seconds=2400)
    await other.edit_in_everhour(3000)
    restored = await other.sync(other.everhour_record((await other.record()).id, 3000, "Review"))
    assert (restored.status, restored.operation) == ("skipped", "update")
    assert restored.reason is not None
    assert "restored from core" in restored.reason
    assert (await other.record()).time == 1800  # back to what core te2 last had here
    assert world.core.entries[te2].duration_seconds == 2400  # Core's change wins (and syncs)
    assert (await other.sync(other.core_sighting(te2))).status == "synced"
    assert (await other.record()).time == 2400


async def test_a_core_edit_of_an_everhour_record_s_copy_is_carried_back_to_everhour(
    world: World,
) -> None:
    s = await setup(world)
    async with world.everhour_client(EVERHOUR_URL, EVERHOUR_KEY) as client:
        logged = await client.add_time(s.task, seconds=2700, date=DAY, comment="Code review")
    created = await s.sync(s.everhour_record(logged.id, 2700, "Code review"))
    copy = created.target_external_id
    assert copy is not None
    await s.edit_in_core(copy, duration_seconds=3600, notes="Code review and fixes")

    carried = await s.sync(s.core_sighting(copy))
    assert (carried.status, carried.operation, carried.target_external_id) == (
        "synced",
        "update",
        str(logged.id),
    )
    assert carried.reason is not None
    assert f"applied (duration, notes) to everhour {logged.id}" in carried.reason
    assert carried.entry is None
    record = await s.record()
    assert (record.time, record.comment, history(record)) == (
        3600,
        "Code review and fixes",
        ["ADD", "EDIT"],
    )
    # Everhour's sighting of that write comes back: Core already holds it.
    echo = await s.sync(s.everhour_record(logged.id, 3600, "Code review and fixes"))
    assert (echo.status, echo.operation) == ("synced", "none")
    assert echo.entry is not None
    assert echo.entry.duration_seconds == 3600  # the hours, reported once, by the record
    assert [(e.id, e.version) for e in core_entries(world, s.workspace)] == [(copy, 2)]
    assert history(await s.record()) == ["ADD", "EDIT"]

    # Another day, or another ticket, would be another Everhour record: reviewed, never moved.
    await s.edit_in_core(copy, date=(DAY + dt.timedelta(days=1)).isoformat())
    moved = await s.sync(s.core_sighting(copy))
    assert (moved.status, moved.target_external_id) == ("conflict", str(logged.id))
    assert moved.reason is not None
    assert "Everhour keeps one record per task, user and day" in moved.reason
    await s.policy("prefer_tracker")
    back = await s.sync(s.core_sighting(copy))
    assert (back.status, back.operation) == ("skipped", "update")
    assert world.core.entries[copy].date == DAY  # restored from Everhour
    assert (await s.record()).time == 3600


async def test_billable_is_derived_from_everhour_and_only_reported_towards_it(
    world: World,
) -> None:
    s = await setup(world)
    unbillable = world.everhour.add_task(
        world.project, f"Meetings of {s.workspace}", unbillable=True
    )
    to_everhour = s.core_entry("te_1", 1800, "Standup").model_copy(
        update={
            "entry": s.core_entry("te_1", 1800, "Standup").entry.model_copy(
                update={"task_external_id": unbillable, "billable": True}
            )
        }
    )
    synced = await s.sync(to_everhour)
    assert synced.status == "synced"  # the time is written; the flag cannot be
    assert synced.reason is not None
    assert "billable differs: core says billable, the Everhour task is unbillable" in synced.reason
    assert "reported, not written" in synced.reason

    # Everhour -> Core: billable is what the task makes it (mapping derives it from the task).
    from_task = s.everhour_record(4801, 900, "Meeting")
    from_task = from_task.model_copy(
        update={"entry": from_task.entry.model_copy(update={"billable": False})}
    )
    created = await s.sync(from_task)
    assert created.status == "synced"
    assert world.core.entries[created.target_external_id or ""].billable is False

    # A Core edit of only the billable flag of an Everhour record's copy cannot reach Everhour.
    async with world.everhour_client(EVERHOUR_URL, EVERHOUR_KEY) as client:
        logged = await client.add_time(s.task, seconds=600, date=DAY, comment="Pairing")
    copy = (await s.sync(s.everhour_record(logged.id, 600, "Pairing"))).target_external_id
    assert copy is not None
    await s.edit_in_core(copy, billable=False)
    reported = await s.sync(s.core_sighting(copy))
    assert (reported.status, reported.operation) == ("skipped", "none")
    assert reported.reason is not None
    assert "core says not billable, the Everhour task is billable" in reported.reason
    assert history(await s.record()) == ["ADD"]


async def test_a_write_read_back_as_something_else_is_an_error_never_synced(
    world: World,
) -> None:
    s = await setup(world)

    def someone_edits() -> None:
        [record] = [r for r in world.everhour.records.values() if r.task == s.task]
        record.time += 60

    world.after_everhour_write = someone_edits
    try:
        outcome = await s.sync(s.core_entry("te_1", 3600, "Login page"))
    finally:
        world.after_everhour_write = None
    assert (outcome.status, outcome.operation) == ("error", "none")
    assert outcome.reason is not None
    assert "confirmed but reading the record back shows something else" in outcome.reason
    assert outcome.provider_response is not None
    assert '"duration_seconds": 3660' in outcome.provider_response
    # Nothing was recorded as Timebridge's: the next change of the entry is reviewed, since
    # the record holds what nobody asked for.
    assert (await s.sync(s.core_entry("te_1", 3600, "Login page"))).status == "conflict"


async def test_core_429_and_5xx_on_create_make_one_entry(world: World) -> None:
    s = await setup(world)
    world.time.sleeps.clear()
    world.core_faults.rate_limit_storm(requests=2, retry_after_s=7)
    first = await s.sync(s.everhour_record(4901, 1800, "Rate limited"))
    assert (first.status, first.operation) == ("synced", "create")
    assert world.time.sleeps.count(7) == 2  # Core's Retry-After, honoured twice

    world.core_faults.fail_next(1)  # a 503 before anything is applied (the look-up)
    world.core_unanswered_writes = 2  # then the create is applied twice over, answered 503
    second = await s.sync(s.everhour_record(4902, 2700, "Flaky Core"))
    assert (second.status, second.operation) == ("synced", "create")
    assert world.core_unanswered_writes == 0

    world.core_unanswered_writes = 3  # more than the client's attempts: the message is retried
    event = s.everhour_record(4903, 3600, "Very flaky Core")
    envelope = Envelope.for_event(event, producer="mapping")
    with pytest.raises(TransientError):
        await s.sync(event, envelope)
    third = await s.sync(event, envelope)
    assert (third.status, third.operation) == ("synced", "create")

    live = [(e.external_ref["id"], e.duration_seconds) for e in core_entries(world, s.workspace)]
    assert sorted(live) == [("4901", 1800), ("4902", 2700), ("4903", 3600)]
    keys = [key for (workspace, key) in world.core.idempotency if workspace == s.workspace]
    assert len(keys) == 3


async def test_a_lost_core_answer_after_the_create_is_not_a_second_entry(world: World) -> None:
    s = await setup(world)
    world.core_timeout_s = 1.0
    world.core_faults.lose_next_responses(1, delay_s=3.0)
    try:
        outcome = await s.sync(s.everhour_record(4904, 1500, "Lost answer"))
    finally:
        world.core_timeout_s = 30.0
    assert (outcome.status, outcome.operation) == ("synced", "create")
    [entry] = core_entries(world, s.workspace)
    assert (entry.external_ref, entry.duration_seconds, entry.version) == (
        {"system": "everhour", "id": "4904"},
        1500,
        1,
    )
    assert outcome.target_external_id == entry.id


FOREIGN = "is unknown: the connections topic was read to its end without it"
"""What another run's resolver on the shared topics says of our changes: this test applies its
connections straight to this resolver's copies, so any other resolver consuming the topic knows
none of them, dead-letters our change and publishes ``error`` for it under our key."""


def outcomes_for(records: list[Any], key: bytes, *, foreign: bool = False) -> list[EntrySynced]:
    """This resolver's outcomes for ``key`` (with ``foreign``, other runs' too: see
    :data:`FOREIGN`)."""
    found = [EntrySynced.model_validate_json(r.value) for r in records if r.key == key]
    return [o for o in found if foreign or FOREIGN not in (o.reason or "")]


def from_this_run(letter: Any) -> bool:
    """A dead letter of this run's resolver, not another run's (see :data:`FOREIGN`)."""
    return not any(FOREIGN.encode() in value for _, value in letter.headers)


async def test_an_everhour_outage_past_the_retry_budget_is_waited_out_not_dead_lettered(
    world: World,
) -> None:
    """Was: after TB_RETRY__MAX_ATTEMPTS the change went to the DLT, showed as ``error`` and
    needed a replay. Transient failures are now retried until Everhour is back (issue 13)."""
    s = await setup(world)
    event = s.core_entry("te_1", 3600, "Everhour is down")
    envelope = Envelope.for_event(event, producer="mapping")
    key = f"{s.workspace}:core:te_1".encode()
    publisher = EventPublisher(
        world.resolver.runtime.broker, world.resolver.runtime.tracer, "mapping"
    )
    synced_from = await end_offsets(KAFKA, EntrySynced.topic())
    dlt_from = await end_offsets(KAFKA, dlt_topic(EntryMapped.topic()))
    # Several times what the client (3 tries) and the consumer (3 attempts) used to allow.
    world.faults.fail_next(40)
    await publisher.publish(event, envelope)
    # Generous timeouts: other runs' records on the shared topic may queue ahead of ours.
    records = await read_topic(
        KAFKA, synced_from, until=lambda rs: bool(outcomes_for(rs, key)), timeout_s=120
    )
    assert world.faults.server_errors == 0  # every injected 503 was answered: waited out
    later_change = s.core_entry("te_1", 4000, "Everhour is back")  # same key, same partition
    await publisher.publish(later_change, Envelope.for_event(later_change, producer="mapping"))
    records = await read_topic(
        KAFKA, synced_from, until=lambda rs: len(outcomes_for(rs, key)) >= 2, timeout_s=120
    )
    assert [(o.status, o.operation) for o in outcomes_for(records, key)] == [
        ("synced", "create"),
        ("synced", "update"),
    ]
    record = await s.record()
    assert (record.time, history(record)) == (4000, ["ADD", "EDIT"])
    dlt_end = await end_offsets(KAFKA, dlt_topic(EntryMapped.topic()))
    written = sum(dlt_end[tp] - dlt_from.get(tp, 0) for tp in dlt_end)
    letters = (
        await read_topic(KAFKA, dlt_from, until=lambda rs: len(rs) >= written) if written else []
    )
    assert not [r for r in letters if r.key == key and from_this_run(r)]


async def test_an_invalid_change_is_dead_lettered_and_shows_as_error(world: World) -> None:
    s = await setup(world)
    stranger = s.core_entry("te_9", 60).model_copy(update={"workspace_id": unique("ws")})
    key = f"{stranger.workspace_id}:core:te_9".encode()
    synced_from = await end_offsets(KAFKA, EntrySynced.topic())
    publisher = EventPublisher(
        world.resolver.runtime.broker, world.resolver.runtime.tracer, "mapping"
    )
    envelope = Envelope.for_event(stranger, producer="mapping")
    await publisher.publish(stranger, envelope)
    records = await read_topic(
        KAFKA, synced_from, until=lambda rs: bool(outcomes_for(rs, key)), timeout_s=60
    )
    [error] = outcomes_for(records, key)
    assert error.status == "error"
    assert error.reason is not None
    assert "dead-lettered, it cannot be synced" in error.reason
    assert f"is not in workspace {stranger.workspace_id}" in error.reason
    # It would fail the same way again: a replay holds it back unless told to include it.
    letters = await replay(
        KAFKA, dlt_topic(EntryMapped.topic()), event_ids=[str(envelope.event_id)], dry_run=True
    )
    assert letters == []
    letters = await replay(
        KAFKA,
        dlt_topic(EntryMapped.topic()),
        event_ids=[str(envelope.event_id)],
        include_invalid=True,
        dry_run=True,
    )
    assert {letter.error_class for letter in letters} == {"invalid"}


async def test_an_everhour_record_also_holding_core_entries_takes_no_edit_of_its_copy(
    world: World,
) -> None:
    s = await setup(world, policy="prefer_core")
    async with world.everhour_client(EVERHOUR_URL, EVERHOUR_KEY) as client:
        logged = await client.add_time(s.task, seconds=600, date=DAY, comment="Call")
    copy = (await s.sync(s.everhour_record(logged.id, 600, "Call"))).target_external_id
    assert copy is not None
    # A Core entry of the same task, user and day is written into that very record.
    assert (await s.sync(s.core_entry("te_9", 300, "Notes"))).status == "synced"
    await s.edit_in_core(copy, duration_seconds=900)
    edited = await s.sync(s.core_sighting(copy))
    assert (edited.status, edited.target_external_id) == ("conflict", str(logged.id))
    assert edited.reason is not None
    assert f"everhour {logged.id} also holds the time of core te_9" in edited.reason
    assert (await s.record()).time == 300  # not overwritten with the copy's 900
