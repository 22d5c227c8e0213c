"""End to end: signed Core webhooks -> ingest -> mapping -> conflict-resolver -> Everhour sandbox
-> ``EntrySynced`` (issue 12: >= 1,000 entries/s with limits lifted, p99 <= 150 ms webhook to
``EntrySynced`` at 500 entries/s offered).

Run from the repository root: ``python -m bench.e2e_sync`` (``--help`` for the knobs; ~3 min).

Every piece is its own process (:mod:`bench.e2e_served`): ingest, mapping, the conflict-resolver
and the credential owner started by the dev launcher, the Core sandbox and the Everhour sandbox
(limit lifted). The admin's setup goes through the services' APIs (workspace, Everhour connected
one way in real time, project mapped, users matched by email); a warm-up entry per ticket links
each ticket to its task by title and opens every pool and client. Then, on the same processes:

* **drain** (``--entries N``): ``N`` webhooks posted as fast as ingest accepts them
  (:mod:`bench.e2e_webhooks`: pre-signed, raw keep-alive sockets, ``--connections`` at a time,
  a ``503`` sent again); entries synced per second from the first webhook sent to the last
  ``EntrySynced``;
* **paced** (``--paced R:S``, repeatable): ``R`` webhooks per second offered for ``S`` seconds;
  latency from each webhook sent to its ``EntrySynced`` published (the record's Kafka
  timestamp), p50/p90/p99/max, and per stage (sent -> ``TimeEntryLogged`` -> ``EntryMapped``
  -> ``EntrySynced``).

Each measurement checks every entry: one ``synced`` ``EntrySynced`` each (missing and duplicated
ones are counted and listed), and reports CPU per synced entry of each process (ingest, mapping,
resolver, owner, both sandboxes, this bench, the whole machine), peak RSS, Everhour requests per
entry and the load average. Only this run's workspace is counted on the shared broker; another
session's resolver reading our changes there (it holds no key of ours) publishes an error for
them, counted apart (``other_resolvers_errors``), and ours reads theirs: its CPU then counts
their changes too (``--kafka`` a private broker avoids both). A measurement, not a test: the
exit code is 0 whatever the figures.
"""

import argparse
import asyncio
import datetime as dt
import json
import os
import signal
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.accept import ROOT
from bench.e2e_served import (
    Served,
    committed_code,
    drop_databases,
    profilers,
    served,
    transactions,
)
from bench.e2e_webhooks import DAY, Sender, Sent, entry_id, requests
from bench.sync_drain import FOREIGN
from timebridge_common.config import KafkaConfig
from timebridge_common.events import EntryMapped, EntrySynced, TimeEntryLogged
from timebridge_common.kafka.topics import all_topics, ensure_topics
from timebridge_common.testing import end_offsets

RESULTS = ROOT / "bench" / "results" / "e2e-sync.json"
STAGES = {
    TimeEntryLogged.topic(): "logged",
    EntryMapped.topic(): "mapped",
    EntrySynced.topic(): "synced",
}


class Pipeline:
    """Reads this workspace's ``TimeEntryLogged``, ``EntryMapped`` and ``EntrySynced`` from
    the offsets at ``start``: per Core entry the first record's timestamp of each stage, how many
    ``synced`` records it got, and every ``EntrySynced`` status."""

    def __init__(self, kafka: str, workspace: str) -> None:
        self.kafka, self.prefix = kafka, f"{workspace}:core:".encode()
        self.first: dict[str, dict[str, int]] = {stage: {} for stage in STAGES.values()}
        self.synced_records: Counter[str] = Counter()
        self.all_synced: Counter[str] = Counter()
        """``synced`` records per entry over the whole run (``synced_records``: a measurement's)."""
        self.statuses: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.foreign = 0
        self.last_record = time.monotonic()
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        offsets: dict[TopicPartition, int] = {}
        for topic in STAGES:
            offsets |= await end_offsets(self.kafka, topic)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=self.kafka, enable_auto_commit=False)
        await self._consumer.start()
        self._consumer.assign(list(offsets))
        for tp, offset in offsets.items():
            self._consumer.seek(tp, offset)

    async def read(self, timeout_ms: int = 200) -> None:
        assert self._consumer is not None
        for tp, batch in (await self._consumer.getmany(timeout_ms=timeout_ms)).items():
            stage = STAGES[tp.topic]
            for r in batch:
                if not (r.key and r.key.startswith(self.prefix)):
                    continue
                self.last_record = time.monotonic()
                entry = r.key[len(self.prefix) :].decode()
                if stage != "synced":
                    self.first[stage].setdefault(entry, r.timestamp)
                    continue
                value = json.loads(r.value)
                if any(f in (value.get("reason") or "") for f in FOREIGN):
                    self.foreign += 1  # another session's resolver read our change
                    continue
                self.statuses[value["status"]] += 1
                if value["status"] == "synced":
                    self.synced_records[entry] += 1
                    self.all_synced[entry] += 1
                    self.first["synced"].setdefault(entry, r.timestamp)
                elif value.get("reason"):
                    self.reasons[value["reason"][:160]] += 1

    async def until(self, entries: set[str], timeout_s: float, idle_s: float) -> None:
        """Until every one of ``entries`` is synced, or ``timeout_s`` passed, or nothing of
        this workspace came for ``idle_s``."""
        deadline = time.monotonic() + timeout_s
        self.last_record = time.monotonic()
        while not entries <= self.first["synced"].keys():
            if time.monotonic() > deadline or time.monotonic() - self.last_record > idle_s:
                return
            await self.read()

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 1)

    return {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": round(ordered[-1], 1)}


def latencies(sent: Sent, names: dict[int, str], pipe: Pipeline) -> dict[str, dict[str, float]]:
    """Per stage, from the webhook sent (and from its ``202``) to each record's timestamp."""
    first = pipe.first
    out: dict[str, list[float]] = {
        "sent_to_synced": [],
        "accepted_to_synced": [],
        "sent_to_logged": [],
        "logged_to_mapped": [],
        "mapped_to_synced": [],
    }
    for n, name in names.items():
        if n not in sent.accepted_ms:
            continue
        logged, mapped = first["logged"].get(name), first["mapped"].get(name)
        synced = first["synced"].get(name)
        if synced is not None:
            out["sent_to_synced"].append(synced - sent.sent_ms[n])
            out["accepted_to_synced"].append(synced - sent.accepted_ms[n])
        if logged is not None:
            out["sent_to_logged"].append(logged - sent.sent_ms[n])
        if logged is not None and mapped is not None:
            out["logged_to_mapped"].append(mapped - logged)
        if mapped is not None and synced is not None:
            out["mapped_to_synced"].append(synced - mapped)
    return {stage: percentiles(values) for stage, values in out.items()}


async def measure(
    s: Served, args: argparse.Namespace, pipe: Pipeline, numbers: range, rate: float | None
) -> dict[str, Any]:
    """Send the webhooks of ``numbers`` (drained, or paced at ``rate``), wait for their
    ``EntrySynced``, and read every figure of the measurement."""
    names = {n: entry_id(s.run_id, n) for n in numbers}
    host = f"127.0.0.1:{s.ingest_port}"
    batch = list(zip(numbers, requests(s.world, s.secret, s.run_id, numbers, host), strict=True))
    sender = Sender("127.0.0.1", s.ingest_port, args.connections)
    pipe.synced_records.clear()
    pipe.statuses.clear()
    pipe.reasons.clear()
    pipe.foreign = 0
    load, cpu, eh_before = os.getloadavg(), s.cpu(), Counter(s.everhour_requests())
    xacts = Counter(await transactions(args.pg, s.run_id))
    sending = asyncio.Event()
    sending.set()

    async def follow() -> None:  # read while sending: the records are not left to pile up
        while sending.is_set():
            await pipe.read(50)

    reading = asyncio.create_task(follow())
    spies = profilers(s.pids, args.profile) if args.profile and rate is None else []
    try:
        if rate is None:
            sent = await sender.drain(batch)
        else:
            sent = await sender.paced(batch, rate)
    finally:
        sender.close()
        sending.clear()
        await reading
    accepted = {names[n] for n in sent.accepted_ms}
    await pipe.until(accepted, args.timeout, args.idle)
    spent = s.cpu()
    for spy in spies:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
    everhour = Counter(s.everhour_requests())
    everhour.subtract(eh_before)
    await asyncio.sleep(1.0)  # PostgreSQL flushes a backend's statistics within a second
    xacts = Counter(await transactions(args.pg, s.run_id)) - xacts
    synced = accepted & pipe.first["synced"].keys()
    first_sent = min(sent.sent_ms.values())
    last_synced = max((pipe.first["synced"][e] for e in synced), default=first_sent)
    elapsed_s = max(last_synced - first_sent, 1.0) / 1000
    done = max(len(synced), 1)
    duplicated = sorted(e for e in synced if pipe.synced_records[e] > 1)
    missing = sorted(accepted - synced)
    result: dict[str, Any] = {
        "mode": f"paced at {rate:g}/s" if rate else "drain",
        "entries": len(numbers),
        "accepted": len(sent.accepted_ms),
        "refused": len(sent.refused),
        "refusals": Counter(f"{st} {b[:80]}" for st, b in sent.refused.values()).most_common(3),
        "resent_after_503_or_error": sent.retries,
        "synced": len(synced),
        "missing": len(missing),
        "missing_first": missing[:5],
        "duplicated": len(duplicated),
        "duplicated_first": duplicated[:5],
        "statuses": dict(pipe.statuses),
        "reasons": dict(pipe.reasons.most_common(3)),
        "other_resolvers_errors": pipe.foreign,
        "send_seconds": round(sent.seconds, 2),
        "accepted_per_second": round(len(sent.accepted_ms) / max(sent.seconds, 1e-3), 1),
        "seconds_first_sent_to_last_synced": round(elapsed_s, 2),
        "synced_per_second": round(len(synced) / elapsed_s, 1),
        "latency_ms": latencies(sent, names, pipe),
        "cpu_ms_per_entry": {k: round(1000 * (spent[k] - cpu[k]) / done, 3) for k in cpu},
        "everhour_requests_per_entry": round(sum(everhour.values()) / done, 2),
        "everhour_requests": {k: v for k, v in everhour.items() if v},
        "db_transactions_per_entry": {k: round(v / done, 2) for k, v in sorted(xacts.items())},
        "connections": sent.connections,
        "load_average_before": [round(x, 2) for x in load],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    if rate is not None:
        result["offered_per_second"] = rate
        result["offered_seconds"] = round(len(numbers) / rate, 1)
        result["sent_late_ms"] = percentiles(sent.late_ms)
    return result


def show(name: str, r: dict[str, Any]) -> None:
    lat = r["latency_ms"]["sent_to_synced"]
    cpu = ", ".join(f"{k} {v:.2f}" for k, v in r["cpu_ms_per_entry"].items())
    print(
        f"{name}: {r['synced']}/{r['accepted']} synced ({r['missing']} missing,"
        f" {r['duplicated']} duplicated, {r['refused']} refused) at {r['synced_per_second']}/s;"
        f" accepted {r['accepted_per_second']}/s; sent->synced p50 {lat.get('p50')} p99"
        f" {lat.get('p99')} max {lat.get('max')} ms; load {r['load_average_before'][0]:.2f};"
        f" CPU ms/entry: {cpu}; Everhour requests/entry {r['everhour_requests_per_entry']}",
        flush=True,
    )


def tracker_check(s: Served, numbers: list[int]) -> dict[str, Any]:
    """Everhour's records against the entries sent: each entry's own record (its ticket's
    task, its day, Ann) holding its duration, once; none other."""
    answer = httpx.get(
        f"{s.everhour_url}/team/time",
        params={"from": "2000-01-01", "to": "2100-01-01", "limit": 50_000},
        headers={"X-Api-Key": s.everhour_world["key"]},
        timeout=600,  # the sandbox lists 15,000+ records slowly, on a loaded machine slower
    )
    answer.raise_for_status()
    held = Counter((r["task"]["id"], r["date"], r["time"]) for r in answer.json())
    tasks, tickets = s.everhour_world["tasks"], len(s.world.tickets)
    expected = Counter(
        (tasks[n % tickets], (DAY - dt.timedelta(days=n // tickets)).isoformat(), 600 + n)
        for n in numbers
    )
    return {
        "entries": len(numbers),
        "records": sum(held.values()),
        "as_expected": sum((held & expected).values()),
        "missing_or_different": sum((expected - held).values()),
        "unexpected": sum((held - expected).values()),
    }


async def run_all(s: Served, args: argparse.Namespace) -> dict[str, Any]:
    pipe = Pipeline(args.kafka, s.world.workspace)
    await pipe.start()
    out: dict[str, Any] = {}
    first = 0
    try:
        tickets = len(s.world.tickets)
        began = time.monotonic()
        warm = await measure(s, args, pipe, range(-tickets, 0), None)
        warm["seconds"] = round(time.monotonic() - began, 1)
        out["warm_up"] = warm
        show("warm-up", warm)
        if warm["missing"] or warm["refused"]:
            raise RuntimeError(f"warm-up entries not synced: {json.dumps(warm)[:2000]}")
        if args.entries:
            out["drain"] = await measure(s, args, pipe, range(args.entries), None)
            show("drain", out["drain"])
            first = args.entries
        out["paced"] = []
        for spec in args.paced:
            rate, seconds = (float(x) for x in spec.split(":"))
            count = round(rate * seconds)
            paced = await measure(s, args, pipe, range(first, first + count), rate)
            first += count
            out["paced"].append(paced)
            show(f"paced {rate:g}/s for {seconds:g} s", paced)
    finally:
        await pipe.stop()
    out["peak_rss_mib"] = s.peak_rss_mib()
    out["everhour_records"] = tracker_check(s, list(range(-len(s.world.tickets), first)))
    print(f"Everhour's records: {out['everhour_records']}", flush=True)
    return out


def prepare(args: argparse.Namespace, run_id: str) -> tuple[Path, dict[str, Any]]:
    """The topics made, the code to run (HEAD's committed code unless ``--code``) and the
    result's heading (run, commit, start, load)."""
    asyncio.run(ensure_topics(KafkaConfig(bootstrap_servers=args.kafka), all_topics()))
    if args.code is not None:
        code, commit = args.code.resolve(), f"code at {args.code}"
    else:
        code, commit = committed_code(run_id)
    return code, {
        "run": run_id,
        "commit": commit,
        "kafka": args.kafka,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cores": os.cpu_count(),
        "tickets": args.tickets,
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
        "service_env": dict(pair.split("=", 1) for pair in args.service_env),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    pg = args.pg
    code, result = prepare(args, run_id)
    env = result["service_env"]
    began = time.monotonic()
    try:
        with served(args.kafka, run_id, tickets=args.tickets, code=code, env=env) as s:
            result["setup_seconds"] = round(time.monotonic() - began, 1)
            print(f"set up in {result['setup_seconds']} s; pids {s.pids}", flush=True)
            result |= asyncio.run(run_all(s, args))
    finally:
        asyncio.run(drop_databases(pg, run_id))
    result["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return result


def add_common(parser: argparse.ArgumentParser) -> None:
    """The knobs every end-to-end bench shares (:mod:`bench.e2e_soak`, :mod:`bench.e2e_twoway`)."""
    parser.add_argument("--tickets", type=int, default=10, help="tickets (tasks) entries use")
    parser.add_argument("--connections", type=int, default=64, help="to ingest, at most")
    parser.add_argument("--timeout", type=float, default=600.0, help="per measurement, at most")
    parser.add_argument("--idle", type=float, default=60.0, help="give up after this long quiet")
    parser.add_argument("--code", type=Path, help="a checkout to run instead of HEAD's code")
    parser.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting for every service (e.g. TB_SYNC_CONCURRENCY=32), repeatable",
    )
    parser.add_argument("--profile", type=Path, help="py-spy each service during the drain")
    parser.add_argument("--kafka", default="127.0.0.1:19092")
    parser.add_argument("--pg-port", type=int, default=15432)


def write(result: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=1000, help="drain: webhooks (0: none)")
    parser.add_argument(
        "--paced",
        action="append",
        default=[],
        metavar="RATE:SECONDS",
        help="paced: webhooks per second offered, for how long (repeatable, e.g. 50:10)",
    )
    add_common(parser)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    args.pg = f"postgresql://timebridge:timebridge@127.0.0.1:{args.pg_port}"
    for spec in args.paced:
        rate, seconds = (float(x) for x in spec.split(":"))
        if rate <= 0 or not 0 < seconds <= 240:
            parser.error(f"--paced {spec}: a rate > 0 for at most 240 s (signatures last 5 min)")
    write(run(args), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
