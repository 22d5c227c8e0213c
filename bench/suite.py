"""``make bench``: every phase of issue 12's benchmark in one run, one JSON result.

Run from the repository root: ``python -m bench.suite`` (``--help`` for the knobs; ~18 minutes).

Each phase is its own bench module, run as its own process (its figures are not disturbed by the
previous phase's memory, and a phase that fails is reported without ending the run):

1. ``bench.accept`` — ingest's Core webhook accept path against the bare baseline, side by side;
2. ``bench.mapping_drain`` — a backlog of ``TimeEntryLogged`` into mapping's database;
3. ``bench.sync_drain`` — ``EntryMapped`` -> conflict-resolver -> Everhour sandbox (limit lifted)
   -> ``EntrySynced``: drained, then paced at 500 entries/s for the webhook-to-synced p99;
4. ``bench.e2e_sync`` — the whole pipeline: signed Core webhooks -> ingest -> mapping ->
   resolver -> Everhour sandbox (limit lifted) -> ``EntrySynced``, each its own process: drained,
   then paced at 50 and 500 entries/s (webhook-to-synced p99, CPU per entry of each process);
5. ``bench.sync_limit`` — the resolver at Everhour's documented limit (skipped, with a message,
   when the module is not there);
6. ``bench.slot_release`` — a 5-minute slot holding 10,000 entries;
7. ``bench.soak`` — RSS of ingest, the credential owner and mapping under sustained webhooks,
   sampled (``--soak-seconds``, 60 by default; 600 for the 10-minute soak);
8. ``bench.e2e_soak`` — the whole pipeline of phase 4 at a paced rate the pipeline sustains
   (``--e2e-soak-rate``) for ``--e2e-soak-seconds`` (60 by default; 600 for the 10-minute
   soak), each service's RSS sampled, every entry checked;
9. ``bench.e2e_twoway`` — phase 4 with Everhour connected both ways, its webhooks echoing our
   writes back to ingest (``--twoway-entries``): duplicates anywhere, requests per echo,
   ingest's memory.

``--e2e-entries 10000`` runs phase 4's drain on 10,000 entries (the default is 1,000).

Every figure is written with its goal and met/MISSED, with the 1-minute load average of its
phase (the machine's 2 cores are shared by the load generator, the services, Kafka and
PostgreSQL: throughput moves with the load average, CPU per entry is the stable figure). The
result goes to ``bench/results/suite.json``. A measurement, not a test: the exit code is 0 even
when a goal is missed (1 only when a phase could not run).
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "suite.json"
RSS_GOAL_MIB = 150.0

Figure = dict[str, Any]


def figure(
    name: str, value: float | None, goal: float | None, unit: str, *, at_most: bool = False
) -> Figure:
    """One figure with its goal and verdict (``None`` goal: reported, not judged)."""
    verdict = None
    if value is not None and goal is not None:
        verdict = "met" if (value <= goal if at_most else value >= goal) else "MISSED"
    return {
        "figure": name,
        "value": value,
        "unit": unit,
        "goal": None if goal is None else f"{'<=' if at_most else '>='} {goal:g}",
        "verdict": verdict,
    }


def accept_figures(r: dict[str, Any]) -> list[Figure]:
    out: list[Figure] = []
    for c, s in r.get("accept", {}).items():
        out.append(figure(f"ingest / baseline at {c} connections", s["ratio"], 0.8, "x"))
        out.append(
            figure(
                f"ingest CPU per webhook at {c} connections",
                s["ingest_cpu_ms_per_request"],
                None,
                "ms",
            )
        )
        out.append(
            figure(f"ingest accepted at {c} connections", s["ingest_per_second"], None, "/s")
        )
    if "64" in r.get("accept", {}):
        p99 = r["accept"]["64"]["ingest_p99_ms"]
        out.append(figure("ingest p99 at 64 connections", p99, 50.0, "ms", at_most=True))
    for name, mib in r.get("rss_mib", {}).items():
        out.append(figure(f"RSS {name}", round(mib, 1), RSS_GOAL_MIB, "MiB", at_most=True))
    return out


def mapping_figures(r: dict[str, Any]) -> list[Figure]:
    return [
        figure("into mapping's database", r["per_second"], 2000.0, "entries/s"),
        figure("mapping CPU per entry", r["cpu_ms_per_entry"], None, "ms"),
        *(
            figure(f"RSS {name} (peak, drain)", round(mib, 1), RSS_GOAL_MIB, "MiB", at_most=True)
            for name, mib in r.get("peak_rss_mib", {}).items()
        ),
    ]


def sync_drain_figures(r: dict[str, Any]) -> list[Figure]:
    return [
        figure(
            "Core -> Everhour sandbox -> EntrySynced, limit lifted",
            r["per_second"],
            1000.0,
            "entries/s",
        ),
        figure("resolver process CPU per entry", r.get("cpu_ms_per_entry"), None, "ms"),
        figure(
            "Everhour requests per entry (limit lifted)",
            r.get("everhour_requests_per_entry"),
            None,
            "requests",
        ),
    ]


def sync_paced_figures(r: dict[str, Any]) -> list[Figure]:
    p99 = r.get("latency_ms", {}).get("p99")
    return [
        figure(
            "webhook-to-EntrySynced p99 at 500 entries/s offered", p99, 150.0, "ms", at_most=True
        ),
        figure("synced per second at 500 entries/s offered", r["per_second"], None, "entries/s"),
    ]


def e2e_figures(r: dict[str, Any]) -> list[Figure]:
    """The end-to-end phase: drain, the paced runs, and each process's CPU per entry and RSS."""
    out: list[Figure] = []
    drain = r.get("drain")
    runs = ([drain] if drain else []) + list(r.get("paced", []))
    if drain:
        name = "end to end: Core webhook -> Everhour sandbox -> EntrySynced, drained"
        out.append(figure(name, drain["synced_per_second"], 1000.0, "entries/s"))
    for run in r.get("paced", []):
        rate = f"{run['offered_per_second']:g}/s offered"
        p99 = run["latency_ms"]["sent_to_synced"].get("p99")
        goal = 150.0 if run["offered_per_second"] >= 500 else None
        out.append(
            figure(
                f"end to end: webhook-to-EntrySynced p99 at {rate}", p99, goal, "ms", at_most=True
            )
        )
        out.append(
            figure(
                f"end to end: synced per second at {rate}",
                run["synced_per_second"],
                None,
                "entries/s",
            )
        )
    lost = sum(run["missing"] + run["duplicated"] for run in runs)
    out.append(
        figure("end to end: entries missing or duplicated", lost, 0.0, "entries", at_most=True)
    )
    if drain:
        for process, ms in drain["cpu_ms_per_entry"].items():
            out.append(figure(f"end to end: {process} CPU per entry (drain)", ms, None, "ms"))
        requests = drain["everhour_requests_per_entry"]
        out.append(figure("end to end: Everhour requests per entry", requests, None, "requests"))
    for process, mib in r.get("peak_rss_mib", {}).items():
        goal = None if process.endswith("_sandbox") else RSS_GOAL_MIB  # the goal is the services'
        out.append(figure(f"RSS {process} (peak, end to end)", mib, goal, "MiB", at_most=True))
    return out


def e2e_soak_figures(r: dict[str, Any]) -> list[Figure]:
    """The soak through the whole pipeline: each service's peak and slope, entries lost."""
    rate = r["rate_offered_per_second"]
    out = soak_figures({"services": r["memory"]})
    for f in out:
        f["figure"] = f["figure"].replace("soak", f"end-to-end soak at {rate:g}/s")
    every = r["all"]
    lost = every["missing"] + every["refused"] + every["synced_more_than_once"]
    out.append(figure("end-to-end soak: entries lost or duplicated", lost, 0.0, "", at_most=True))
    wrong = r["everhour_records"]["missing_or_different"] + r["everhour_records"]["unexpected"]
    out.append(
        figure("end-to-end soak: Everhour records not as sent", wrong, 0.0, "", at_most=True)
    )
    return out


def twoway_figures(r: dict[str, Any]) -> list[Figure]:
    """Two way: duplicates anywhere, what an echo costs, each service's memory."""
    e, eh = r["echoes"], r["everhour_records"]
    dups = r["core_entries_synced_more_than_once"] + e["core_entries_held"] + eh["unexpected"]
    lost = r["entries"] - r["core_entries_synced"] + eh["missing_or_different"]
    per_echo = e["ingest_requests_per_echo_reread"]
    return [
        figure("two-way: duplicates (Kafka, Core, Everhour)", dups, 0.0, "", at_most=True),
        figure("two-way: entries missing", lost, 0.0, "entries", at_most=True),
        figure("two-way: Core write requests", sum(e["core_write_requests"].values()), None, ""),
        figure("two-way: ingest's Everhour requests per echo", per_echo, 1.0, "", at_most=True),
        figure("two-way: echoes still in ingest's inbox", e["inbox_rows_at_end"], None, ""),
        figure("two-way: resolver requests per entry", e["resolver_requests_per_entry"], None, ""),
        *(
            figure(f"RSS {name} (peak, two-way)", m["peak_mib"], RSS_GOAL_MIB, "MiB", at_most=True)
            for name, m in r["memory"].items()
        ),
        *(
            figure(
                f"RSS {name} slope, second half of the two-way run",
                m["slope_mib_per_minute_second_half"],
                1.0,
                "MiB/min",
                at_most=True,
            )
            for name, m in r["memory"].items()
        ),
    ]


def sync_limit_figures(r: dict[str, Any]) -> list[Figure]:
    return [
        figure(
            "useful writes / allowed requests at Everhour's documented limit",
            r["useful_write_share_of_allowed"],
            0.8,
            "share",
        ),
        figure(
            "Everhour requests per synced entry at the limit",
            r["requests_per_entry_total"],
            None,
            "requests",
        ),
        figure(
            "entries synced per second at the limit", r["entries_per_second"], None, "entries/s"
        ),
    ]


def slot_figures(r: dict[str, Any]) -> list[Figure]:
    return [
        figure(
            f"slot of {r['entries']}: all released and EntryMapped published",
            r["published_per_second"],
            1000.0,
            "entries/s",
        ),
        figure("slot release: seconds until all published", r["published_s"], None, "s"),
        figure("slot release process CPU per entry", r["process_cpu_ms_per_entry"], None, "ms"),
    ]


def soak_figures(r: dict[str, Any]) -> list[Figure]:
    out: list[Figure] = []
    for name, s in r["services"].items():
        out.append(
            figure(f"RSS {name} (peak, soak)", s["peak_mib"], RSS_GOAL_MIB, "MiB", at_most=True)
        )
        out.append(
            figure(
                f"RSS {name} slope, second half of the soak",
                s["slope_mib_per_minute_second_half"],
                1.0,
                "MiB/min",
                at_most=True,
            )
        )
    return out


def phases(args: argparse.Namespace) -> list[tuple[str, str, list[str], Callable[..., Any]]]:
    """(name, module, its arguments, the figures of its result)."""
    common = ["--kafka", args.kafka, "--pg-port", str(args.pg_port)]
    return [
        ("accept", "bench.accept", ["--drain-seconds", "0", *common], accept_figures),
        (
            "mapping drain",
            "bench.mapping_drain",
            ["--entries", str(args.mapping_entries), "--drain-seconds", "20", *common],
            mapping_figures,
        ),
        (
            "sync drain",
            "bench.sync_drain",
            ["--entries", str(args.sync_entries), *common],
            sync_drain_figures,
        ),
        (
            "sync paced",
            "bench.sync_drain",
            ["--rate", "500", "--seconds", "1", *common],
            sync_paced_figures,
        ),
        (
            "sync end to end",
            "bench.e2e_sync",
            [
                *("--entries", str(args.e2e_entries)),
                *(a for spec in args.e2e_paced for a in ("--paced", spec)),
                *common,
            ],
            e2e_figures,
        ),
        (
            "sync at the limit",
            "bench.sync_limit",
            ["--entries", str(args.limit_entries), *common],
            sync_limit_figures,
        ),
        (
            "slot release",
            "bench.slot_release",
            ["--entries", str(args.slot_entries), *common],
            slot_figures,
        ),
        ("memory", "bench.soak", ["--soak-seconds", str(args.soak_seconds), *common], soak_figures),
        (
            "end-to-end soak",
            "bench.e2e_soak",
            [
                *("--seconds", str(args.e2e_soak_seconds), "--rate", str(args.e2e_soak_rate)),
                *common,
            ],
            e2e_soak_figures,
        ),
        (
            "two-way",
            "bench.e2e_twoway",
            ["--entries", str(args.twoway_entries), "--settle", "60", *common],
            twoway_figures,
        ),
    ]


def run_phase(
    name: str, module: str, arguments: list[str], tmp: Path, timeout_s: float
) -> tuple[dict[str, Any] | None, str]:
    """Run one phase's module; its JSON result (or ``None``) and what happened."""
    if importlib.util.find_spec(module) is None:
        return None, f"skipped: {module} is not there"
    out = tmp / f"{module}-{name.replace(' ', '-')}.json"
    log = tmp / f"{module}-{name.replace(' ', '-')}.log"
    with log.open("wb") as sink:
        try:
            proc = subprocess.run(  # noqa: S603 - our interpreter, our modules
                [sys.executable, "-m", module, *arguments, "--out", str(out)],
                cwd=ROOT,
                stdout=sink,
                stderr=subprocess.STDOUT,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return None, f"FAILED: no result within {timeout_s:.0f} s (log: {log})"
    if proc.returncode != 0 or not out.exists():
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        return None, f"FAILED (exit {proc.returncode}): {' | '.join(tail)}"
    result: dict[str, Any] = json.loads(out.read_text())
    return result, "ran"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mapping-entries", type=int, default=40_000)
    parser.add_argument("--sync-entries", type=int, default=400)
    parser.add_argument("--e2e-entries", type=int, default=1000, help="end to end, drained")
    parser.add_argument(
        "--e2e-paced",
        nargs="*",
        default=["50:10", "500:4"],
        metavar="RATE:SECONDS",
        help="end to end, paced runs (webhooks per second offered, for how long)",
    )
    parser.add_argument("--limit-entries", type=int, default=40)
    parser.add_argument("--slot-entries", type=int, default=10_000)
    parser.add_argument("--soak-seconds", type=int, default=60, help="600 for the 10-minute soak")
    parser.add_argument("--e2e-soak-seconds", type=int, default=60, help="the whole pipeline's")
    parser.add_argument("--e2e-soak-rate", type=float, default=30.0, help="webhooks/s offered")
    parser.add_argument("--twoway-entries", type=int, default=300, help="two-way, drained")
    parser.add_argument("--only", nargs="+", help="run only these phases (by name)")
    parser.add_argument("--phase-timeout", type=float, default=900.0)
    parser.add_argument("--kafka", default="127.0.0.1:19092")
    parser.add_argument("--pg-port", type=int, default=15432)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    suite: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cores": os.cpu_count(),
        "phases": {},
    }
    failed = False
    with tempfile.TemporaryDirectory(prefix="tb-suite-") as tmp:
        for name, module, arguments, figures_of in phases(args):
            if args.only and name not in args.only:
                continue
            load = os.getloadavg()[0]
            began = time.monotonic()
            print(f"\n== {name} ({module}), load {load:.2f}", flush=True)
            result, status = run_phase(name, module, arguments, Path(tmp), args.phase_timeout)
            phase: dict[str, Any] = {
                "module": module,
                "status": status,
                "seconds": round(time.monotonic() - began, 1),
                "load_average_1m_at_start": round(load, 2),
                "load_average_1m_at_end": round(os.getloadavg()[0], 2),
            }
            if result is not None:
                try:
                    phase["figures"] = figures_of(result)
                except (KeyError, TypeError) as exc:  # a phase's result changed shape
                    phase["status"] = f"ran, figures not read: {exc!r}"
                phase["result"] = result
            failed |= status.startswith("FAILED")
            suite["phases"][name] = phase
            print(f"   {phase['status']} in {phase['seconds']} s", flush=True)
            for f in phase.get("figures", []):
                verdict = f" ({f['goal']}: {f['verdict']})" if f["verdict"] else ""
                print(f"   {f['figure']}: {f['value']} {f['unit']}{verdict}", flush=True)
    suite["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    all_figures = [f for p in suite["phases"].values() for f in p.get("figures", [])]
    suite["missed"] = [f["figure"] for f in all_figures if f["verdict"] == "MISSED"]
    suite["met"] = [f["figure"] for f in all_figures if f["verdict"] == "met"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(suite, indent=2) + "\n")
    print(f"\n{len(suite['met'])} goals met, {len(suite['missed'])} MISSED; written: {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
