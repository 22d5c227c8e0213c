"""``make bench``: ingest's Core webhook accept path against a bare baseline, then mapping.

Run from the repository root: ``python -m bench.accept`` (``--help`` for the knobs).

Load comes from ``wrk`` (C, pre-signed requests from :mod:`wrk_load`), so the figures measure
the servers, not a Python client. In one run, on the same machine and broker:

1. ingest (started alone by ``deploy/local/dev.py``) and :mod:`baseline_app` (Starlette +
   aiokafka doing only HMAC, JSON, produce ``acks=all`` + idempotence, await, ``202``) are
   loaded in turn, interleaved (baseline, ingest, ingest, baseline, ...), ``--seconds`` each,
   at each ``--connections``; every figure is the mean of its rounds, printed with the load
   average before it, the CPU each process spent per request and its ratio and goal;
2. mapping is started afterwards on the backlog ingest accepted (its consumer group was
   positioned before the first request), and the rows it stores in ``--drain-seconds`` give
   "into mapping's database" entries per second;
3. peak and current RSS of every process.

Results go to ``bench/results/latest.json``. Goals are issue 12's (2-core reference machine);
the exit code is 0 even when a goal is missed: this is a measurement, not a test.
"""

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.wrk_load import WrkResult, run_wrk, write_script
from timebridge_common.config import KafkaConfig
from timebridge_common.kafka.topics import all_topics, ensure_topics
from timebridge_common.testing import position_group_at_end

ROOT = Path(__file__).resolve().parents[1]
PORT_BASE = 19300
INGEST_PORT = PORT_BASE + 1
BASELINE_PORT = 19390
BASELINE_TOPIC = "bench.baseline-webhooks"
WORKSPACE = "demo"
URL_PATH = f"/v1/webhooks/core/{WORKSPACE}"
RESULTS = ROOT / "bench" / "results" / "latest.json"
GOALS = {
    "ingest/baseline": 0.8,
    "ingest p99 at 64 connections (ms)": 50.0,
    "into mapping (entries/s)": 2000.0,
    "RSS (MiB)": 150.0,
}
CLK = os.sysconf("SC_CLK_TCK")


def proc_status(pid: int, field: str) -> float:
    """``VmRSS``/``VmHWM`` of ``pid`` in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def child_pid(launcher: int, module: str) -> int:
    """The pid of the service process (``python -m <module>...``) the launcher started."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            cmd = cmdline.read_bytes().split(b"\0")
            ppid = int((cmdline.parent / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == launcher and any(module.encode() in part for part in cmd):
            return int(cmdline.parent.name)
    raise RuntimeError(f"no {module} process under launcher {launcher}")


def load_average() -> float:
    return os.getloadavg()[0]


def launch(
    args: argparse.Namespace, run_id: str, service: str, *also: str
) -> subprocess.Popen[bytes]:
    """Start one service (and ``also`` these) with the dev launcher (own port, database, group).

    Ingest needs the credential owner beside it: the demo workspace's Core token is handed to it.

    Its output goes to a file (a pipe nobody reads would fill and block the service's logging).
    """
    log = Path(tempfile.gettempdir()) / f"tb-bench-{run_id}-{service}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - our interpreter, our launcher
            [
                sys.executable,
                str(ROOT / "deploy/local/dev.py"),
                *("--only", service, *(a for name in also for a in ("--only", name))),
                *("--kafka", args.kafka, "--port-base", str(PORT_BASE)),
                *("--db-prefix", f"bench_{run_id}_", "--group-prefix", f"bench-{run_id}"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 120
    while b"Ctrl-C stops everything" not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{service} did not start, see {log}")
        time.sleep(0.2)
    return proc


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGINT) -> None:
    proc.send_signal(sig)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start_baseline(args: argparse.Namespace, secret: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(  # noqa: S603 - our interpreter, our script
        [
            *(sys.executable, str(ROOT / "bench" / "baseline_app.py")),
            *("--port", str(BASELINE_PORT), "--kafka", args.kafka, "--topic", BASELINE_TOPIC),
        ],
        env={**os.environ, "BASELINE_SECRET": secret},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.post(f"http://127.0.0.1:{BASELINE_PORT}{URL_PATH}").status_code == 401:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop(proc, signal.SIGTERM)
    raise RuntimeError("the baseline app did not start")


class Loader:
    """Runs measurements, giving each one a fresh pool of distinct, freshly signed requests."""

    def __init__(self, args: argparse.Namespace, secret: str, tmp: Path, run_id: str) -> None:
        self.args = args
        self.secret = secret
        self.tmp = tmp
        self.run_id = run_id
        self.next_number = 0
        self.accepted_by_ingest = 0

    def measure(
        self, name: str, port: int, pid: int, connections: int, seconds: int
    ) -> dict[str, Any]:
        pool = seconds * self.args.pool_per_second
        script = write_script(
            self.tmp,
            f"{name}-{self.next_number}",
            secret=self.secret,
            workspace=WORKSPACE,
            url_path=URL_PATH,
            run=self.run_id,
            first=self.next_number,
            pool=pool,
            threads=self.args.threads,
        )
        self.next_number += pool
        load = load_average()
        spy = self._profile(name, pid, connections, seconds)
        cpu_before = cpu_s(pid)
        result: WrkResult = run_wrk(
            script,
            f"http://127.0.0.1:{port}",
            connections=connections,
            threads=self.args.threads,
            seconds=seconds,
        )
        cpu = cpu_s(pid) - cpu_before
        if spy is not None:
            spy.wait()
        script.unlink()
        if name == "ingest":
            self.accepted_by_ingest += result.requests - result.non2xx
        figure = {
            "target": name,
            "connections": connections,
            "load_average_1m": round(load, 2),
            "per_second": round(result.per_second, 1),
            "p50_ms": result.p50_ms,
            "p90_ms": result.p90_ms,
            "p99_ms": result.p99_ms,
            "max_ms": result.max_ms,
            "requests": result.requests,
            "non2xx": result.non2xx,
            "socket_errors": result.socket_errors,
            "cpu_ms_per_request": round(1000 * cpu / max(result.requests, 1), 3),
            "pool_exhausted": result.exhausted,
        }
        print(
            f"  {name:<8} c={connections:<3} {figure['per_second']:8.1f}/s"
            f"  p50 {result.p50_ms:6.1f}"
            f"  p99 {result.p99_ms:6.1f} ms  non-2xx {result.non2xx}  cpu/req"
            f" {figure['cpu_ms_per_request']:.3f} ms  load {load:.2f}"
            + ("  POOL EXHAUSTED" if result.exhausted else ""),
            flush=True,
        )
        return figure

    def _profile(
        self, name: str, pid: int, connections: int, seconds: int
    ) -> subprocess.Popen[bytes] | None:
        """py-spy on ingest during this measurement when ``--py-spy DIR`` is given (raw
        folded stacks, one file per measurement; profiling only, py-spy is not a requirement)."""
        if self.args.py_spy is None or name != "ingest":
            return None
        self.args.py_spy.mkdir(parents=True, exist_ok=True)
        out = self.args.py_spy / f"ingest-c{connections}-{self.next_number}.txt"
        return subprocess.Popen(  # noqa: S603 - the venv's py-spy, our pid
            [
                str(Path(sys.executable).parent / "py-spy"),
                *("record", "-p", str(pid), "-d", str(seconds), "-r", "200"),
                *("-f", "raw", "-o", str(out), "--nonblocking"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )


def mean(rows: list[dict[str, Any]], key: str) -> float:
    return sum(float(r[key]) for r in rows) / len(rows)


async def count_rows(dsn: str) -> int:
    db = await asyncpg.connect(dsn)
    try:
        return int(await db.fetchval("SELECT count(*) FROM source_entries"))
    finally:
        await db.close()


def drain_mapping(args: argparse.Namespace, run_id: str, pg: str, backlog: int) -> dict[str, Any]:
    """Start mapping on ingest's backlog; entries stored per second over ``--drain-seconds``."""
    dsn = f"{pg}/bench_{run_id}_tb_mapping"
    load = load_average()
    launcher = launch(args, run_id, "mapping")
    try:
        pid = child_pid(launcher.pid, "timebridge_mapping")
        start_rows = asyncio.run(count_rows(dsn))
        cpu_before = cpu_s(pid)
        began = time.monotonic()
        rows = start_rows
        while time.monotonic() - began < args.drain_seconds and rows < backlog:
            time.sleep(0.5)
            rows = asyncio.run(count_rows(dsn))
        elapsed = time.monotonic() - began
        cpu = cpu_s(pid) - cpu_before
        rss = {"mapping": proc_status(pid, "VmHWM")}
    finally:
        stop(launcher)
    stored = rows - start_rows
    return {
        "backlog": backlog,
        "stored": stored,
        "seconds": round(elapsed, 1),
        "per_second": round(stored / elapsed, 1),
        "cpu_ms_per_entry": round(1000 * cpu / max(stored, 1), 3),
        "load_average_1m": round(load, 2),
        "peak_rss_mib": rss,
    }


def summarize(figures: list[dict[str, Any]], connections: list[int]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for c in connections:
        by = {
            name: [f for f in figures if f["target"] == name and f["connections"] == c]
            for name in ("baseline", "ingest")
        }
        ing, base = by["ingest"], by["baseline"]
        summary[str(c)] = {
            "ingest_per_second": round(mean(ing, "per_second"), 1),
            "baseline_per_second": round(mean(base, "per_second"), 1),
            "ratio": round(mean(ing, "per_second") / mean(base, "per_second"), 3),
            "ingest_p99_ms": round(mean(ing, "p99_ms"), 1),
            "baseline_p99_ms": round(mean(base, "p99_ms"), 1),
            "ingest_cpu_ms_per_request": round(mean(ing, "cpu_ms_per_request"), 3),
            "baseline_cpu_ms_per_request": round(mean(base, "cpu_ms_per_request"), 3),
        }
    return summary


def verdict(value: float, goal: float, *, at_most: bool = False) -> str:
    ok = value <= goal if at_most else value >= goal
    return f"goal {'<=' if at_most else '>='} {goal:g}: {'met' if ok else 'MISSED'}"


def report(result: dict[str, Any]) -> None:
    print(f"\n{os.cpu_count()} cores shared by wrk, ingest, the baseline, Kafka and PostgreSQL")
    for c, s in result["accept"].items():
        print(
            f"  accept at {c:>3} connections: ingest {s['ingest_per_second']:.0f}/s vs baseline"
            f" {s['baseline_per_second']:.0f}/s = {s['ratio']:.2f}x ("
            + verdict(s["ratio"], GOALS["ingest/baseline"])
            + f"); p99 ingest {s['ingest_p99_ms']:.1f} ms, baseline {s['baseline_p99_ms']:.1f} ms;"
            f" CPU/request {s['ingest_cpu_ms_per_request']:.2f} vs"
            f" {s['baseline_cpu_ms_per_request']:.2f} ms"
        )
    if "64" in result["accept"]:
        p99 = result["accept"]["64"]["ingest_p99_ms"]
        print(f"  ingest p99 at 64 connections: {p99:.1f} ms ({verdict(p99, 50.0, at_most=True)})")
    if "mapping" in result:
        m = result["mapping"]
        print(
            f"  into mapping's database: {m['per_second']:.0f} entries/s ({m['stored']} of a"
            f" backlog of {m['backlog']} in {m['seconds']} s, CPU/entry"
            f" {m['cpu_ms_per_entry']:.2f} ms, load {m['load_average_1m']:.2f}; "
            + verdict(m["per_second"], GOALS["into mapping (entries/s)"])
            + ")"
        )
    for name, mib in result["rss_mib"].items():
        print(f"  RSS {name}: {mib:.0f} MiB ({verdict(mib, GOALS['RSS (MiB)'], at_most=True)})")


def run(args: argparse.Namespace) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    pg = f"postgresql://timebridge:timebridge@127.0.0.1:{args.pg_port}"
    config = KafkaConfig(bootstrap_servers=args.kafka)
    asyncio.run(ensure_topics(config, [BASELINE_TOPIC]))
    for service in ("ingest", "mapping"):
        asyncio.run(position_group_at_end(args.kafka, f"bench-{run_id}-{service}", all_topics()))
    creds = (ROOT / ".local" / "dev-secrets.env").read_text().splitlines()
    secret = dict(line.split("=", 1) for line in creds if "=" in line)["DEMO_CORE_WEBHOOK_SECRET"]
    ingest = launch(args, run_id, "ingest", "credentials")
    baseline: subprocess.Popen[bytes] | None = None
    result: dict[str, Any] = {
        "run": run_id,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    try:
        ingest_pid = child_pid(ingest.pid, "timebridge_ingest")
        baseline = start_baseline(args, secret)
        pids = {"ingest": (INGEST_PORT, ingest_pid), "baseline": (BASELINE_PORT, baseline.pid)}
        with tempfile.TemporaryDirectory(prefix="tb-bench-") as tmp:
            loader = Loader(args, secret, Path(tmp), run_id)
            print("warm-up (not counted)", flush=True)
            for name, (port, pid) in pids.items():
                loader.measure(name, port, pid, 16, 3)
            figures = []
            for c in args.connections:
                for r in range(args.rounds):
                    order = ["baseline", "ingest"] if r % 2 == 0 else ["ingest", "baseline"]
                    for name in order:
                        port, pid = pids[name]
                        figures.append(loader.measure(name, port, pid, c, args.seconds))
        result["figures"] = figures
        result["accept"] = summarize(figures, args.connections)
        result["rss_mib"] = {
            "ingest (peak)": proc_status(ingest_pid, "VmHWM"),
            "baseline (peak)": proc_status(baseline.pid, "VmHWM"),
        }
        backlog = loader.accepted_by_ingest
    finally:
        if baseline is not None:
            stop(baseline, signal.SIGTERM)
        stop(ingest)
    try:
        if args.drain_seconds > 0:
            result["mapping"] = drain_mapping(args, run_id, pg, backlog)
            result["rss_mib"]["mapping (peak)"] = result["mapping"]["peak_rss_mib"]["mapping"]
    finally:
        asyncio.run(drop_databases(pg, run_id))
    return result


async def drop_databases(pg: str, run_id: str) -> None:
    admin = await asyncpg.connect(f"{pg}/postgres")
    try:
        for name in ("tb_ingest", "tb_mapping"):
            await admin.execute(f'DROP DATABASE IF EXISTS "bench_{run_id}_{name}" WITH (FORCE)')
    finally:
        await admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--rounds", type=int, default=2, help="per target and connection count")
    parser.add_argument("--seconds", type=int, default=10, help="per measurement")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--pool-per-second", type=int, default=12000, help="requests signed")
    parser.add_argument("--drain-seconds", type=int, default=20, help="0 skips mapping")
    parser.add_argument("--kafka", default="127.0.0.1:19092")
    parser.add_argument("--pg-port", type=int, default=15432)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--py-spy", type=Path, help="profile ingest's measurements into DIR")
    args = parser.parse_args()
    result = run(args)
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    report(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten: {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
