"""Two-way end to end: Everhour connected both ways in real time, so each write of ours comes
back to ingest as Everhour's webhook (issue 12's echo defect: ingest grew to 1.8 GB under them).

Run from the repository root: ``python -m bench.e2e_twoway --entries 1000`` (``--help``).

The processes of :mod:`bench.e2e_sync`, with the integration two way: ingest registers Everhour's
webhook and the Everhour sandbox (``bench/e2e_everhour.py``) delivers an ``api:time:updated`` to
it after each write, as Everhour does. Each request the sandbox serves is counted by the process
that sent it. After the warm-up (its echoes settled), ``--entries`` Core webhooks are drained and
each ``--paced R:S`` offered, as in :mod:`bench.e2e_sync`; then the bench waits until the echoes
settle (every write delivered, ingest's inbox empty, nothing new of the workspace for
``--settle-idle`` seconds). Checked and reported:

* no duplicate anywhere: each Core entry ``synced`` once over the run (Kafka), Everhour holding
  exactly the records sent, Core holding no entry and asked for no write (an echo written back
  into Core would be a duplicate there);
* what an echo costs: deliveries made (and ingest's answers), ingest's Everhour requests per
  delivery by route (issue 12: at most one read, none when the delivery proves it is ours),
  the records each echo put on Kafka (``TimeEntryLogged``/``EntryMapped``/``EntrySynced`` keyed
  by the Everhour record) and their outcomes; the resolver's requests per Core entry;
* ingest's memory: RSS of each service sampled every ``--interval`` seconds (peak, slope).

A measurement, not a test: the exit code is 0 whatever the figures.
"""

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.accept import ROOT
from bench.e2e_served import MODULES, Served, drop_databases, served
from bench.e2e_sync import (
    STAGES,
    Pipeline,
    add_common,
    measure,
    prepare,
    show,
    tracker_check,
    write,
)
from bench.e2e_webhooks import entry_id
from bench.soak import RSS_GOAL_MIB, Sampler, summarize

RESULTS = ROOT / "bench" / "results" / "e2e-twoway.json"


class Echoes(Pipeline):
    """Every record of this workspace by stage and source (``core``, or ``everhour`` for an
    Everhour record's change: an echo), and the outcomes of the echoes' ``EntrySynced``."""

    def __init__(self, kafka: str, workspace: str) -> None:
        super().__init__(kafka, workspace)
        self.prefix = f"{workspace}:".encode()
        self.records: Counter[str] = Counter()
        self.keys: dict[str, set[str]] = {}
        self.outcomes: Counter[str] = Counter()

    async def read(self, timeout_ms: int = 200) -> None:
        assert self._consumer is not None
        for tp, batch in (await self._consumer.getmany(timeout_ms=timeout_ms)).items():
            stage = STAGES[tp.topic]
            for r in batch:
                if not (r.key and r.key.startswith(self.prefix)):
                    continue
                self.last_record = time.monotonic()
                source = r.key[len(self.prefix) :].split(b":", 1)[0].decode()
                self.records[f"{stage} {source}"] += 1
                self.keys.setdefault(f"{stage} {source}", set()).add(r.key.decode())
                if stage == "synced":
                    value = json.loads(r.value)
                    reason = (value.get("reason") or "").split(" (", 1)[0][:120]  # no ids
                    self.outcomes[f"{source} {value['status']} {value['operation']} {reason}"] += 1

    def summary(self) -> dict[str, Any]:
        return {
            "records": dict(self.records),
            "distinct_keys": {k: len(v) for k, v in self.keys.items()},
            "synced_outcomes": dict(self.outcomes.most_common(12)),
        }


def snapshot(s: Served, pg: str) -> dict[str, Any]:
    """The counters an echo moves: requests by process, deliveries, Core's requests, CPU."""
    by_process = httpx.get(f"{s.everhour_url}/_bench/by-process", timeout=30).json()
    deliveries = httpx.get(f"{s.everhour_url}/_sandbox/deliveries", timeout=60).json()
    core = httpx.get(f"{s.core_url}/_bench/requests", timeout=30).json()
    return {
        "by_process": Counter(by_process),
        "deliveries": Counter(str(d["status"] or d["error"]) for d in deliveries),
        "core_requests": Counter(core["requests"]),
        "core_entries": sum(core["entries"].values()),
        "inbox": asyncio.run(inbox_rows(pg, s.run_id)),
        "cpu": s.cpu(),
    }


async def inbox_rows(pg: str, run_id: str) -> int:
    """Rows in ingest's webhook inbox (each a record still to re-read)."""
    conn = await asyncpg.connect(f"{pg}/bench_{run_id}_tb_ingest")
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM hook_deliveries")
        return count
    finally:
        await conn.close()


def written(counts: Counter[str]) -> int:
    """The resolver's writes (each one Everhour announces by a delivery)."""
    return sum(n for k, n in counts.items() if k.startswith("resolver POST /tasks/"))


async def settle(s: Served, args: argparse.Namespace, echoes: Echoes) -> float:
    """Until every write of ours was delivered, ingest's inbox is empty and nothing new came for
    ``args.settle_idle`` seconds (at most ``args.settle``)."""
    began = time.monotonic()
    quiet_since, last = time.monotonic(), None
    while time.monotonic() - began < args.settle:
        for _ in range(5):
            await echoes.read()
        now = await asyncio.to_thread(snapshot, s, args.pg)
        state = (
            sum(now["deliveries"].values()),
            now["by_process"],
            echoes.last_record,
            now["inbox"],
        )
        if state != last:
            quiet_since, last = time.monotonic(), state
        delivered = sum(now["deliveries"].values()) >= written(now["by_process"])
        if delivered and now["inbox"] == 0 and time.monotonic() - quiet_since >= args.settle_idle:
            break
    return round(time.monotonic() - began, 1)


def echo_costs(first: dict[str, Any], last: dict[str, Any], entries: int) -> dict[str, Any]:
    """Between two snapshots: deliveries, ingest's requests per delivery, the resolver's per
    entry, Core's writes, each process's CPU per entry (the echoes' share included)."""
    deliveries = last["deliveries"] - first["deliveries"]
    requests = last["by_process"] - first["by_process"]
    ingest = {k.removeprefix("ingest "): n for k, n in requests.items() if k.startswith("ingest")}
    resolver = sum(n for k, n in requests.items() if k.startswith("resolver"))
    core_writes = {
        k: n
        for k, n in (last["core_requests"] - first["core_requests"]).items()
        if not k.startswith("GET")
    }
    made = sum(deliveries.values())
    reread = made - (last["inbox"] - first["inbox"])  # a hint waiting is a row of the inbox
    return {
        "deliveries": made,
        "delivery_answers": dict(deliveries),
        "echoes_reread": reread,
        "ingest_everhour_requests": ingest,
        "ingest_requests_per_delivery": round(sum(ingest.values()) / max(made, 1), 3),
        "ingest_requests_per_echo_reread": round(sum(ingest.values()) / max(reread, 1), 3),
        "resolver_requests_per_entry": round(resolver / max(entries, 1), 3),
        "everhour_requests_by_process": dict(requests),
        "core_write_requests": core_writes,
        "core_entries_held": last["core_entries"],
        "inbox_rows_at_end": last["inbox"],
        "cpu_ms_per_entry_with_echoes": {
            k: round(1000 * (v - first["cpu"][k]) / max(entries, 1), 3)
            for k, v in last["cpu"].items()
            if k in first["cpu"]
        },
    }


async def two_way(s: Served, args: argparse.Namespace) -> dict[str, Any]:
    pipe, echoes = Pipeline(args.kafka, s.world.workspace), Echoes(args.kafka, s.world.workspace)
    await pipe.start()
    await echoes.start()
    sampler = Sampler({name: s.pids[name] for name in MODULES}, args.interval)
    out: dict[str, Any] = {}
    try:
        tickets = len(s.world.tickets)
        warm = await measure(s, args, pipe, range(-tickets, 0), None)
        show("warm-up", warm)
        if warm["missing"] or warm["refused"]:
            raise RuntimeError(f"warm-up entries not synced: {warm['reasons']}")
        await settle(s, args, echoes)
        first = await asyncio.to_thread(snapshot, s, args.pg)
        sampler.start()
        began, runs, n = time.monotonic(), [], 0
        if args.entries:
            runs.append(await measure(s, args, pipe, range(args.entries), None))
            show("drain", runs[-1])
            n = args.entries
        for spec in args.paced:
            rate, seconds = (float(x) for x in spec.split(":"))
            count = round(rate * seconds)
            runs.append(await measure(s, args, pipe, range(n, n + count), rate))
            show(f"paced {rate:g}/s", runs[-1])
            n += count
        out["settle_seconds"] = await settle(s, args, echoes)
        out["seconds"] = round(time.monotonic() - began, 1)
        sampler.done.set()
        sampler.join()
        last = await asyncio.to_thread(snapshot, s, args.pg)
    finally:
        await pipe.stop()
        await echoes.stop()
    names = {entry_id(s.run_id, k) for k in range(n)}
    out["runs"] = runs
    out["entries"] = n
    out["core_entries_synced"] = len(names & pipe.all_synced.keys())
    out["core_entries_synced_more_than_once"] = sum(1 for e in names if pipe.all_synced[e] > 1)
    out["echoes"] = echo_costs(first, last, n) | echoes.summary()
    out["everhour_records"] = tracker_check(s, list(range(-tickets, n)))
    out["memory"] = summarize(sampler.samples, s.peak_rss_mib())
    out["all_within_rss_goal"] = all(m["peak_mib"] <= RSS_GOAL_MIB for m in out["memory"].values())
    print(json.dumps({k: out[k] for k in ("echoes", "everhour_records", "memory")}, indent=1))
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    code, result = prepare(args, run_id)
    env = result["service_env"]
    script = ROOT / "bench" / "e2e_everhour.py"
    try:
        with served(
            args.kafka,
            run_id,
            tickets=args.tickets,
            code=code,
            env=env,
            direction="two_way",
            everhour_script=script,
        ) as s:
            httpx.post(f"{s.everhour_url}/_bench/pids", json=s.pids, timeout=10)
            hooks = httpx.get(
                f"{s.everhour_url}/hooks", headers={"X-Api-Key": s.everhour_world["key"]}
            ).json()
            result["everhour_hooks"] = [{k: h[k] for k in ("events", "project")} for h in hooks]
            print(f"Everhour hooks: {result['everhour_hooks']}", flush=True)
            result |= asyncio.run(two_way(s, args))
    finally:
        asyncio.run(drop_databases(args.pg, run_id))
    result["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1000, help="drained webhooks (0: none)")
    parser.add_argument("--paced", action="append", default=[], metavar="RATE:SECONDS")
    parser.add_argument("--settle", type=float, default=180.0, help="wait for echoes, at most")
    parser.add_argument("--settle-idle", type=float, default=8.0, help="quiet for this long")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between samples")
    add_common(parser)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.pg = f"postgresql://timebridge:timebridge@127.0.0.1:{args.pg_port}"
    write(run(args), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
