"""A consumer killed (SIGKILL) in the middle of a stream of 1,000 entries loses and duplicates
nothing: offsets are committed only after the state change, and the inbox drops what a restart
redelivers. Mapping is killed while it stores entries; the conflict-resolver while it writes
them into Everhour (a sandbox served over loopback), where a write may have happened without its
outcome being recorded: the restarted process must neither lose nor add a second of time.
"""

import asyncio
import contextlib
import datetime as dt
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer

from timebridge_common.crypto import SecretBox
from timebridge_common.events import (
    ConnectionChanged,
    EntryMapped,
    Envelope,
    Event,
    IntegrationSettings,
    TimeEntryFields,
    UserRef,
)
from timebridge_common.events.codec import encode
from timebridge_common.testing import (
    in_memory_tracing,
    position_group_at_end,
    sample_entry_mapped,
    wait_for,
)
from timebridge_ingest.bootstrap import bootstrap
from timebridge_ingest.config import Settings
from timebridge_ingest.domain.core_webhook import sign
from timebridge_sandboxes.everhour import EverhourState, create_everhour_sandbox
from timebridge_sandboxes.faults import RateLimit
from timebridge_sandboxes.testing import serve

from .conftest import KAFKA, kafka_config, unique
from .credential_owner import OWNER_SETTINGS, SERVICE_TOKEN, hold, start_tracker_owner
from .test_thin_path import core_webhook

COUNT = 1000
SECRET = "crash-secret-" + "x" * 24
TASKS, DAYS = 20, 5
"""The resolver's entries land in 100 Everhour records of 10 entries each: every record is
created once and then rewritten as the sum of its entries, the writes a crash can interrupt."""
DAY = dt.date(2026, 11, 2)
EVERHOUR_KEY = "ek-crash"


async def start_mapping(dsn: str, group_prefix: str, port: int) -> asyncio.subprocess.Process:
    return await start_service(
        "timebridge_mapping",
        dsn,
        group_prefix,
        port,
        TB_BATCH_MAX_RECORDS="20",
        TB_ENCRYPTION_KEY=SecretBox.generate_key(),
        # Required; storing entries asks the owner nothing (no provider is called here).
        TB_CREDENTIALS_URL="http://127.0.0.1:9",
        TB_SERVICE_TOKEN=SERVICE_TOKEN,
    )


STOP_S = 30.0
"""A service asked to stop (SIGTERM) has this long; a hung shutdown fails the test instead of
hanging ``make test`` (one did, for 20 minutes, under a loaded machine)."""


async def stop(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM, as an orchestrator stops a service; SIGKILL and fail if it does not stop."""
    proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), STOP_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"pid {proc.pid} did not stop within {STOP_S:g}s of SIGTERM") from None


async def start_service(
    service: str, dsn: str, group_prefix: str, port: int, **settings: str
) -> asyncio.subprocess.Process:
    """``service``'s main in its own process, once it answers ``/readyz``."""
    env = {
        **os.environ,
        "TB_KAFKA__BOOTSTRAP_SERVERS": KAFKA,
        "TB_KAFKA__GROUP_PREFIX": group_prefix,
        "TB_DATABASE__URL": dsn,
        "TB_HTTP__PORT": str(port),
        "TB_TELEMETRY__LOG_LEVEL": "WARNING",
        **settings,
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", f"{service}.entrypoints.main", env=env
    )

    async def ready() -> bool:
        try:
            async with httpx.AsyncClient() as http:
                return (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200
        except httpx.TransportError:
            return False

    # A cold interpreter importing every provider package and joining its consumer group takes
    # seconds alone, and much longer while the machine's other tests compete for two cores.
    await wait_for(ready, timeout_s=120)
    return proc


async def test_killed_consumer_loses_and_duplicates_nothing(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    kafka = kafka_config()
    prefix = f"{kafka.group_prefix}-crash"
    await position_group_at_end(KAFKA, f"{prefix}-mapping", topics)
    mapping_dsn = await create_database("mapping-crash")
    ingest_pool = await make_pool(await create_database("ingest-crash"))
    provider, _ = in_memory_tracing("ingest")
    ingest = bootstrap(
        Settings(
            kafka=kafka,
            encryption_key=SecretBox.generate_key(),
            admin_token="a",
            **OWNER_SETTINGS,  # required; the Core webhooks here reach no provider
        ),
        pool=ingest_pool,
        tracer_provider=provider,
    )
    await ingest.runtime.start()
    workspace = unique("ws")
    await ingest.secrets.put(workspace, "core", SECRET)
    mapping = await start_mapping(mapping_dsn, prefix, 18751)
    pool = await make_pool(mapping_dsn)
    try:
        transport = httpx.ASGITransport(app=ingest.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:

            async def post(n: int) -> None:
                body = core_webhook(workspace, f"dlv-{n}", f"te-{n}", duration_seconds=60 + n)
                response = await http.post(
                    f"/v1/webhooks/core/{workspace}",
                    content=body,
                    headers={
                        "content-type": "application/json",
                        "Core-Signature": sign(SECRET, int(time.time()), body),
                    },
                )
                assert response.status_code == 202, response.text

            half = COUNT // 2
            # Mapping stores batches faster than ingest accepts webhooks: it is killed while
            # the first half is still arriving, its batches small (TB_BATCH_MAX_RECORDS).
            posting = asyncio.gather(*(post(n) for n in range(half)))

            async def stored() -> int:
                # Only this workspace's: others' test runs publish to the same topic meanwhile.
                count: int = await pool.fetchval(
                    "SELECT count(*) FROM source_entries WHERE workspace_id = $1", workspace
                )
                return count

            async def midway() -> bool:
                return await stored() >= 50

            await wait_for(midway, timeout_s=60)
            mapping.send_signal(signal.SIGKILL)
            await mapping.wait()
            killed_at = await stored()
            await posting
            assert killed_at < half, "mapping finished before it was killed"
            await asyncio.gather(*(post(n) for n in range(half, COUNT)))
            mapping = await start_mapping(mapping_dsn, prefix, 18751)

        async def all_stored() -> bool:
            return await stored() == COUNT

        await wait_for(all_stored, timeout_s=90)
        rows = await pool.fetch(
            "SELECT external_id, fields FROM source_entries WHERE workspace_id = $1", workspace
        )
        durations = {r["external_id"]: r["fields"]["duration_seconds"] for r in rows}
        assert durations == {f"te-{n}": 60 + n for n in range(COUNT)}
        claims = await pool.fetchval(
            "SELECT count(*) FROM inbox i JOIN source_entries e ON e.last_event_id = i.event_id"
            " WHERE i.consumer = 'mapping.time-entry-logged' AND e.workspace_id = $1",
            workspace,
        )
        assert claims == COUNT
    finally:
        if mapping.returncode is None:
            await stop(mapping)
        await ingest.runtime.stop()


async def produce(events: list[Event]) -> None:
    """Publish ``events`` as their producers would (CloudEvents headers, entity keys)."""
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        sent = []
        for event in events:
            record = encode(event, Envelope.for_event(event, producer="test"))
            headers = [(k, v.encode()) for k, v in record.headers.items()]
            sent.append(
                await producer.send(record.topic, record.value, key=record.key, headers=headers)
            )
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def entry_mapped(
    workspace: str, integration: str, user: int, tasks: list[str], n: int
) -> EntryMapped:
    """Core entry ``te-<n>`` mapped to Everhour: ``60 + n`` seconds on a task and day by ``n``."""
    fields = TimeEntryFields(
        user=UserRef(external_id=str(user), email="ann@acme.test"),
        task_external_id=tasks[n % TASKS],
        date=day_of(n),
        duration_seconds=60 + n,
        notes=f"entry {n}",
        billable=True,
    )
    return sample_entry_mapped(
        workspace_id=workspace,
        integration_id=integration,
        source_external_id=f"te-{n:04d}",
        entry=fields,
        source_entry=fields.model_copy(update={"user": UserRef(external_id=f"u-{user}")}),
        source_updated_at=dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC),
    )


async def test_killed_resolver_writes_every_second_exactly_once(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    prefix = f"{kafka_config().group_prefix}-crash-resolver"
    await position_group_at_end(KAFKA, f"{prefix}-conflict-resolver", topics)
    dsn = await create_database("resolver-crash")
    key = SecretBox.generate_key()
    everhour = EverhourState()
    ann = everhour.add_user("Ann", api_key=EVERHOUR_KEY, email="ann@acme.test")
    project = everhour.add_project("Website")
    tasks = [everhour.add_task(project, f"Task {i}") for i in range(TASKS)]
    workspace, integration = unique("ws"), unique("int")
    sandbox = create_everhour_sandbox(
        everhour,
        rate_limit=RateLimit(10**6, 10),
        # No webhooks are registered; a transport given spares a TLS context per write.
        webhook_transport=httpx.MockTransport(lambda request: httpx.Response(204)),
    )
    settings = {
        "TB_ENCRYPTION_KEY": key,
        # The sandbox has no Everhour limit; 20 requests per 10 s would take half an hour here.
        "TB_RAISED_LIMITS__EVERHOUR": "100000",
        # An attempt killed mid-write holds its records' leases; whoever comes next waits this.
        "TB_WRITE_LEASE_S": "5",
    }
    stack = contextlib.AsyncExitStack()
    owner = await start_tracker_owner(stack, create_database, make_pool, "crash-credentials")
    async with stack, serve(owner.service.app) as owner_url, serve(sandbox) as url:
        # The resolver's process asks the owner over loopback for the key ingest handed it.
        await hold(owner, workspace, integration, "everhour", EVERHOUR_KEY, base_url=url)
        settings |= {"TB_CREDENTIALS_URL": owner_url, "TB_SERVICE_TOKEN": SERVICE_TOKEN}
        resolver = await start_service(
            "timebridge_conflict_resolver", dsn, prefix, 18753, **settings
        )
        pool = await make_pool(dsn)
        try:
            connection = ConnectionChanged(
                workspace_id=workspace,
                connection_id=integration,
                provider="everhour",
                status="connected",
                base_url=url,
                settings=IntegrationSettings(),
                revision=1,
                changed_at=dt.datetime.now(dt.UTC),
            )
            await produce([connection])

            async def connected() -> bool:
                found: bool = await pool.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM connections WHERE connection_id = $1)",
                    integration,
                )
                return found

            await wait_for(connected, timeout_s=60)

            async def synced() -> int:
                count: int = await pool.fetchval(
                    "SELECT count(*) FROM inbox WHERE consumer = 'conflict-resolver.entry-mapped'"
                )
                return count

            await produce(
                [entry_mapped(workspace, integration, ann, tasks, n) for n in range(COUNT)]
            )
            await wait_for(lambda: _at_least(synced, 100), timeout_s=60)
            resolver.send_signal(signal.SIGKILL)
            await resolver.wait()
            killed_at = await synced()
            assert killed_at < COUNT, "the resolver finished before it was killed"
            resolver = await start_service(
                "timebridge_conflict_resolver", dsn, prefix, 18753, **settings
            )
            await wait_for(lambda: _at_least(synced, COUNT), timeout_s=180)
        finally:
            if resolver.returncode is None:
                await stop(resolver)

    expected: dict[tuple[str, dt.date], list[int]] = {}
    for n in range(COUNT):
        expected.setdefault((tasks[n % TASKS], day_of(n)), []).append(n)
    held = {(r.task, r.date): r for r in everhour.records.values()}
    assert set(held) == set(expected)
    for where, ns in expected.items():
        record = held[where]
        assert (record.user, record.time) == (ann, sum(60 + n for n in ns)), where
        assert record.comment == "; ".join(f"entry {n}" for n in sorted(ns))
        actions = [h["action"] for h in record.history]
        assert actions.count("ADD") == 1, (where, actions)  # created once, never added to
    links = await pool.fetchval("SELECT count(*) FROM sync_links WHERE active")
    assert links == COUNT
    assert await pool.fetchval("SELECT count(*) FROM sync_intents") == 0  # no lease left


def day_of(n: int) -> dt.date:
    return DAY + dt.timedelta(days=n // TASKS % DAYS)


async def _at_least(count: Callable[[], Awaitable[int]], wanted: int) -> bool:
    return await count() >= wanted
