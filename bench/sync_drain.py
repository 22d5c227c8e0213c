"""The conflict-resolver as its own process: how fast ``EntryMapped`` becomes ``EntrySynced``
through the Everhour sandbox with its rate limit lifted, and how long each takes (issue 12).

Run from the repository root: ``python -m bench.sync_drain`` (``--help`` for the knobs).

Each piece runs as its own process (:mod:`bench.sync_served`): the Everhour sandbox served over
HTTP with its limit lifted, the credential owner and the conflict-resolver started by the dev
launcher (the resolver's Everhour budget raised to match). The bench connects one workspace as
ingest would (the key to the owner, ``ConnectionChanged`` on Kafka), syncs one warm-up entry,
then produces new Core entries mapped to Everhour as mapping would (each in its own task, user
and day record, so each costs a look-up, a write and a read-back) and reads their
``EntrySynced``. Two modes:

* **drain** (default): ``--entries`` produced at once; entries synced per second;
* **paced** (``--rate R --seconds S``): ``R`` entries per second offered for ``S`` seconds;
  latency from each ``EntryMapped`` produced to its ``EntrySynced`` published (the records'
  Kafka timestamps), p50/p90/p99/max, and entries synced per second.

CPU is reported per synced entry for each process apart (resolver, Everhour sandbox, credential
owner, this bench) and for the whole machine (Kafka, PostgreSQL and everything else running on
it), with Everhour requests per entry and the load average. ``PYTHONPATH`` set to another
checkout's ``src`` folders measures that code (the launcher's children inherit it). Not a test.

On a shared broker other sessions' resolvers read this run's ``EntryMapped`` and this resolver
reads theirs (``other_resolvers_errors`` counts the first; the second inflates CPU and
transactions per entry): ``--kafka`` at a private broker isolates a run (e.g. ``infra.sh``'s
``kafka_up`` with ``TIMEBRIDGE_STATE_DIR`` and ``TIMEBRIDGE_KAFKA_PORT`` of its own).
"""

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.sync_served import Served, connect, drop_databases, served
from timebridge_common.config import KafkaConfig
from timebridge_common.events import EntryMapped, EntrySynced, Envelope, UserRef
from timebridge_common.events.codec import encode
from timebridge_common.kafka.topics import all_topics, ensure_topics
from timebridge_common.testing import end_offsets, sample_entry_mapped

DAY = dt.date(2026, 11, 21)
FOREIGN = ("no credential for connection", "the connections topic was read to its end")
"""Reasons another resolver on the shared broker gives for our changes (it reads our
connection from the shared topic but its owner holds no key of ours): not this run's."""


def entry(s: Served, workspace: str, integration: str, n: int, name: str) -> EntryMapped:
    """A new Core entry mapped to Everhour: Ann on one task, one day (its own record)."""
    tasks = s.world["tasks"]
    date = DAY - dt.timedelta(days=n // len(tasks))
    fields = sample_entry_mapped().entry.model_copy(
        update={
            "user": UserRef(external_id=str(s.world["user"]), email="ann@acme.test"),
            "project_external_id": s.world["project"],
            "task_external_id": tasks[n % len(tasks)],
            "duration_seconds": 600 + n,
            "date": date,
            "started_at": None,
        }
    )
    return sample_entry_mapped(
        workspace_id=workspace,
        integration_id=integration,
        source_external_id=name,
        entry=fields,
        source_entry=fields.model_copy(
            update={"user": UserRef(external_id="cu_ann", email="ann@acme.test")}
        ),
        source_updated_at=dt.datetime.now(dt.UTC),
    )


class Outcomes:
    """Reads ``EntrySynced`` of one workspace from given offsets: per entry its first
    ``synced`` record's timestamp (ms), and every status seen."""

    def __init__(self, kafka: str, workspace: str) -> None:
        self.kafka, self.prefix = kafka, f"{workspace}:".encode()
        self.synced: dict[str, int] = {}
        self.statuses: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.foreign = 0
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        start = await end_offsets(self.kafka, EntrySynced.topic())
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.kafka, enable_auto_commit=False)
        await self._consumer.start()
        self._consumer.assign(list(start))
        for tp, offset in start.items():
            self._consumer.seek(tp, offset)

    async def until(self, done: int, timeout_s: float) -> None:
        assert self._consumer is not None
        deadline = time.monotonic() + timeout_s
        while len(self.synced) < done and time.monotonic() < deadline:
            batches = await self._consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                for r in batch:
                    if not (r.key and r.key.startswith(self.prefix)):
                        continue
                    value = json.loads(r.value)
                    if any(f in (value.get("reason") or "") for f in FOREIGN):
                        self.foreign += 1
                        continue
                    self.statuses[value["status"]] += 1
                    if value.get("reason") and value["status"] != "synced":
                        self.reasons[value["reason"][:120]] += 1
                    if value["status"] == "synced":
                        self.synced.setdefault(value["source_external_id"], r.timestamp)

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()


async def send_all(
    producer: AIOKafkaProducer, events: list[EntryMapped], rate: float | None
) -> dict[str, int]:
    """Produce ``events`` (at ``rate`` per second, or all at once); when each was sent (ms)."""
    encoded = [encode(e, Envelope.for_event(e, producer="mapping")) for e in events]
    sent: dict[str, int] = {}
    pending = []
    began = time.monotonic()
    for i, (event, record) in enumerate(zip(events, encoded, strict=True)):
        if rate:
            delay = began + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        headers = [(k, v.encode()) for k, v in record.headers.items()]
        sent[event.source_external_id] = int(time.time() * 1000)
        pending.append(
            await producer.send(record.topic, record.value, key=record.key, headers=headers)
        )
    await asyncio.gather(*pending)
    return sent


async def transactions(args: argparse.Namespace, run_id: str) -> int:
    """Transactions committed in the resolver's database so far (each statement outside a
    transaction is one): its round trips' lower bound, the relay's and the budget's included."""
    pg = f"postgresql://timebridge:timebridge@127.0.0.1:{args.pg_port}/postgres"
    conn = await asyncpg.connect(pg)
    try:
        found = await conn.fetchval(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1",
            f"bench_{run_id}_tb_conflict_resolver",
        )
        return int(found or 0)
    finally:
        await conn.close()


def percentile(values: list[int], p: float) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(p * len(ordered)))]) if ordered else float("nan")


async def measure(s: Served, args: argparse.Namespace) -> dict[str, Any]:
    workspace, integration = f"bench-{s.run_id}", f"int_bench_{s.run_id}"
    await connect(s, args.kafka, workspace, integration)
    outcomes = Outcomes(args.kafka, workspace)
    await outcomes.start()
    producer = AIOKafkaProducer(bootstrap_servers=args.kafka, acks="all", linger_ms=5)
    await producer.start()
    try:  # warm-up: the connection copy read, every pool and client opened
        await send_all(producer, [entry(s, workspace, integration, -1, "warm")], None)
        await outcomes.until(1, args.timeout)
        if "warm" not in outcomes.synced:
            raise RuntimeError(f"warm-up entry not synced: {dict(outcomes.statuses)}")
        count = round(args.rate * args.seconds) if args.rate else args.entries
        events = [entry(s, workspace, integration, n, f"te_{n}") for n in range(count)]
        load, cpu, began = os.getloadavg(), s.cpu(), time.monotonic()
        requests, commits = s.everhour_requests(), await transactions(args, s.run_id)
        sent = await send_all(producer, events, args.rate)
        await outcomes.until(count + 1, args.timeout)
        elapsed, spent = time.monotonic() - began, s.cpu()
        served_requests = Counter(s.everhour_requests())
        served_requests.subtract(requests)
        await asyncio.sleep(1.0)  # PostgreSQL flushes a backend's statistics within a second
        commits = await transactions(args, s.run_id) - commits
    finally:
        await producer.stop()
        await outcomes.stop()
    done = len(sent.keys() & outcomes.synced.keys())
    latency = [outcomes.synced[k] - t for k, t in sent.items() if k in outcomes.synced]
    per_entry = {name: round(1000 * (spent[name] - cpu[name]) / max(done, 1), 3) for name in cpu}
    result: dict[str, Any] = {
        "mode": f"paced at {args.rate:g}/s for {args.seconds:g} s" if args.rate else "drain",
        "entries": count,
        "synced": done,
        "statuses": dict(outcomes.statuses),
        "reasons": dict(outcomes.reasons.most_common(3)),
        "other_resolvers_errors": outcomes.foreign,
        "seconds": round(elapsed, 1),
        "per_second": round(done / elapsed, 1),
        "cpu_ms_per_entry": per_entry["resolver"],
        "cpu_ms_per_entry_by_process": per_entry,
        "everhour_requests_per_entry": round(sum(served_requests.values()) / max(done, 1), 2),
        "everhour_requests": {k: v for k, v in served_requests.items() if v},
        "resolver_transactions_per_entry": round(commits / max(done, 1), 2),
        "load_average_before": [round(x, 2) for x in load],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "settings": {k: v for k, v in os.environ.items() if k.startswith("TB_SYNC")},
    }
    if latency:
        result["latency_ms"] = {
            "p50": percentile(latency, 0.5),
            "p90": percentile(latency, 0.9),
            "p99": percentile(latency, 0.99),
            "max": float(max(latency)),
        }
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    pg = f"postgresql://timebridge:timebridge@127.0.0.1:{args.pg_port}"
    asyncio.run(ensure_topics(KafkaConfig(bootstrap_servers=args.kafka), all_topics()))
    try:
        with served(args.kafka, run_id, tasks=args.tasks, env={}) as s:
            if args.profile:
                print(f"resolver pid {s.resolver_pid}, Everhour sandbox pid {s.everhour.pid}")
                sys.stdout.flush()
            return asyncio.run(measure(s, args))
    finally:
        asyncio.run(drop_databases(pg, run_id))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=2000, help="drain: entries produced")
    parser.add_argument("--rate", type=float, help="paced: entries offered per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="paced: for how long")
    parser.add_argument("--tasks", type=int, default=50, help="Everhour tasks entries spread on")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait at most")
    parser.add_argument("--kafka", default="127.0.0.1:19092")
    parser.add_argument("--pg-port", type=int, default=15432)
    parser.add_argument("--profile", action="store_true", help="print the pids to profile")
    parser.add_argument("--out", type=Path, help="also write the result here as JSON")
    args = parser.parse_args()
    result = run(args)
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
