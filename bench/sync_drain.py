"""The conflict-resolver alone: how fast a backlog of ``EntryMapped`` becomes ``EntrySynced``
through the Everhour sandbox with its rate limit lifted (issue 12).

Run from the repository root: ``python -m bench.sync_drain`` (``--help`` for the knobs).

It starts the resolver of the integration tests (``tests/integration/resolver_world.py``: real
Kafka and Postgres, the credential owner, the Everhour and Core sandboxes in this process, their
limits lifted), connects one workspace, produces ``--entries`` new Core entries mapped to
Everhour (each in its own task, user and day record, so every one costs a look-up, a write and
a read-back), then counts the ``EntrySynced`` published for them. It reports entries per second,
this process's CPU per entry (resolver, sandboxes and credential owner together: an upper bound
of the resolver's), Everhour requests per entry and the load average. Not a test; ``PYTHONPATH``
set to another checkout's ``src`` folders measures that code (before/after).
"""

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaProducer

from tests.integration.conftest import KAFKA, PG, RUN_ID, kafka_config
from tests.integration.resolver_world import DAY, running_world, setup
from timebridge_common.db.pool import init_connection
from timebridge_common.events import EntrySynced, Envelope
from timebridge_common.events.codec import encode
from timebridge_common.kafka.topics import all_topics, ensure_topics
from timebridge_common.testing import end_offsets, read_topic

TASKS = 50


class Counted:
    """ASGI wrapper counting the requests by method."""

    def __init__(self, app: Any) -> None:
        self.app, self.requests = app, Counter[str]()

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.requests[scope["method"]] += 1
        await self.app(scope, receive, send)


async def produce(events: list[Any]) -> None:
    """Publish ``events`` as mapping would, all in flight at once."""
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", linger_ms=20)
    await producer.start()
    try:
        sends = []
        for event in events:
            encoded = encode(event, Envelope.for_event(event, producer="mapping"))
            headers = [(k, v.encode()) for k, v in encoded.headers.items()]
            sends.append(
                await producer.send(encoded.topic, encoded.value, key=encoded.key, headers=headers)
            )
        await asyncio.gather(*sends)
    finally:
        await producer.stop()


async def drain(entries: int, timeout_s: float) -> dict[str, Any]:
    await ensure_topics(kafka_config())
    admin = await asyncpg.connect(f"{PG}/postgres")
    created: list[str] = []
    pools: list[asyncpg.Pool] = []

    async def create_database(name: str) -> str:
        db = f"bench_{RUN_ID}_{name.replace('-', '_')}"
        await admin.execute(f'CREATE DATABASE "{db}"')
        created.append(db)
        return f"{PG}/{db}"

    async def make_pool(dsn: str) -> asyncpg.Pool:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=10, init=init_connection)
        pools.append(pool)
        return pool

    creating: Callable[[str], Awaitable[str]] = create_database
    try:
        async with running_world(all_topics(), creating, make_pool) as world:
            s = await setup(world)
            tasks = [world.everhour.add_task(world.project, f"Bench {n}") for n in range(TASKS)]
            events = [
                s.core_entry(
                    f"te_{n}",
                    600 + n,
                    task_external_id=tasks[n % TASKS],
                    date=DAY - dt.timedelta(days=n // TASKS),
                )
                for n in range(entries)
            ]
            counted = Counted(world.everhour_app)
            world.everhour_app = counted
            start = await end_offsets(KAFKA, EntrySynced.topic())
            prefix = f"{s.workspace}:".encode()
            load = os.getloadavg()
            cpu, began = time.process_time(), time.monotonic()
            await produce(events)

            decoded: list[tuple[bytes, dict[str, Any]]] = []
            seen = [0]  # records decoded so far: read_topic hands over the whole list per poll

            def ours(records: list[Any]) -> list[tuple[bytes, dict[str, Any]]]:
                for r in records[seen[0] :]:
                    if r.key and r.key.startswith(prefix):
                        decoded.append((r.key, json.loads(r.value)))
                seen[0] = len(records)
                return decoded

            def synced(records: list[Any]) -> int:
                return len({k for k, v in ours(records) if v.get("status") == "synced"})

            records = await read_topic(
                KAFKA, start, until=lambda rs: synced(rs) >= entries, timeout_s=timeout_s
            )
            elapsed, cpu = time.monotonic() - began, time.process_time() - cpu
            done = synced(records)
            statuses = Counter(v.get("status") for _, v in ours(records))
            reasons = Counter(v.get("reason") for _, v in ours(records) if v.get("reason"))
            requests = sum(counted.requests.values())
            return {
                "entries": entries,
                "synced": done,
                "statuses": dict(statuses),
                "reasons": dict(reasons.most_common(3)),
                "seconds": round(elapsed, 1),
                "per_second": round(done / elapsed, 1),
                "cpu_ms_per_entry": round(1000 * cpu / max(done, 1), 2),
                "everhour_requests_per_entry": round(requests / max(done, 1), 2),
                "everhour_requests": dict(counted.requests),
                "load_average_before": [round(x, 2) for x in load],
                "load_average_after": [round(x, 2) for x in os.getloadavg()],
            }
    finally:
        for pool in pools:
            with contextlib.suppress(Exception):
                await pool.close()
        for db in created:
            await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait at most")
    parser.add_argument("--out", type=Path, help="also write the result here as JSON")
    args = parser.parse_args()
    result = asyncio.run(drain(args.entries, args.timeout))
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
