"""Benchmark of the thin path: signed webhooks -> ingest -> Kafka -> mapping -> Postgres.

Starts ingest and mapping as real processes with ``deploy/local/dev.py`` (own ports, databases
and consumer groups), posts ``--count`` signed webhooks over HTTP with ``--concurrency`` clients,
and reports: accept latency (202 means durably in Kafka), accepted webhooks per second, the time
until mapping has stored every entry, and the services' peak memory. Each figure is checked
against its target; the exit code says whether all were met. Not part of ``make test``: timings
depend on the machine (targets are for the 2-core reference machine).
"""

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

from timebridge_common.kafka.topics import all_topics
from timebridge_common.testing import position_group_at_end
from timebridge_ingest.domain.core_webhook import sign

ROOT = Path(__file__).resolve().parents[1]
PORT_BASE = 18800
TARGETS = {
    "accept p95 (ms)": ("<=", 250.0),
    "accepted per second": (">=", 150.0),
    "end-to-end per second": (">=", 150.0),
    "ingest peak RSS (MiB)": ("<=", 250.0),
    "mapping peak RSS (MiB)": ("<=", 250.0),
}


def webhook(workspace: str, n: int) -> bytes:
    return json.dumps(
        {
            "id": f"dlv-{n}",
            "type": "time_entry.created",
            "workspace_id": workspace,
            "occurred_at": "2026-11-21T10:00:00Z",
            "data": {
                "time_entry": {
                    "id": f"te-{n}",
                    "user": {"id": f"u-{n % 50}", "email": f"user{n % 50}@bench.test"},
                    "project_id": f"p-{n % 7}",
                    "ticket_id": f"T-{n % 300}",
                    "date": "2026-11-21",
                    "started_at": "2026-11-21T08:00:00Z",
                    "duration_seconds": 900 + n % 3600,
                    "notes": f"bench entry {n}",
                    "billable": n % 3 != 0,
                    "timezone": "Europe/Berlin",
                    "updated_at": "2026-11-21T09:00:00Z",
                    "version": 1,
                }
            },
        }
    ).encode()


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def service_pids(launcher: int) -> dict[str, int]:
    found: dict[str, int] = {}
    for stat in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            cmd = stat.read_bytes().split(b"\0")
            ppid = int((stat.parent / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == launcher and len(cmd) > 2:
            found[cmd[2].decode().split(".")[0].removeprefix("timebridge_")] = int(stat.parent.name)
    return found


async def start_services(args: argparse.Namespace, run_id: str) -> asyncio.subprocess.Process:
    prefix = f"bench-{run_id}"
    for service in ("ingest", "mapping"):
        await position_group_at_end(args.kafka, f"{prefix}-{service}", all_topics())
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "deploy/local/dev.py"),
        "--only",
        "ingest",
        "--only",
        "mapping",
        "--kafka",
        args.kafka,
        "--port-base",
        str(PORT_BASE),
        "--db-prefix",
        f"bench_{run_id}_",
        "--group-prefix",
        prefix,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    while b"Ctrl-C stops everything" not in await proc.stdout.readline():
        pass
    return proc


async def post_all(args: argparse.Namespace, secret: str) -> list[float]:
    latencies: list[float] = []
    pending = iter(range(args.count))
    url = f"http://127.0.0.1:{PORT_BASE + 1}/v1/webhooks/core/demo"

    async def client(http: httpx.AsyncClient) -> None:
        for n in pending:
            body = webhook("demo", n + args.offset)
            signature = sign(secret, int(time.time()), body)
            began = time.perf_counter()
            response = await http.post(
                url,
                content=body,
                headers={"content-type": "application/json", "Core-Signature": signature},
            )
            latencies.append(time.perf_counter() - began)
            response.raise_for_status()

    limits = httpx.Limits(max_connections=args.concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        await asyncio.gather(*(client(http) for _ in range(args.concurrency)))
    return latencies


async def wait_stored(dsn: str, count: int) -> None:
    db = await asyncpg.connect(dsn)
    try:
        while await db.fetchval("SELECT count(*) FROM source_entries") < count:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    finally:
        await db.close()


async def drop_databases(pg: str, run_id: str) -> None:
    admin = await asyncpg.connect(f"{pg}/postgres")
    for name in ("tb_ingest", "tb_mapping"):
        await admin.execute(f'DROP DATABASE IF EXISTS "bench_{run_id}_{name}" WITH (FORCE)')
    await admin.close()


def report(args: argparse.Namespace, results: dict[str, float]) -> int:
    print(f"\nthin path: {args.count} webhooks, {args.concurrency} concurrent clients,")
    print(f"{os.cpu_count()} cores shared by the client, both services, Kafka and PostgreSQL")
    failed = 0
    for name, value in results.items():
        verdict = ""
        if name in TARGETS:
            op, limit = TARGETS[name]
            ok = value <= limit if op == "<=" else value >= limit
            failed += not ok
            verdict = f"target {op} {limit:g}: {'ok' if ok else 'MISSED'}"
        print(f"  {name:<24} {value:10.1f}   {verdict}")
    return 1 if failed else 0


async def run(args: argparse.Namespace) -> int:
    run_id = uuid.uuid4().hex[:8]
    pg = f"postgresql://timebridge:timebridge@127.0.0.1:{args.pg_port}"
    proc = await start_services(args, run_id)
    assert proc.stdout is not None
    drain = asyncio.create_task(proc.stdout.read())
    creds = (ROOT / ".local" / "dev-secrets.env").read_text().splitlines()
    secret = dict(line.split("=", 1) for line in creds)["DEMO_CORE_WEBHOOK_SECRET"]
    try:
        start = time.perf_counter()
        latencies = sorted(await post_all(args, secret))
        accepted_s = time.perf_counter() - start
        await wait_stored(f"{pg}/bench_{run_id}_tb_mapping", args.count)
        stored_s = time.perf_counter() - start
        rss = {name: peak_rss_mib(pid) for name, pid in service_pids(proc.pid).items()}
    finally:
        proc.send_signal(signal.SIGINT)
        await drain
        await proc.wait()
        await drop_databases(pg, run_id)
    return report(
        args,
        {
            "accept p50 (ms)": statistics.median(latencies) * 1000,
            "accept p95 (ms)": latencies[int(len(latencies) * 0.95)] * 1000,
            "accept p99 (ms)": latencies[int(len(latencies) * 0.99)] * 1000,
            "accepted per second": args.count / accepted_s,
            "end-to-end per second": args.count / stored_s,
            "ingest peak RSS (MiB)": rss.get("ingest", float("nan")),
            "mapping peak RSS (MiB)": rss.get("mapping", float("nan")),
        },
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--offset", type=int, default=int(time.time()))
    parser.add_argument("--kafka", default="127.0.0.1:19092")
    parser.add_argument("--pg-port", type=int, default=15432)
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
