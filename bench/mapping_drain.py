"""Mapping alone: how fast it stores a backlog of ``TimeEntryLogged`` events (issue 12).

Run from the repository root: ``python -m bench.mapping_drain`` (``--help`` for the knobs).

The events are the ones ingest publishes for accepted Core webhooks (same model, key, headers
and deterministic event id), produced straight to the topic so that measuring mapping does not
need the accept phase of :mod:`bench.accept` first (about two minutes of CPU on a shared
machine). Mapping's consumer group is positioned at the end of every topic, the backlog is
produced, then mapping is started by the dev launcher and :func:`bench.accept.drain_mapping`
counts the rows it stores and the CPU it spends per entry. ``--versions`` > 1 sends each entry
that many times (successive versions, like edits), to load the per-key path too.
"""

import argparse
import asyncio
import datetime as dt
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

from bench.accept import ROOT, WORKSPACE, drain_mapping, drop_databases
from timebridge_common.events import Envelope
from timebridge_common.events.codec import encode
from timebridge_common.kafka.topics import all_topics
from timebridge_common.testing import position_group_at_end, sample_time_entry_logged


async def produce_backlog(kafka: str, run_id: str, entries: int, versions: int) -> int:
    """Publish ``entries`` x ``versions`` events as ingest would; the number sent."""
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka, acks="all", enable_idempotence=True, linger_ms=20
    )
    await producer.start()
    sent = 0
    try:
        base = dt.datetime.now(dt.UTC).replace(microsecond=0)
        for version in range(versions):
            pending = []
            for n in range(entries):
                event = sample_time_entry_logged(
                    workspace_id=WORKSPACE,
                    external_id=f"bench-{run_id}-{n}",
                    updated_at=base + dt.timedelta(seconds=version),
                )
                envelope = Envelope.for_event(
                    event, producer="ingest", event_id=event.observation_id()
                )
                encoded = encode(event, envelope)
                pending.append(
                    await producer.send(
                        encoded.topic,
                        encoded.value,
                        key=encoded.key,
                        headers=[(k, v.encode()) for k, v in encoded.headers.items()],
                    )
                )
                if len(pending) >= 2000:
                    await asyncio.gather(*pending)
                    sent += len(pending)
                    pending = []
            await asyncio.gather(*pending)
            sent += len(pending)
    finally:
        await producer.stop()
    return sent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=40000, help="distinct entries")
    parser.add_argument("--versions", type=int, default=1, help="versions of each entry")
    parser.add_argument("--drain-seconds", type=int, default=20)
    parser.add_argument("--kafka", default="127.0.0.1:19092")
    parser.add_argument("--pg-port", type=int, default=15432)
    parser.add_argument("--out", type=Path, help="also write the result here as JSON")
    args = parser.parse_args()
    run_id = uuid.uuid4().hex[:8]
    pg = f"postgresql://timebridge:timebridge@127.0.0.1:{args.pg_port}"
    asyncio.run(position_group_at_end(args.kafka, f"bench-{run_id}-mapping", all_topics()))
    sent = asyncio.run(produce_backlog(args.kafka, run_id, args.entries, args.versions))
    print(f"backlog: {sent} events ({args.entries} entries x {args.versions})", flush=True)
    try:
        result: dict[str, Any] = drain_mapping(args, run_id, pg, args.entries)
    finally:
        asyncio.run(drop_databases(pg, run_id))
    result["events"] = sent
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        shown = args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out
        print(f"written: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
