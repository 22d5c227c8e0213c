"""Benchmark of ingest under an echo storm: our own Everhour writes coming back as webhooks.

What issue 12 measured: 2,000 Core entries written to Everhour on a real-time integration, each
write delivered back to ingest by Everhour's webhook. This runs ingest as a real process (its
own scratch database, the shared Kafka), the Everhour and Core sandboxes in this process on real
HTTP ports (the sandbox's rate limit lifted, so the writes are fast; ingest keeps its own share of
the Everhour budget, as in production), connects a two-way integration through ingest's API, then
writes ``--entries`` time records with the integration's key (what the conflict-resolver does)
spread over ``--days`` days and ``--users`` users, and watches for ``--window`` seconds after the
last write. It reports ingest's peak RSS and CPU seconds, the deliveries' answers, ingest's
requests to Everhour by kind, and how many ``TimeEntryLogged`` events ingest published.

Bounded (a few minutes at most); not a test. ``--pythonpath`` runs another checkout's ingest
(e.g. a ``git worktree`` of an older commit) for a before/after comparison.
"""

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import secrets
import socket
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvicorn

from timebridge_common.crypto import SecretBox
from timebridge_common.events import TimeEntryLogged
from timebridge_common.kafka.dlt import decode_headers
from timebridge_common.testing import end_offsets, read_topic
from timebridge_sandboxes.core import create_core_sandbox
from timebridge_sandboxes.everhour import EverhourState, create_everhour_sandbox
from timebridge_sandboxes.faults import Faults, RateLimit

ROOT = Path(__file__).resolve().parents[1]
PG = os.environ.get("TB_BENCH_PG", "postgresql://timebridge:timebridge@127.0.0.1:15432")
KAFKA = os.environ.get("TB_BENCH_KAFKA", "127.0.0.1:19092")
KEY = "ek-bench-admin"
DAY = dt.date(2026, 11, 20)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Counted:
    """ASGI wrapper counting the requests that did not come from this script (ingest's)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: Counter[str] = Counter()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and (b"x-bench", b"1") not in scope["headers"]:
            kind = path = scope["path"]
            if path.startswith("/tasks/"):
                kind = "/tasks/{id}/time" if path.endswith("/time") else "/tasks/{id}"
            self.requests[f"{scope['method']} {kind}"] += 1
        await self.app(scope, receive, send)


async def serve(app: Any, port: int) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event
        await asyncio.sleep(0.05)
    return server, task


def proc_stats(pid: int) -> tuple[float, float]:
    """(RSS MiB, CPU seconds) of a process, from /proc."""
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return rss, cpu


async def main(args: argparse.Namespace) -> dict[str, Any]:  # noqa: PLR0915 - one scenario
    run = uuid.uuid4().hex[:8]
    workspace, database = f"bench-echo-{run}", f"bench_echo_{run}"
    admin_db = await asyncpg.connect(f"{PG}/postgres")
    await admin_db.execute(f'CREATE DATABASE "{database}"')
    await admin_db.execute(f'CREATE DATABASE "{database}_owner"')
    ports = {
        "ingest": free_port(),
        "everhour": free_port(),
        "core": free_port(),
        "credentials": free_port(),
    }
    state = EverhourState()
    owner = state.add_user("Ann Admin", api_key=KEY, email="ann@bench.test")
    users = [owner] + [
        state.add_user(f"Dev {i}", api_key=f"ek-bench-{i}", email=f"dev{i}@bench.test")
        for i in range(args.users - 1)
    ]
    project = state.add_project("Website")
    task = state.add_task(project, "Fix the login page")
    everhour = Counted(create_everhour_sandbox(state, Faults(), rate_limit=RateLimit(10**6, 10)))
    from timebridge_sandboxes.__main__ import demo_core  # noqa: PLC0415 - the demo workspace

    core_state, tokens = demo_core(workspace)
    servers = [
        await serve(everhour, ports["everhour"]),
        await serve(create_core_sandbox(core_state), ports["core"]),
    ]
    admin_token = secrets.token_urlsafe(24)
    service_token = secrets.token_urlsafe(24)
    # Ingest hands every key to the credential owner and asks it before each Everhour call.
    owner_env = {
        **os.environ,
        "TB_KAFKA__BOOTSTRAP_SERVERS": KAFKA,
        "TB_DATABASE__URL": f"{PG}/{database}_owner",
        "TB_HTTP__HOST": "127.0.0.1",
        "TB_HTTP__PORT": str(ports["credentials"]),
        "TB_ENCRYPTION_KEY": SecretBox.generate_key(),
        "TB_SERVICE_TOKEN": service_token,
        "TB_TELEMETRY__LOG_LEVEL": "warning",
    }
    credentials = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "timebridge_credentials.entrypoints.main",
        env=owner_env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    env = {
        **os.environ,
        "TB_KAFKA__BOOTSTRAP_SERVERS": KAFKA,
        "TB_DATABASE__URL": f"{PG}/{database}",
        "TB_HTTP__HOST": "127.0.0.1",
        "TB_HTTP__PORT": str(ports["ingest"]),
        "TB_CREDENTIALS_URL": f"http://127.0.0.1:{ports['credentials']}",
        "TB_SERVICE_TOKEN": service_token,
        "TB_ENCRYPTION_KEY": SecretBox.generate_key(),
        "TB_ADMIN_TOKEN": admin_token,
        "TB_PUBLIC_BASE_URL": f"http://127.0.0.1:{ports['ingest']}",
        "TB_EVERHOUR_API_URL": f"http://127.0.0.1:{ports['everhour']}",
        "TB_POLL_TICK_S": "3600",
        "TB_TELEMETRY__LOG_LEVEL": "warning",
    }
    if args.pythonpath:
        env["PYTHONPATH"] = args.pythonpath
    ingest = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "timebridge_ingest.entrypoints.main",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    samples: list[tuple[float, float]] = []
    result: dict[str, Any] = {}
    try:
        base = f"http://127.0.0.1:{ports['ingest']}"
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            for url in (f"http://127.0.0.1:{ports['credentials']}/readyz", "/readyz"):
                for _ in range(300):
                    with contextlib.suppress(httpx.HTTPError):
                        if (await http.get(url)).status_code == 200:
                            break
                    await asyncio.sleep(0.1)
            put = await http.put(
                f"/v1/admin/workspaces/{workspace}",
                json={
                    "core_base_url": f"http://127.0.0.1:{ports['core']}",
                    "core_api_token": tokens["service"],
                },
                headers={"authorization": f"Bearer {admin_token}"},
            )
            assert put.status_code == 200, put.text
            connected = await http.post(
                f"/v1/workspaces/{workspace}/integrations",
                json={"provider": "everhour", "api_key": KEY, "settings": {"direction": "two_way"}},
                headers={"authorization": f"Bearer {tokens['admin']}"},
            )
            assert connected.status_code == 201, connected.text
        before_kafka = await end_offsets(KAFKA, TimeEntryLogged.topic())
        everhour.requests.clear()
        idle_rss, cpu0 = proc_stats(ingest.pid)

        async def sample() -> None:
            while True:
                samples.append(proc_stats(ingest.pid))
                await asyncio.sleep(0.5)

        sampler = asyncio.create_task(sample())
        started = time.monotonic()
        headers = {"X-Api-Key": KEY, "x-bench": "1"}
        sandbox = f"http://127.0.0.1:{ports['everhour']}"
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(args.entries):
            queue.put_nowait(n)

        async def writer() -> None:
            # A new connection per write: the sandbox delivers each write's webhook on the
            # write's connection after answering, like Everhour's queue it must not hold writes.
            fresh = httpx.Limits(max_keepalive_connections=0)
            async with httpx.AsyncClient(
                base_url=sandbox, headers=headers, timeout=60, limits=fresh
            ) as eh:
                while not queue.empty():
                    n = queue.get_nowait()
                    day = DAY - dt.timedelta(days=n // len(users) % args.days)
                    body = {"time": 600, "date": day.isoformat(), "user": users[n % len(users)]}
                    answer = await eh.post(f"/tasks/{task}/time", json=body)
                    assert answer.status_code in {200, 201}, answer.text

        await asyncio.gather(*(writer() for _ in range(args.concurrency)))
        written_s = time.monotonic() - started
        deadline = time.monotonic() + args.window
        while time.monotonic() < deadline:
            answered = len(state.deliveries)
            if answered >= args.entries and args.stop_when_drained:
                pending = await count_pending(f"{PG}/{database}")
                if pending == 0:
                    break
            await asyncio.sleep(1)
        elapsed = time.monotonic() - started
        sampler.cancel()
        rss_now, cpu_now = proc_stats(ingest.pid)
        answers = Counter(
            str(d.status) if d.status is not None else (d.error or "error")
            for d in state.deliveries
        )
        ours: list[Any] = []

        def mine(records: list[Any]) -> bool:
            ours[:] = [
                r for r in records if decode_headers(r.headers).get("ce_workspaceid") == workspace
            ]
            return False

        with contextlib.suppress(TimeoutError):
            await read_topic(KAFKA, before_kafka, until=mine, timeout_s=5)
        published = len({json.loads(r.value)["external_id"] for r in ours})
        result = {
            "entries": args.entries,
            "days": args.days,
            "users": args.users,
            "writes_s": round(written_s, 1),
            "observed_s": round(elapsed, 1),
            "ingest_idle_rss_mib": round(idle_rss, 1),
            "ingest_peak_rss_mib": round(max(r for r, _ in [*samples, (rss_now, 0)]), 1),
            "ingest_cpu_s": round(cpu_now - cpu0, 1),
            "delivery_answers": dict(answers),
            "deliveries_seen_by_sandbox": len(state.deliveries),
            "ingest_everhour_requests": dict(everhour.requests),
            "records_published": published,
            "inbox_pending_at_end": await count_pending(f"{PG}/{database}"),
        }
    finally:
        for proc in (ingest, credentials):
            proc.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 15)
            if proc.returncode is None:
                proc.kill()
        for server, task_ in servers:
            server.should_exit = True
            await task_
        await admin_db.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin_db.execute(f'DROP DATABASE IF EXISTS "{database}_owner" WITH (FORCE)')
        await admin_db.close()
    return result


async def count_pending(dsn: str) -> int | None:
    """Rows in ingest's delivery inbox (None where the checkout has no inbox)."""
    conn = await asyncpg.connect(dsn)
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM everhour_deliveries")
        return count
    except asyncpg.UndefinedTableError:
        return None
    finally:
        await conn.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--days", type=int, default=50)
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--window", type=float, default=120.0, help="seconds after the writes")
    parser.add_argument("--stop-when-drained", action="store_true")
    parser.add_argument("--pythonpath", help="PYTHONPATH for the ingest process (another checkout)")
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))
