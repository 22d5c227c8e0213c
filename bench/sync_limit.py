"""The conflict-resolver at Everhour's documented limit: how much of the allowed requests go to
useful writes, and how many requests each synced entry costs (issue 12).

Run from the repository root: ``python -m bench.sync_limit`` (``--help`` for the knobs).

The Everhour sandbox is served as its own process at its default limit, Everhour's documented
"around 20 requests per 10 seconds per API key" (``timebridge_sandboxes.everhour.RATE_LIMIT``,
the sandbox's ``rate_limit`` switch left as it is; the kit's ``everhour.client.RATE_LIMIT`` says
the same), counting every request by kind and answer. The conflict-resolver and the credential
owner run as their own processes (the dev launcher, own ports, databases and consumer groups),
the resolver with its default budget (its share of the key, or the whole key while borrowing).
One workspace is connected one way (Core -> Everhour: ingest would neither listen nor poll, so
the key is the resolver's alone), one warm-up entry is synced, then ``--entries`` new Core
entries mapped to Everhour (each its own task, user and day record) are produced at once and
their ``EntrySynced`` read.

It prints requests per synced entry by kind (time-record reads, writes, project reads, other,
``429`` answers), the share of the allowed requests (20 per 10 s over the run) that were useful
writes, entries per second, and the theoretical maximum (every allowed request a write: 2
entries/s). ``--code DIR`` runs the resolver and the owner from another checkout's ``src``
folders (before and after, interleaved); results go to ``bench/results/`` as JSON. Not a test.
"""

import argparse
import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr
from timebridge_providers.kit.credentials import HttpCredentialSource

from bench.accept import ROOT, child_pid, stop
from bench.sync_drain import Outcomes, entry, send_all
from bench.sync_served import Served, committed_owner, drop_databases
from timebridge_common.config import KafkaConfig
from timebridge_common.events import ConnectionChanged, Envelope, IntegrationSettings
from timebridge_common.events.codec import encode
from timebridge_common.kafka.topics import all_topics, ensure_topics
from timebridge_common.testing import position_group_at_end
from timebridge_sandboxes.everhour import EverhourState, create_everhour_sandbox
from timebridge_sandboxes.faults import Faults

PORT_BASE = 19700
OWNER_PORT = PORT_BASE + 8
EVERHOUR_PORT = 19790
EVERHOUR_URL = f"http://127.0.0.1:{EVERHOUR_PORT}"
LIMIT, WINDOW_S = 20, 10.0
SOURCES = (
    "libs/common/src",
    "libs/providers/src",
    "services/conflict-resolver/src",
    "services/credentials/src",
)


def kind(method: str, path: str) -> str:
    """What an Everhour request is, for the per-entry figures."""
    if path.endswith("/time"):
        return "write" if method in {"POST", "PUT", "DELETE"} else "time read"
    if path.startswith("/projects/") and path.count("/") == 2:
        return "project read"
    return "other"


class Counted:
    """Counts the sandbox's requests by kind and answer; ``GET /_bench/*`` answered here."""

    def __init__(self, app: Any, world: dict[str, Any]) -> None:
        self.app, self.world, self.requests = app, world, Counter[str]()

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith("/_bench/"):
            world = scope["path"] == "/_bench/world"
            raw = json.dumps(self.world if world else dict(self.requests)).encode()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": raw})
            return
        what = kind(scope["method"], scope["path"])

        async def counted(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                self.requests["429" if status == 429 else what] += 1
            await send(message)

        await self.app(scope, receive, counted)


def serve_everhour(key: str, tasks: int) -> None:
    """This module run with ``--serve-everhour``: the sandbox at its documented limit."""
    state = EverhourState()
    ann = state.add_user("Ann", api_key=key, email="ann@acme.test")
    project = state.add_project("Website")
    made = [state.add_task(project, f"Bench {n}") for n in range(tasks)]
    app = create_everhour_sandbox(state, Faults())  # its default limit: 20 per 10 s per key
    world = {"user": ann, "project": project, "tasks": made, "key": key}
    uvicorn.run(
        Counted(app, world),
        host="127.0.0.1",
        port=EVERHOUR_PORT,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


def _wait(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not answering")


def launch(kafka: str, run_id: str, code: str | None, log: Path) -> subprocess.Popen[bytes]:
    """The resolver and the credential owner: both from ``code`` (its ``src`` folders), or
    this checkout's resolver and the owner as committed."""
    path = [str(Path(code) / src) for src in SOURCES] if code else [committed_owner(run_id)]
    # Other runs' changes on the shared topic (integrations this resolver cannot know) are
    # dead-lettered as they come: they must not stop it as a flood of invalid input would.
    dlq = {"TB_DLQ_LIMIT__MAX_INVALID_RATIO": "1", "TB_DLQ_LIMIT__MAX_CONSECUTIVE": "1000000000"}
    env = {**os.environ, "PYTHONPATH": ":".join(path), **dlq}
    env = {k: v for k, v in env.items() if not k.startswith("TB_RAISED_LIMITS")}
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - our interpreter, our launcher
            [
                sys.executable,
                str(ROOT / "deploy/local/dev.py"),
                *("--only", "conflict-resolver", "--only", "credentials", "--no-sandboxes"),
                *("--kafka", kafka, "--port-base", str(PORT_BASE)),
                *("--db-prefix", f"bench_{run_id}_", "--group-prefix", f"bench-{run_id}"),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 180
    while b"Ctrl-C stops everything" not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise RuntimeError(f"the resolver did not start, see {log}")
        time.sleep(0.3)
    return proc


async def connect_one_way(s: Served, kafka: str, workspace: str, integration: str) -> None:
    """The key to the owner and a one-way (Core -> Everhour) connection on Kafka."""
    owner = HttpCredentialSource(
        f"http://127.0.0.1:{OWNER_PORT}", SecretStr(s.service_token), http=httpx.AsyncClient()
    )
    await owner.put_key(workspace, integration, "everhour", s.world["key"], base_url=EVERHOUR_URL)
    settings = IntegrationSettings(conflict_policy="manual_review", direction="core_to_tracker")
    event = ConnectionChanged(
        workspace_id=workspace,
        connection_id=integration,
        provider="everhour",
        status="connected",
        base_url=EVERHOUR_URL,
        revision=1,
        changed_at=dt.datetime.now(dt.UTC),
        settings=settings,
    )
    encoded = encode(event, Envelope.for_event(event, producer="ingest"))
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all")
    await producer.start()
    try:
        headers = [(k, v.encode()) for k, v in encoded.headers.items()]
        await producer.send_and_wait(encoded.topic, encoded.value, key=encoded.key, headers=headers)
    finally:
        await producer.stop()


def requests_now() -> Counter[str]:
    return Counter(httpx.get(f"{EVERHOUR_URL}/_bench/requests", timeout=10).json())


async def measure(s: Served, args: argparse.Namespace) -> dict[str, Any]:
    workspace, integration = f"bench-{s.run_id}", f"int_limit_{s.run_id}"
    await connect_one_way(s, args.kafka, workspace, integration)
    outcomes = Outcomes(args.kafka, workspace)
    await outcomes.start()
    producer = AIOKafkaProducer(bootstrap_servers=args.kafka, acks="all", linger_ms=5)
    await producer.start()
    try:
        await send_all(producer, [entry(s, workspace, integration, -1, "warm")], None)
        await outcomes.until(1, 300)  # the copies read to their end: foreign changes settled
        if "warm" not in outcomes.synced:
            raise RuntimeError(f"warm-up entry not synced: {dict(outcomes.statuses)}")
        await asyncio.sleep(WINDOW_S)  # the warm-up's requests leave the window
        events = [entry(s, workspace, integration, n, f"te_{n}") for n in range(args.entries)]
        load, before, began = os.getloadavg(), requests_now(), time.monotonic()
        await send_all(producer, events, None)
        await outcomes.until(args.entries + 1, args.timeout)
        elapsed = time.monotonic() - began
        spent = requests_now()
        spent.subtract(before)
    finally:
        await producer.stop()
        await outcomes.stop()
    done = len(outcomes.synced.keys() - {"warm"})
    allowed = LIMIT / WINDOW_S * elapsed
    writes = spent["write"]
    return {
        "code": args.code or "this checkout",
        "entries": args.entries,
        "synced": done,
        "statuses": dict(outcomes.statuses),
        "reasons": dict(outcomes.reasons.most_common(3)),
        "seconds": round(elapsed, 1),
        "entries_per_second": round(done / elapsed, 3),
        "theoretical_max_entries_per_second": LIMIT / WINDOW_S,
        "requests_per_entry": {k: round(v / max(done, 1), 3) for k, v in spent.items() if v},
        "requests_per_entry_total": round(sum(spent.values()) / max(done, 1), 3),
        "requests": {k: v for k, v in spent.items() if v},
        "allowed_requests": round(allowed, 1),
        "useful_write_share_of_allowed": round(writes / allowed, 3),
        "write_share_of_sent": round(writes / max(sum(spent.values()), 1), 3),
        "load_average_before": [round(x, 2) for x in load],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    key = f"ek-limit-{run_id}"
    pg = f"postgresql://timebridge:timebridge@127.0.0.1:{args.pg_port}"
    topics = all_topics()
    asyncio.run(ensure_topics(KafkaConfig(bootstrap_servers=args.kafka), topics))
    # Other runs' changes on the shared topics are not this run's: the resolver starts at their
    # end (the connection copies are read from the start, as a new deployment does).
    now_on = [t for t in topics if not t.startswith(ConnectionChanged.topic())]
    group = f"bench-{run_id}-conflict-resolver"
    asyncio.run(position_group_at_end(args.kafka, group, now_on))
    logs = Path(tempfile.gettempdir())
    with (logs / f"tb-limit-{run_id}-everhour.log").open("wb") as out:
        everhour = subprocess.Popen(  # noqa: S603 - our interpreter, this module
            [sys.executable, "-m", "bench.sync_limit", "--serve-everhour", key],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    launcher = None
    try:
        _wait(f"{EVERHOUR_URL}/_bench/world", everhour)
        world = httpx.get(f"{EVERHOUR_URL}/_bench/world", timeout=10).json()
        launcher = launch(args.kafka, run_id, args.code, logs / f"tb-limit-{run_id}-resolver.log")
        creds = (ROOT / ".local" / "dev-secrets.env").read_text().splitlines()
        token = dict(line.split("=", 1) for line in creds if "=" in line)["TB_SERVICE_TOKEN"]
        s = Served(
            run_id,
            launcher,
            everhour,
            child_pid(launcher.pid, "timebridge_conflict_resolver"),
            child_pid(launcher.pid, "timebridge_credentials"),
            world,
            token,
            PORT_BASE,
        )
        return asyncio.run(measure(s, args))
    finally:
        if launcher is not None:
            stop(launcher)
        everhour.terminate()
        everhour.wait(timeout=30)
        asyncio.run(drop_databases(pg, run_id))


def report(result: dict[str, Any]) -> None:
    per = ", ".join(f"{k} {v}" for k, v in sorted(result["requests_per_entry"].items()))
    print(
        f"{result['code']}: {result['synced']}/{result['entries']} synced in"
        f" {result['seconds']} s = {result['entries_per_second']} entries/s"
        f" (max {result['theoretical_max_entries_per_second']}/s);"
        f" requests per entry {result['requests_per_entry_total']} ({per});"
        f" useful writes {100 * result['useful_write_share_of_allowed']:.0f}% of the allowed"
        f" requests (goal >= 80%); load {result['load_average_before'][0]}"
    )


def main() -> int:
    if len(sys.argv) == 3 and sys.argv[1] == "--serve-everhour":
        serve_everhour(sys.argv[2], tasks=50)
        return 0
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=100, help="new entries produced at once")
    parser.add_argument("--code", help="a checkout whose resolver to run (before/after)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait at most")
    parser.add_argument("--kafka", default="127.0.0.1:19092")
    parser.add_argument("--pg-port", type=int, default=15432)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/sync-limit.json")
    args = parser.parse_args()
    result = run(args)
    print(json.dumps(result, indent=2))
    report(result)
    runs = json.loads(args.out.read_text()) if args.out.exists() else []
    args.out.write_text(json.dumps([*runs, result], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
