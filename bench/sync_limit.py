"""The conflict-resolver at a tracker's documented limit: how much of the allowed requests go to
useful writes, and how many requests each synced entry costs (issue 12).

Run from the repository root: ``python -m bench.sync_limit --provider NAME`` (``everhour``,
``toggl``, ``clockify``, ``harvest``, ``wrike``, ``clickup``, ``tempo``, ``quickbooks_time``,
``zoho``, ``xero_projects``; ``--help`` for the knobs).

The tracker's sandbox is served as its own process at its default limits, the provider's documented
ones (``bench.limit_providers``: Everhour 20 requests per 10 s per key, Toggl's leaky bucket of
about one a second and 240 an hour, Clockify 50 a second, Harvest 100 per 15 s, Wrike 400 a minute,
ClickUp 100 a minute, Zoho Projects 100 per 2 minutes, Xero Projects 60 a minute and 5,000 a day,
Tempo an assumed 300 a minute and QuickBooks Time 300 per 5 minutes (their numbers are unpublished);
the sandboxes' limit switches left as they are), counting every request by kind and answer. The
conflict-resolver and the credential owner run as their own processes (the dev launcher, own ports,
databases and consumer groups), the resolver with its default budget (its share of the key, or the
whole key while borrowing). One workspace is connected one way (Core -> the tracker: ingest would
neither listen nor poll, so the key is the resolver's alone), one warm-up entry is synced, then
``--entries`` new Core entries mapped to the tracker are produced at once and their ``EntrySynced``
read.

It prints requests per synced entry by kind (``bench.limit_providers.kind``: writes, listings,
reads by id, look-ups, other, refusals), the share of the allowed requests that were useful
writes (allowed: the most the tightest documented limit admits over the run from a fresh key, a
sliding window's whole limit at once and again a window later; ``..._of_rate``: against the
limit's rate instead, the figure before this counted), entries per second, and the theoretical
maximum (every allowed request a write). ``--code DIR`` runs the resolver and the owner from
another checkout's ``src`` folders (before and after, interleaved); results go to
``bench/results/`` as JSON. Not a test.
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
from timebridge_providers.installed import registry
from timebridge_providers.kit.credentials import HttpCredentialSource

from bench.accept import ROOT, child_pid, stop
from bench.limit_providers import TRACKERS, Tracker, entry, kind
from bench.sync_drain import Outcomes, send_all
from bench.sync_served import Served, committed_owner, drop_databases
from timebridge_common.config import KafkaConfig
from timebridge_common.events import ConnectionChanged, Envelope, IntegrationSettings
from timebridge_common.events.codec import encode
from timebridge_common.kafka.topics import all_topics, ensure_topics
from timebridge_common.outbound.oauth import Tokens
from timebridge_common.testing import position_group_at_end

PORT_BASE = 19700
OWNER_PORT = PORT_BASE + 8
SANDBOX_PORT = 19790
SANDBOX_URL = f"http://127.0.0.1:{SANDBOX_PORT}"
SOURCES = (
    "libs/common/src",
    "libs/providers/src",
    "services/conflict-resolver/src",
    "services/credentials/src",
)


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
        query = scope.get("query_string", b"").decode("latin-1")
        what = kind(scope["method"], scope["path"], query)

        async def counted(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                self.requests[str(status) if status in (402, 429) else what] += 1
            await send(message)

        await self.app(scope, receive, counted)


def serve(provider: str, key: str) -> None:
    """This module run with ``--serve NAME KEY``: the tracker's sandbox at its documented limit."""
    app, world = TRACKERS[provider].serve(key)
    uvicorn.run(
        Counted(app, world),
        host="127.0.0.1",
        port=SANDBOX_PORT,
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


async def connect_one_way(
    s: Served, tracker: Tracker, kafka: str, workspace: str, integration: str
) -> None:
    """The key to the owner and a one-way (Core -> the tracker) connection on Kafka."""
    owner = HttpCredentialSource(
        f"http://127.0.0.1:{OWNER_PORT}", SecretStr(s.service_token), http=httpx.AsyncClient()
    )
    base_url = SANDBOX_URL + tracker.path
    ids = (workspace, integration, tracker.name)
    fields = tracker.extra(s.world)  # noqa: S610 - a connection's fields, not Django's
    if registry().get(tracker.name).profile.auth == "oauth2":  # the sandbox takes it as a token
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        tokens = Tokens(s.world["key"], "refresh-unused", expires)
        await owner.put_tokens(*ids, tokens, base_url=base_url, extra=fields)
    else:
        await owner.put_key(*ids, s.world["key"], base_url=base_url, extra=fields)
    settings = IntegrationSettings(conflict_policy="manual_review", direction="core_to_tracker")
    event = ConnectionChanged(
        workspace_id=workspace,
        connection_id=integration,
        provider=tracker.name,
        status="connected",
        base_url=base_url,
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
    return Counter(httpx.get(f"{SANDBOX_URL}/_bench/requests", timeout=10).json())


async def measure(s: Served, args: argparse.Namespace) -> dict[str, Any]:
    tracker = TRACKERS[args.provider]
    workspace, integration = f"bench-{s.run_id}", f"int_limit_{s.run_id}"
    await connect_one_way(s, tracker, args.kafka, workspace, integration)
    outcomes = Outcomes(args.kafka, workspace)
    await outcomes.start()
    producer = AIOKafkaProducer(bootstrap_servers=args.kafka, acks="all", linger_ms=5)
    await producer.start()
    try:
        warm = entry(tracker, s.world, (workspace, integration), 10**4, "warm")
        await send_all(producer, [warm], None)
        await outcomes.until(1, 300)  # the copies read to their end: foreign changes settled
        if "warm" not in outcomes.synced:
            raise RuntimeError(f"warm-up entry not synced: {dict(outcomes.statuses)}")
        window = min(limit.window_s for limit in tracker.limits)
        await asyncio.sleep(window)  # the warm-up's requests leave the (shortest) window
        events = [
            entry(tracker, s.world, (workspace, integration), n, f"te_{n}")
            for n in range(args.entries)
        ]
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
    allowed = tracker.allowed(elapsed)
    writes = spent["write"]
    return {
        "provider": tracker.name,
        "limits": [f"{limit.requests} per {limit.window_s:g} s" for limit in tracker.limits],
        "code": args.code or "this checkout",
        "entries": args.entries,
        "synced": done,
        "statuses": dict(outcomes.statuses),
        "reasons": dict(outcomes.reasons.most_common(3)),
        "seconds": round(elapsed, 1),
        "entries_per_second": round(done / elapsed, 3),
        "theoretical_max_entries_per_second": round(allowed / elapsed, 3),
        "requests_per_entry": {k: round(v / max(done, 1), 3) for k, v in spent.items() if v},
        "requests_per_entry_total": round(sum(spent.values()) / max(done, 1), 3),
        "requests": {k: v for k, v in spent.items() if v},
        "allowed_requests": round(allowed, 1),
        "useful_write_share_of_allowed": round(writes / allowed, 3),
        "useful_write_share_of_rate": round(writes / tracker.rate(elapsed), 3),
        "write_share_of_sent": round(writes / max(sum(spent.values()), 1), 3),
        "load_average_before": [round(x, 2) for x in load],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    key = f"key-limit-{run_id}"
    pg = f"postgresql://timebridge:timebridge@127.0.0.1:{args.pg_port}"
    topics = all_topics()
    asyncio.run(ensure_topics(KafkaConfig(bootstrap_servers=args.kafka), topics))
    # Other runs' changes on the shared topics are not this run's: the resolver starts at their
    # end (the connection copies are read from the start, as a new deployment does).
    now_on = [t for t in topics if not t.startswith(ConnectionChanged.topic())]
    group = f"bench-{run_id}-conflict-resolver"
    asyncio.run(position_group_at_end(args.kafka, group, now_on))
    logs = Path(tempfile.gettempdir())
    with (logs / f"tb-limit-{run_id}-{args.provider}.log").open("wb") as out:
        sandbox = subprocess.Popen(  # noqa: S603 - our interpreter, this module
            [sys.executable, "-m", "bench.sync_limit", "--serve", args.provider, key],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    launcher = None
    try:
        _wait(f"{SANDBOX_URL}/_bench/world", sandbox)
        world = httpx.get(f"{SANDBOX_URL}/_bench/world", timeout=10).json()
        launcher = launch(args.kafka, run_id, args.code, logs / f"tb-limit-{run_id}-resolver.log")
        creds = (ROOT / ".local" / "dev-secrets.env").read_text().splitlines()
        token = dict(line.split("=", 1) for line in creds if "=" in line)["TB_SERVICE_TOKEN"]
        s = Served(
            run_id,
            launcher,
            sandbox,
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
        sandbox.terminate()
        sandbox.wait(timeout=30)
        asyncio.run(drop_databases(pg, run_id))


def report(result: dict[str, Any]) -> None:
    per = ", ".join(f"{k} {v}" for k, v in sorted(result["requests_per_entry"].items()))
    print(
        f"{result['provider']} ({result['code']}): {result['synced']}/{result['entries']} synced in"
        f" {result['seconds']} s = {result['entries_per_second']} entries/s"
        f" (max {result['theoretical_max_entries_per_second']}/s);"
        f" requests per entry {result['requests_per_entry_total']} ({per});"
        f" useful writes {100 * result['useful_write_share_of_allowed']:.0f}% of the allowed"
        f" requests (goal >= 80%); load {result['load_average_before'][0]}"
    )


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        serve(sys.argv[2], sys.argv[3])
        return 0
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--provider", choices=sorted(TRACKERS), default="everhour")
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
