"""A scheduled sync slot holding 10,000 Core entries: how fast mapping releases them (issue 12).

Run from the repository root: ``python -m bench.slot_release`` (``--help`` for the knobs).

Mapping runs in this process as in the slot integration test (``tests/integration/mapping_world``:
real Kafka and PostgreSQL, the Everhour and Core sandboxes in process), on a clock of its own so
the slot need not be waited for: a 5-minute integration is created just after a slot boundary,
``--entries`` new Core entries (one user, one ticket, as a team logging a day) are produced to
``TimeEntryLogged``, the bench waits until every one waits for the next slot, then moves mapping's
clock to the slot and measures until every wait is gone (*released*: mapped and staged in the
outbox, one transaction per chunk) and until every ``EntryMapped`` is on Kafka (*published*).

The CPU figure is the whole process's (mapping, both sandboxes, the bench's own producer and
reader) over the release: an upper bound of mapping's. Syncing the released entries on to the
tracker is the conflict-resolver's (``bench.sync_drain``, ``bench.sync_limit``).
"""

import argparse
import asyncio
import datetime as dt
import json
import os
import resource
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.accept import ROOT
from timebridge_common.db.pool import init_connection
from timebridge_common.events import EntryMapped, Envelope
from timebridge_common.events.codec import encode
from timebridge_common.kafka.dlt import decode_headers
from timebridge_common.kafka.topics import all_topics, ensure_topics

GOAL_PER_SECOND = 1000.0
"""Issue 12: the slot releases at the sync rate (>= 1,000 entries/s end to end)."""
MAPPING = "/timebridge/mapping"


@asynccontextmanager
async def databases(pg: str, run_id: str) -> AsyncIterator[tuple[Any, Any]]:
    """``create_database`` and ``make_pool`` as the integration tests have them; all dropped."""
    admin = await asyncpg.connect(f"{pg}/postgres")
    created: list[str] = []
    pools: list[asyncpg.Pool] = []

    async def create(name: str) -> str:
        db = f"bench_{run_id}_{name.replace('-', '_')}"
        await admin.execute(f'CREATE DATABASE "{db}"')
        created.append(db)
        return f"{pg}/{db}"

    async def make(dsn: str) -> asyncpg.Pool:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=5, init=init_connection)
        pools.append(pool)
        return pool

    try:
        yield create, make
    finally:
        for pool in pools:
            await pool.close()
        for db in created:
            await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()


async def count(pool: asyncpg.Pool, query: str, *args: object) -> int:
    found: int = await pool.fetchval(query, *args)
    return found


async def until(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> float:
    """Poll ``check`` every 50 ms; the seconds it took."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > timeout_s:
            raise TimeoutError(f"{what}: not within {timeout_s:.0f} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


class Published:
    """Counts the ``EntryMapped`` mapping publishes for one workspace (each record read once)."""

    def __init__(self, kafka: str, workspace: str) -> None:
        self.workspace = workspace
        self.count = 0
        self._consumer = AIOKafkaConsumer(EntryMapped.topic(), bootstrap_servers=kafka)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._consumer.start()  # no group: latest offsets, before anything is released
        await self._consumer.seek_to_end()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=200, max_records=5000)
            for records in batches.values():
                for r in records:
                    headers = decode_headers(r.headers)
                    if (headers.get("ce_workspaceid"), headers.get("ce_source")) == (
                        self.workspace,
                        MAPPING,
                    ):
                        self.count += 1

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        await self._consumer.stop()


async def produce(kafka: str, events: list[Any]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka, acks="all", enable_idempotence=True, linger_ms=20
    )
    await producer.start()
    try:
        pending = []
        for event in events:
            encoded = encode(event, Envelope.for_event(event, producer="ingest"))
            pending.append(
                await producer.send(
                    encoded.topic,
                    encoded.value,
                    key=encoded.key,
                    headers=[(k, v.encode()) for k, v in encoded.headers.items()],
                )
            )
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def release(args: argparse.Namespace) -> dict[str, Any]:
    # The integration tests' world: imported here, it needs the repository root on the path.
    from tests.integration.mapping_world import running_world, workspace  # noqa: PLC0415

    entries: int = args.entries
    run_id = uuid.uuid4().hex[:8]
    pg = f"postgresql://timebridge:timebridge@127.0.0.1:{args.pg_port}"
    from tests.integration.conftest import kafka_config  # noqa: PLC0415

    await ensure_topics(kafka_config())
    async with (
        databases(pg, run_id) as (create, make),
        running_world(all_topics(), create, make) as world,
    ):
        now = world.clock()
        boundary = now.replace(second=0, microsecond=0) - dt.timedelta(minutes=now.minute % 5)
        world.clock.offset += boundary + dt.timedelta(minutes=5, seconds=1) - now
        ws = await workspace(world, frequency="every_5_minutes")
        ann, _ = ws.person("Ann")
        ticket = ws.ticket("Quarterly report")
        world.everhour.add_task(ws.everhour_project, "Quarterly report")
        waiting = "SELECT count(*) FROM scheduled_entries WHERE integration_id = $1"
        events = [ws.entry(f"te_{n}", ann, ticket=ticket) for n in range(entries)]
        load_before = os.getloadavg()[0]
        started = time.monotonic()
        await produce(args.kafka, events)

        async def all_waiting() -> bool:
            return await count(world.pool, waiting, ws.integration_id) == entries

        await until(all_waiting, args.timeout, "entries waiting for the slot")
        waited_s = time.monotonic() - started
        published = Published(args.kafka, ws.id)
        await published.start()
        try:
            due_at: dt.datetime = await world.pool.fetchval(
                "SELECT max(due_at) FROM scheduled_entries WHERE integration_id = $1",
                ws.integration_id,
            )
            load = os.getloadavg()[0]
            cpu_before = cpu_s()
            world.clock.offset += due_at - world.clock() + dt.timedelta(seconds=1)

            async def all_released() -> bool:
                return await count(world.pool, waiting, ws.integration_id) == 0

            async def all_published() -> bool:
                return published.count >= entries

            released_s = await until(all_released, args.timeout, "release")
            published_s = released_s + await until(all_published, args.timeout, "publish")
            cpu = cpu_s() - cpu_before
        finally:
            await published.stop()
    return {
        "entries": entries,
        "seconds_to_wait_for_the_slot": round(waited_s, 1),
        "released_s": round(released_s, 2),
        "published_s": round(published_s, 2),
        "released_per_second": round(entries / released_s, 1),
        "published_per_second": round(entries / published_s, 1),
        "process_cpu_ms_per_entry": round(1000 * cpu / entries, 3),
        "process_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_average_1m": round(load, 2),
        "load_average_1m_at_start": round(load_before, 2),
        "goal_per_second": GOAL_PER_SECOND,
        "met": entries / published_s >= GOAL_PER_SECOND,
    }


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--entries", type=int, default=10_000)
    p.add_argument("--timeout", type=float, default=300.0, help="per step, seconds")
    p.add_argument("--kafka", default="127.0.0.1:19092")
    p.add_argument("--pg-port", type=int, default=15432)
    p.add_argument("--out", type=Path, help="also write the result here as JSON")
    return p


def run(args: argparse.Namespace) -> dict[str, Any]:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return asyncio.run(release(args))


def main() -> int:
    args = parser().parse_args()
    result = run(args)
    print(json.dumps(result, indent=2))
    print(
        f"slot of {result['entries']}: released in {result['released_s']} s, all EntryMapped"
        f" published in {result['published_s']} s = {result['published_per_second']:.0f}/s"
        f" (goal >= {GOAL_PER_SECOND:g}/s: {'met' if result['met'] else 'MISSED'}), load"
        f" {result['load_average_1m']}"
    )
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
