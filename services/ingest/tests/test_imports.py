"""History imports on in-memory fakes: windows, progress, and what each failure does to a run.

The tracker is a fake listing records by date (no change feed: what a window listing provider
does, stamping records with the ``now`` it is asked at); Kafka is faststream's test broker.
"""

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from timebridge_providers.kit.ports.observe import Change, ChangePage, Hint

from timebridge_common.errors import TransientError
from timebridge_common.events import IntegrationSettings, TimeEntryFields, TimeEntryLogged, UserRef
from timebridge_common.events.codec import decode
from timebridge_common.kafka.dlt import decode_headers
from timebridge_common.kafka.publisher import EventPublisher
from timebridge_common.outbound.http import AuthenticationError, ProviderError
from timebridge_common.testing import in_memory_tracing
from timebridge_ingest.domain.connections import Integration
from timebridge_ingest.domain.errors import RejectedError
from timebridge_ingest.domain.imports import ImportRun, plan
from timebridge_ingest.handlers.imports import ImportRunner, Imports

NOW = dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC)
INTEGRATION = Integration(
    integration_id="int_1",
    workspace_id="ws",
    provider="tracker-x",
    base_url="http://tracker.test",
    api_key="key",
    status="connected",
    settings=IntegrationSettings(frequency="hourly"),
)


def on(day: dt.date, seconds: int = 3600) -> TimeEntryFields:
    return TimeEntryFields(
        user=UserRef(external_id="u1"), date=day, duration_seconds=seconds, billable=True
    )


@dataclass
class DatedTracker:
    """Records by id; a listing returns those dated from ``now - lookback`` to a day past now."""

    records: dict[str, TimeEntryFields] = field(default_factory=dict)
    asked: list[tuple[dt.date, dt.date]] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)
    hooks: None = None

    async def changes(
        self, cursor: str | None, *, now: dt.datetime, lookback: dt.timedelta
    ) -> ChangePage:
        assert cursor is None, "an import lists afresh"
        if self.failures:
            raise self.failures.pop(0)
        first, last = (now - lookback).date(), (now + dt.timedelta(days=1)).date()
        self.asked.append((first, last))
        listed = [
            Change(record, fields, now)
            for record, fields in self.records.items()
            if first <= fields.date <= last
        ]
        return ChangePage(listed, "{}")

    async def reread(self, hints: Sequence[Hint], *, now: dt.datetime) -> list[Change]:
        raise NotImplementedError


@dataclass
class MemoryTx:
    integrations: dict[str, Integration]

    async def integration(self, integration_id: str, *, for_update: bool = False) -> Any:
        return self.integrations.get(integration_id)


@dataclass
class MemoryConnections:
    integrations: dict[str, Integration] = field(
        default_factory=lambda: {INTEGRATION.integration_id: INTEGRATION}
    )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Any]:
        yield MemoryTx(self.integrations)


@dataclass
class MemoryImports:
    rows: dict[str, ImportRun] = field(default_factory=dict)
    leased: set[str] = field(default_factory=set)
    history: list[ImportRun] = field(default_factory=list)

    async def add(self, run: ImportRun) -> ImportRun | None:
        for held in self.rows.values():
            if held.integration_id == run.integration_id and held.active:
                return held
        self.rows[run.import_id] = run
        return None

    async def runs(self, workspace_id: str, integration_id: str, limit: int) -> list[ImportRun]:
        return [r for r in self.rows.values() if r.integration_id == integration_id][:limit]

    async def get(self, workspace_id: str, integration_id: str, import_id: str) -> ImportRun | None:
        return self.rows.get(import_id)

    async def claim(self, now: dt.datetime, lease: dt.timedelta) -> ImportRun | None:
        due = [
            r
            for r in self.rows.values()
            if r.active and r.import_id not in self.leased and (r.next_attempt_at or now) <= now
        ]
        if not due:
            return None
        self.leased.add(due[0].import_id)
        return due[0]

    async def save(self, run: ImportRun, *, claimed: ImportRun) -> bool:
        self.leased.discard(run.import_id)
        if self.rows[run.import_id] != claimed:
            return False
        self.rows[run.import_id] = run
        self.history.append(run)
        return True


@pytest.fixture
async def kafka() -> AsyncIterator[tuple[EventPublisher, list[TimeEntryLogged]]]:
    broker = KafkaBroker()
    published: list[TimeEntryLogged] = []

    @broker.subscriber(TimeEntryLogged.topic())
    async def capture(msg: KafkaMessage) -> None:
        record = msg.raw_message
        assert not isinstance(record, tuple)
        published.append(decode(decode_headers(record.headers), record.value, TimeEntryLogged)[1])

    async with TestKafkaBroker(broker) as br:
        tracer = in_memory_tracing("ingest")[0].get_tracer("ingest")
        yield EventPublisher(br, tracer, "ingest"), published


@dataclass
class Rig:
    tracker: DatedTracker
    store: MemoryImports
    connections: MemoryConnections
    runner: ImportRunner
    imports: Imports
    published: list[TimeEntryLogged]
    clock: list[dt.datetime]


@pytest.fixture
def rig(kafka: tuple[EventPublisher, list[TimeEntryLogged]]) -> Rig:
    tracker, store, connections = DatedTracker(), MemoryImports(), MemoryConnections()
    clock = [NOW]

    async def observer(integration: Integration) -> DatedTracker:
        return tracker

    runner = ImportRunner(
        store=store,
        connections=connections,
        open_observer=observer,
        publisher=kafka[0],
        clock=lambda: clock[0],
        publish_timeout_s=5,
    )
    imports = Imports(store, connections, lambda: clock[0], on_added=runner.wake)
    return Rig(tracker, store, connections, runner, imports, kafka[1], clock)


async def start(rig: Rig, first: dt.date, last: dt.date | None = None) -> ImportRun:
    return await rig.imports.start("ws", "int_1", kind="initial", from_date=first, to_date=last)


def day(d: int, month: int = 10) -> dt.date:
    return dt.date(2026, month, d)


async def test_a_run_covers_its_period_window_by_window_and_progress_moves(rig: Rig) -> None:
    for n, d in enumerate((1, 3, 9, 15, 20, 20, 30)):
        rig.tracker.records[f"r{n}"] = on(day(d), 600 * (n + 1))
    rig.tracker.records["before"] = on(day(30, 9))  # outside the period
    rig.tracker.records["after"] = on(day(5, 11))
    run = await start(rig, day(1), day(31))
    assert (run.state, run.percent, run.days_total, run.windows_total) == ("queued", 0, 31, 5)

    await rig.runner.drain()

    seen = [(r.days_done, r.percent, r.entries_observed, r.state) for r in rig.store.history]
    assert seen == [
        (7, 22, 2, "running"),
        (14, 45, 3, "running"),
        (21, 67, 6, "running"),
        (28, 90, 6, "running"),
        (31, 100, 7, "done"),
    ]
    done = rig.store.rows[run.import_id]
    assert (done.started_at, done.finished_at, done.windows_done) == (NOW, NOW, 5)
    # Each window is listed a day wider on both sides; only entries dated inside it are taken.
    assert rig.tracker.asked[0] == (day(30, 9), day(9))
    assert sorted(e.external_id for e in rig.published) == [f"r{n}" for n in range(7)]
    # Stamped with the window's past end by the provider, re-stamped with when it was seen.
    assert {e.updated_at for e in rig.published} == {NOW}
    assert {e.integration_id for e in rig.published} == {"int_1"}


async def test_one_unfinished_run_per_integration_and_periods_refused_in_words(rig: Rig) -> None:
    await start(rig, day(1), day(10))
    with pytest.raises(RejectedError) as again:
        await start(rig, day(1), day(10))
    assert again.value.status == 409
    assert "not finished yet" in again.value.reason
    with pytest.raises(RejectedError) as backwards:
        await rig.imports.start("ws", "int_2", kind="backfill", from_date=day(1), to_date=None)
    assert backwards.value.status == 404
    other_workspace = rig.imports.start(
        "ws-2", "int_1", kind="backfill", from_date=day(1), to_date=None
    )
    with pytest.raises(RejectedError):
        await other_workspace
    with pytest.raises(ValueError, match="starts"):
        plan("x", workspace_id="ws", integration_id="i", kind="backfill", from_date=day(10),
             to_date=day(1), today=NOW.date(), now=NOW)  # fmt: skip
    with pytest.raises(ValueError, match="future"):
        plan("x", workspace_id="ws", integration_id="i", kind="backfill", from_date=day(10),
             to_date=day(10, 12), today=NOW.date(), now=NOW)  # fmt: skip
    await rig.runner.drain()
    assert (await start(rig, day(1), day(2))).state == "queued"  # the first one finished


async def test_a_one_way_core_to_tracker_integration_imports_nothing(rig: Rig) -> None:
    one_way = replace(INTEGRATION, settings=IntegrationSettings(direction="core_to_tracker"))
    rig.connections.integrations["int_1"] = one_way
    with pytest.raises(RejectedError) as refused:
        await start(rig, day(1))
    assert refused.value.status == 422


async def test_an_unavailable_tracker_is_retried_and_the_progress_kept(rig: Rig) -> None:
    rig.tracker.records["a"] = on(day(2))
    rig.tracker.records["b"] = on(day(12))
    run = await start(rig, day(1), day(14))
    assert await rig.runner.step()  # the first window
    rig.tracker.failures.append(TransientError("503 from the tracker", retry_after=120))
    assert await rig.runner.step()
    held = rig.store.rows[run.import_id]
    assert (held.state, held.days_done, held.entries_observed) == ("running", 7, 1)
    assert held.last_error == "503 from the tracker"
    assert held.next_attempt_at == NOW + dt.timedelta(seconds=120)
    assert not await rig.runner.step()  # not due yet
    rig.clock[0] = NOW + dt.timedelta(minutes=3)
    await rig.runner.drain()
    done = rig.store.rows[run.import_id]
    assert (done.state, done.entries_observed, done.last_error) == ("done", 2, None)


async def test_a_refused_credential_parks_the_run_until_it_is_accepted_again(rig: Rig) -> None:
    rig.tracker.records["a"] = on(day(2))
    run = await start(rig, day(1), day(3))
    rig.tracker.failures.append(
        AuthenticationError("tracker-x", "GET", "/time", 401, "token revoked")
    )
    await rig.runner.drain()
    waiting = rig.store.rows[run.import_id]
    assert waiting.state == "waiting"
    assert "reconnect" in (waiting.last_error or "")
    assert waiting.percent == 0
    assert not await rig.runner.step()  # parked until the next attempt
    rig.clock[0] = NOW + dt.timedelta(minutes=1)
    await rig.runner.drain()
    assert rig.store.rows[run.import_id].state == "done"


async def test_a_request_the_tracker_refuses_fails_the_run_with_its_reason(rig: Rig) -> None:
    run = await start(rig, day(1), day(3))
    rig.tracker.failures.append(
        ProviderError("tracker-x", "GET", "/time", 400, "start must be within 3 months")
    )
    await rig.runner.drain()
    failed = rig.store.rows[run.import_id]
    assert failed.state == "failed"
    assert "3 months" in (failed.last_error or "")
    assert failed.finished_at == NOW


async def test_a_disconnected_integration_cancels_its_run(rig: Rig) -> None:
    run = await start(rig, day(1), day(20))
    assert await rig.runner.step()
    rig.connections.integrations["int_1"] = INTEGRATION.disconnected()
    await rig.runner.drain()
    cancelled = rig.store.rows[run.import_id]
    assert (cancelled.state, cancelled.days_done) == ("cancelled", 7)


async def test_a_stale_claim_records_nothing(rig: Rig) -> None:
    rig.tracker.records["a"] = on(day(2))
    run = await start(rig, day(1), day(3))
    claimed = await rig.store.claim(NOW, dt.timedelta(minutes=10))
    assert claimed is not None
    rig.store.rows[run.import_id] = replace(claimed, windows_done=1)  # another replica went on
    assert not await rig.store.save(replace(claimed, state="done"), claimed=claimed)
