"""Memory through the whole pipeline over a soak (issue 12: every service <= 150 MiB RSS, memory
flat over a 10-minute soak), every entry checked end to end.

Run from the repository root: ``python -m bench.e2e_soak --seconds 600 --rate 30`` (``--help``).

The processes and setup of :mod:`bench.e2e_sync` (ingest, mapping, conflict-resolver and
credential owner each their own process, HEAD's committed code, Core and Everhour sandboxes,
Everhour connected one way in real time). After the warm-up, signed Core webhooks are offered at
``--rate`` per second for ``--seconds``, in segments of ``--segment-seconds`` (each segment's
requests are signed when it starts: Core's signatures last 5 minutes); each segment is one
measurement of :func:`bench.e2e_sync.measure` (every entry synced once, latency, CPU per entry),
and the next starts once its entries are synced (at a rate the pipeline sustains that is a
fraction of a second). Every ``--interval`` seconds each service's RSS is sampled
(:class:`bench.soak.Sampler`); reported per service: start, peak (``VmHWM``), end and the slope
over the second half (flat: <= 1 MiB/min), as :mod:`bench.soak` does for ingest and mapping
alone. At the end Everhour must hold exactly the records sent, and no entry may have two
``synced`` records over the whole soak. A measurement, not a test: the exit code is 0 whatever
the figures.
"""

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench.accept import ROOT
from bench.e2e_served import MODULES, Served, drop_databases, served
from bench.e2e_sync import Pipeline, add_common, measure, prepare, show, tracker_check, write
from bench.e2e_webhooks import entry_id
from bench.soak import RSS_GOAL_MIB, Sampler, summarize

RESULTS = ROOT / "bench" / "results" / "e2e-soak.json"


def compact(r: dict[str, Any]) -> dict[str, Any]:
    """A segment's figures worth keeping for each of a soak's many segments."""
    lat = r["latency_ms"]["sent_to_synced"]
    keep = ("ingest", "mapping", "resolver", "owner", "machine")
    return {
        "entries": r["entries"],
        "synced": r["synced"],
        "missing": r["missing"],
        "duplicated": r["duplicated"],
        "refused": r["refused"],
        "synced_per_second": r["synced_per_second"],
        "sent_to_synced_p50_p99_ms": [lat.get("p50"), lat.get("p99")],
        "cpu_ms_per_entry": {k: v for k, v in r["cpu_ms_per_entry"].items() if k in keep},
        "load_average_1m": r["load_average_before"][0],
    }


async def paced_segments(
    s: Served, args: argparse.Namespace, pipe: Pipeline, first: int
) -> tuple[list[dict[str, Any]], int]:
    """Webhooks at ``args.rate`` for ``args.seconds``, one measurement per segment; the
    segments' figures and the next entry number."""
    segments: list[dict[str, Any]] = []
    began = time.monotonic()
    while (left := args.seconds - (time.monotonic() - began)) >= 1:
        count = max(1, round(args.rate * min(args.segment_seconds, left)))
        r = await measure(s, args, pipe, range(first, first + count), args.rate)
        show(f"segment {len(segments) + 1} at {time.monotonic() - began:.0f} s", r)
        segments.append(compact(r))
        first += count
    return segments, first


def totals(
    segments: list[dict[str, Any]], pipe: Pipeline, run_id: str, numbers: range
) -> dict[str, Any]:
    """Every entry of the soak: synced, missing, and those with more than one ``synced``."""
    names = {entry_id(run_id, n) for n in numbers}
    twice = sorted(e for e in names if pipe.all_synced[e] > 1)
    return {
        "entries": len(numbers),
        "synced": sum(seg["synced"] for seg in segments),
        "missing": sum(seg["missing"] for seg in segments),
        "refused": sum(seg["refused"] for seg in segments),
        "synced_more_than_once": len(twice),
        "synced_more_than_once_first": twice[:5],
    }


async def soak_run(s: Served, args: argparse.Namespace) -> dict[str, Any]:
    pipe = Pipeline(args.kafka, s.world.workspace)
    await pipe.start()
    services = {name: s.pids[name] for name in MODULES}
    sampler = Sampler(services, args.interval)
    try:
        tickets = len(s.world.tickets)
        warm = await measure(s, args, pipe, range(-tickets, 0), None)
        show("warm-up", warm)
        if warm["missing"] or warm["refused"]:
            raise RuntimeError(f"warm-up entries not synced: {warm['reasons']}")
        sampler.start()
        began = time.monotonic()
        segments, last = await paced_segments(s, args, pipe, 0)
        elapsed = time.monotonic() - began
        sampler.done.set()
        sampler.join()
        for _ in range(10):  # a late second ``synced`` of an entry of the last segment
            await pipe.read()
    finally:
        await pipe.stop()
    peaks = s.peak_rss_mib()
    memory = summarize(sampler.samples, peaks)
    print(json.dumps(memory), flush=True)  # before the slow check of Everhour's records
    out: dict[str, Any] = {
        "rate_offered_per_second": args.rate,
        "soak_seconds": round(elapsed, 1),
        "segments": segments,
        "all": totals(segments, pipe, s.run_id, range(last)),
        "memory": memory,
        "all_within_rss_goal": all(m["peak_mib"] <= RSS_GOAL_MIB for m in memory.values()),
        "all_flat": all(m["flat"] for m in memory.values()),
        "peak_rss_mib": peaks,
        "everhour_records": tracker_check(s, list(range(-len(s.world.tickets), last))),
    }
    loads = [seg["load_average_1m"] for seg in segments]
    out["load_average_1m_range"] = [min(loads, default=0.0), max(loads, default=0.0)]
    for name, m in memory.items():
        print(
            f"{name}: start {m['start_mib']} peak {m['peak_mib']} end {m['end_mib']} MiB, slope"
            f" {m['slope_mib_per_minute_second_half']} MiB/min (flat: {m['flat']})",
            flush=True,
        )
    print(f"all: {out['all']}; Everhour: {out['everhour_records']}", flush=True)
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    code, result = prepare(args, run_id)
    env = result["service_env"]
    try:
        with served(args.kafka, run_id, tickets=args.tickets, code=code, env=env) as s:
            result |= asyncio.run(soak_run(s, args))
    finally:
        asyncio.run(drop_databases(args.pg, run_id))
    result["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="the soak (600: 10 minutes)")
    parser.add_argument("--rate", type=float, default=30.0, help="webhooks per second offered")
    parser.add_argument("--segment-seconds", type=float, default=60.0, help="at most 240")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between samples")
    add_common(parser)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.pg = f"postgresql://timebridge:timebridge@127.0.0.1:{args.pg_port}"
    if not 0 < args.segment_seconds <= 240 or args.rate <= 0:
        parser.error("--segment-seconds in (0, 240] (signatures last 5 min), --rate > 0")
    write(run(args), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
