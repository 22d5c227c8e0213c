"""Memory under sustained load: RSS of each service, sampled, over a soak (issue 12).

Run from the repository root: ``python -m bench.soak --soak-seconds 600`` (``--help``).

Ingest, the credential owner and mapping are started by the dev launcher (own databases and
consumer groups, as in :mod:`bench.accept`), and ``wrk`` sends pre-signed Core webhooks to ingest
for ``--soak-seconds``, in segments of ``--segment-seconds`` (each a fresh pool signed when it is
written, so no signature outlives Core's 5-minute tolerance); mapping stores what ingest accepts.
Every ``--interval`` seconds the RSS of each service is sampled. Reported per service: RSS at the
start, peak and end, and the slope (MiB per minute, least squares) over the second half of the
soak, when the services are warm. Memory counts as flat when that slope is at most
``FLAT_MIB_PER_MINUTE``. Goals: every service <= 150 MiB, memory flat.
"""

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from bench.accept import (
    INGEST_PORT,
    ROOT,
    URL_PATH,
    WORKSPACE,
    child_pid,
    cpu_s,
    drop_databases,
    launch,
    load_average,
    proc_status,
    stop,
)
from bench.wrk_load import run_wrk, write_script
from timebridge_common.kafka.topics import all_topics
from timebridge_common.testing import position_group_at_end

RSS_GOAL_MIB = 150.0
FLAT_MIB_PER_MINUTE = 1.0
"""A leak of 1 MiB a minute is 1.4 GiB a day; less than that is within a soak's noise here."""
MODULES = {
    "ingest": "timebridge_ingest",
    "credentials": "timebridge_credentials",
    "mapping": "timebridge_mapping",
}


def slope_per_minute(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB) samples, in MiB per minute (0 for < 2 samples)."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_m = sum(m for _, m in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    if var == 0:
        return 0.0
    cov = sum((t - mean_t) * (m - mean_m) for t, m in samples)
    return 60 * cov / var


def summarize(samples: dict[str, list[tuple[float, float]]], peaks: dict[str, float]) -> Any:
    """Per service: start, peak (``VmHWM``), end, second-half slope; met/MISSED for each goal."""
    out: dict[str, Any] = {}
    for name, series in samples.items():
        if not series:
            continue
        half = series[0][0] + (series[-1][0] - series[0][0]) / 2
        slope = slope_per_minute([s for s in series if s[0] >= half])
        peak = max(peaks.get(name, 0.0), *(m for _, m in series))
        out[name] = {
            "start_mib": round(series[0][1], 1),
            "peak_mib": round(peak, 1),
            "end_mib": round(series[-1][1], 1),
            "slope_mib_per_minute_second_half": round(slope, 3),
            "samples": len(series),
            "peak_goal": f"<= {RSS_GOAL_MIB:g} MiB: {'met' if peak <= RSS_GOAL_MIB else 'MISSED'}",
            "flat": slope <= FLAT_MIB_PER_MINUTE,
        }
    return out


class Sampler(threading.Thread):
    """Samples ``VmRSS`` of each pid every ``interval`` seconds until stopped."""

    def __init__(self, pids: dict[str, int], interval: float) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.interval = interval
        self.samples: dict[str, list[tuple[float, float]]] = {name: [] for name in pids}
        self.done = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        while not self.done.is_set():
            now = time.monotonic() - started
            for name, pid in self.pids.items():
                # A process that ended: the report shows where its samples stop.
                with contextlib.suppress(OSError):
                    self.samples[name].append((now, proc_status(pid, "VmRSS")))
            self.done.wait(self.interval)


def soak(args: argparse.Namespace) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    pg = f"postgresql://timebridge:timebridge@127.0.0.1:{args.pg_port}"
    for service in ("ingest", "mapping"):
        asyncio.run(position_group_at_end(args.kafka, f"bench-{run_id}-{service}", all_topics()))
    creds = (ROOT / ".local" / "dev-secrets.env").read_text().splitlines()
    secret = dict(line.split("=", 1) for line in creds if "=" in line)["DEMO_CORE_WEBHOOK_SECRET"]
    launcher = launch(args, run_id, "ingest", "credentials", "mapping")
    accepted = requests = 0
    load = load_average()
    try:
        pids = {name: child_pid(launcher.pid, module) for name, module in MODULES.items()}
        cpu_before = {name: cpu_s(pid) for name, pid in pids.items()}
        sampler = Sampler(pids, args.interval)
        sampler.start()
        began = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="tb-soak-") as tmp:
            first = 0
            while (left := args.soak_seconds - (time.monotonic() - began)) >= 1:
                seconds = int(min(args.segment_seconds, left))
                pool = seconds * args.pool_per_second
                script = write_script(
                    Path(tmp),
                    f"soak-{first}",
                    secret=secret,
                    workspace=WORKSPACE,
                    url_path=URL_PATH,
                    run=run_id,
                    first=first,
                    pool=pool,
                    threads=2,
                )
                first += pool
                result = run_wrk(
                    script,
                    f"http://127.0.0.1:{INGEST_PORT}",
                    connections=args.connections,
                    threads=2,
                    seconds=seconds,
                )
                script.unlink()
                requests += result.requests
                accepted += result.requests - result.non2xx
        elapsed = time.monotonic() - began
        sampler.done.set()
        sampler.join()
        peaks = {name: proc_status(pid, "VmHWM") for name, pid in pids.items()}
        cpu = {name: round(cpu_s(pid) - cpu_before[name], 1) for name, pid in pids.items()}
    finally:
        stop(launcher)
        asyncio.run(drop_databases(pg, run_id))
    services = summarize(sampler.samples, peaks)
    return {
        "soak_seconds": round(elapsed, 1),
        "connections": args.connections,
        "webhooks_accepted": accepted,
        "accepted_per_second": round(accepted / elapsed, 1),
        "non2xx": requests - accepted,
        "cpu_seconds": cpu,
        "load_average_1m_at_start": round(load, 2),
        "load_average_1m_at_end": round(load_average(), 2),
        "services": services,
        "all_within_rss_goal": all(s["peak_mib"] <= RSS_GOAL_MIB for s in services.values()),
        "all_flat": all(s["flat"] for s in services.values()),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--soak-seconds", type=int, default=600)
    parser.add_argument("--segment-seconds", type=int, default=30, help="per wrk pool")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--pool-per-second", type=int, default=3000, help="requests signed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    add_arguments(parser)
    parser.add_argument("--kafka", default="127.0.0.1:19092")
    parser.add_argument("--pg-port", type=int, default=15432)
    parser.add_argument("--out", type=Path, help="also write the result here as JSON")
    args = parser.parse_args()
    result = soak(args)
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
