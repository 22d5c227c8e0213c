"""The fault suite: a stream of signed Core webhooks while everything underneath is killed.

On a private broker and PostgreSQL cluster (``faults/infra.py``; the shared ones are never
touched), ingest, mapping and the conflict-resolver run as real processes, with the Core and
Everhour sandboxes on loopback, set up as an admin would (``faults/platform.py``). While a
sender posts every version of every entry (retrying whatever is not answered 202, as Core
does), the suite

1. kills the Kafka broker with SIGKILL and restarts it;
2. kills PostgreSQL (postmaster and backends, SIGKILL) for longer than a consumer's retry budget
   (5 attempts, ~8 s of backoff) while mapping has a backlog to handle, then restarts it;
3. kills each service with SIGKILL and restarts it, a few seconds apart.

Then every version answered 202 must be in Kafka (a 202 means durably published), in the order
it was accepted per entry; mapping must hold every entry exactly once at its last accepted
version, having handled each accepted event once; Everhour must hold each entry's last version
exactly once (one record per day, created once, its time the sum of the day's entries) and Core
no echo of those writes; no dead-letter topic may hold a record; no service may have exited on
its own. All findings are collected and reported together with the counts (faults injected,
webhooks sent/accepted/retried, entries lost/duplicated/out of order), printed with ``-s``.
Set ``TIMEBRIDGE_FAULTS_KEEP=1`` to keep the private state dir and the services' logs.
"""

import asyncio
import datetime as dt
import json
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from timebridge_common.config import KafkaConfig
from timebridge_common.crypto import SecretBox
from timebridge_common.events import TimeEntryLogged
from timebridge_common.kafka.topics import ensure_topics

from .faults.infra import PrivateInfra, free_port, private_infra
from .faults.kafka import dead_letter_topics, read_all
from .faults.load import CoreSender, LoadStats, Version, Who
from .faults.platform import Sandboxes, connect, sandboxes
from .faults.services import ServiceProcess

ENTRIES, VERSIONS = 160, 3
SPREAD_S = 55.0
"""The stream lasts about as long as the fault schedule, so every fault hits it mid-flight."""
SEND_DEADLINE_S = 150.0
CONVERGE_S = 180.0
"""An upper bound only (the wait ends at convergence): at load 15 it took over 90 s."""
PG_OUTAGE_S = 15.0
"""Longer than a consumer's retry budget (attempts 0.5 + 1 + 2 + 4 s apart)."""
WORKSPACE = "ws-faults"
SECRET = "fault-suite-secret-" + "s" * 24
ADMIN = "fault-suite-admin-token"


@dataclass
class Faults:
    """What was injected, and what the run found (findings fail the test; counts are shown)."""

    injected: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    counts: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def note(self, what: str, since: float) -> None:
        at = since - self.started
        self.injected.append(f"{what} at t={at:.1f}s, back after {time.monotonic() - since:.1f}s")


async def inject_faults(
    infra: PrivateInfra,
    services: list[ServiceProcess],
    consumer: ServiceProcess,
    stats: LoadStats,
    faults: Faults,
) -> None:
    """The schedule, while the sender streams: broker, database, then each service.

    Ingest cannot accept webhooks without its database, so during the outage alone no new work
    would reach ``consumer``: it is frozen (SIGSTOP) while a backlog builds up in Kafka, and
    resumed once PostgreSQL is dead, so it handles records through the whole outage.
    """
    await asyncio.sleep(6)
    since = time.monotonic()
    await infra.kill_kafka()
    await asyncio.sleep(2)
    await infra.up()
    faults.note("kafka SIGKILL + restart", since)
    await asyncio.sleep(4)
    consumer.freeze()
    accepted = stats.accepted
    await asyncio.sleep(4)
    backlog = stats.accepted - accepted
    since = time.monotonic()
    await infra.kill_postgres()
    consumer.thaw()
    await asyncio.sleep(PG_OUTAGE_S)
    await infra.up()
    faults.note(
        f"postgres SIGKILL, down {PG_OUTAGE_S:.0f}s + restart, {consumer.module} resumed"
        f" with {backlog} new events to handle",
        since,
    )
    if backlog == 0:
        faults.findings.append("no backlog built up before the database outage: nothing tested")

    async def kill_and_restart(service: ServiceProcess) -> None:
        since = time.monotonic()
        await service.kill()
        await service.start()
        faults.note(f"{service.module} SIGKILL + restart", since)

    # A restart takes ~10 s more than a start: the group waits for the killed member's session
    # to time out. So the next kill does not wait for it: all three hit the stream mid-flight.
    restarts = []
    for service in reversed(services):
        await asyncio.sleep(4)
        restarts.append(asyncio.create_task(kill_and_restart(service)))
    await asyncio.gather(*restarts)


async def query(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """One query on a fresh connection (a pool would hold connections the kills broke)."""
    conn = await asyncpg.connect(dsn)
    try:
        rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
        return rows
    finally:
        await conn.close()


async def wait_until(check: Callable[[], Awaitable[bool]], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if await check():
                return True
        except (OSError, asyncpg.PostgresError):
            pass
        await asyncio.sleep(1)
    return False


def per_key_order_violations(records: list[Any]) -> list[str]:
    """Entries whose versions appear in the topic out of order (a repeat of one is fine)."""
    seen: dict[str, list[int]] = defaultdict(list)
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        payload = json.loads(record.value)
        if payload.get("workspace_id") == WORKSPACE and payload.get("source") == "core":
            seen[payload["external_id"]].append(payload["entry"]["duration_seconds"])
    return [entry for entry, order in seen.items() if order != sorted(order)]


async def test_faults_lose_duplicate_and_reorder_nothing() -> None:
    async with private_infra() as infra, sandboxes(WORKSPACE) as boxes:
        kafka = KafkaConfig(bootstrap_servers=infra.kafka, group_prefix="faults")
        await ensure_topics(kafka)
        services = platform(infra, boxes)
        ingest, mapping, resolver, owner = services
        await owner.start()  # ingest hands the Everhour key to it when the integration connects
        await asyncio.gather(*(s.start() for s in (ingest, mapping, resolver)))
        supervisors = [asyncio.create_task(s.supervise()) for s in services]
        try:
            await connect(boxes, ingest.url, mapping.url, ADMIN, SECRET)
            who = Who(boxes.ann, boxes.project, boxes.ticket)
            sender = CoreSender(
                ingest.url, WORKSPACE, SECRET, ENTRIES, VERSIONS, SPREAD_S, SEND_DEADLINE_S, who
            )
            faults = Faults()
            stats, _ = await asyncio.gather(
                sender.run(),
                inject_faults(infra, [ingest, mapping, resolver], mapping, sender.stats, faults),
            )
            findings = faults.findings + await check(infra, services, stats, faults.counts)
            findings += await check_synced(infra, boxes, stats, faults.counts)
            for service in services:
                for exit_ in service.unexpected_exits:
                    findings.append(f"{service.module} exited on its own: {exit_}")
                if not await service.ready():
                    findings.append(f"{service.module} not ready at the end:\n{service.log_tail()}")
        finally:
            for task in supervisors:
                task.cancel()
            await asyncio.gather(*(s.stop() for s in services))
        report = summary(faults, stats, findings)
        print(report)  # the counts the issue asks for (shown with -s, or on failure)
        assert not findings, report


def platform(infra: PrivateInfra, boxes: Sandboxes) -> list[ServiceProcess]:
    """Ingest, mapping, the conflict-resolver and the credential owner on the private cluster.

    The owner holds the Everhour key the others ask for; the schedule does not kill it (the
    suite is about the pipeline's guarantees), but it lives through the broker and database kills.
    """
    logs = infra.state_dir / "services"
    logs.mkdir()
    owner_port = free_port()
    common = {
        "TB_KAFKA__BOOTSTRAP_SERVERS": infra.kafka,
        "TB_KAFKA__GROUP_PREFIX": "faults",
        "TB_TELEMETRY__LOG_LEVEL": "INFO",
        "TB_ENCRYPTION_KEY": SecretBox.generate_key(),
        "TB_SERVICE_TOKEN": SecretBox.generate_key(),
        "TB_CREDENTIALS_URL": f"http://127.0.0.1:{owner_port}",
        # The sandboxes do not limit; the whole of each provider's limit keeps the run short.
        "TB_BUDGET__EVERHOUR": "20",
        "TB_BUDGET__CORE": "10",
    }

    def service(module: str, database: str, **settings: str) -> ServiceProcess:
        env = {**common, "TB_DATABASE__URL": infra.dsn(database), **settings}
        return ServiceProcess(module, env, logs / f"{database}.log")

    ingest = service(
        "timebridge_ingest",
        "tb_ingest",
        TB_ADMIN_TOKEN=ADMIN,
        TB_EVERHOUR_API_URL=boxes.everhour_url,
        TB_POLL_TICK_S="3600",
    )
    ingest.env["TB_PUBLIC_BASE_URL"] = ingest.url  # where Everhour delivers its webhooks
    mapping = service("timebridge_mapping", "tb_mapping")
    resolver = service(
        "timebridge_conflict_resolver",
        "tb_conflict_resolver",
        TB_RAISED_LIMITS__EVERHOUR="100000",
        # An attempt killed mid-write holds its record's lease; the next one waits this long.
        TB_WRITE_LEASE_S="5",
    )
    owner = service("timebridge_credentials", "tb_credentials")
    owner.port = owner_port
    return [ingest, mapping, resolver, owner]


async def check(
    infra: PrivateInfra, services: list[ServiceProcess], stats: LoadStats, counts: list[str]
) -> list[str]:
    """Kafka and mapping: every finding, so one run reports all defects (and the counts)."""
    findings: list[str] = []
    if stats.gave_up:
        findings.append(f"{len(stats.gave_up)} deliveries never answered 202: {stats.gave_up[:5]}")
    errors = {s: n for s, n in stats.statuses.items() if s.isdigit() and s not in ("202", "503")}
    if errors:
        findings.append(f"ingest answered {errors}: an outage must be 503 (retry later)")
    if stats.without_retry_after:
        findings.append(f"{stats.without_retry_after} answers 503 without Retry-After")
    expected = stats.accepted_versions
    accepted_ids = set(stats.event_ids.values())
    mapping_dsn = infra.dsn("tb_mapping")

    async def stored() -> dict[str, tuple[int, str]]:
        rows = await query(
            mapping_dsn,
            "SELECT external_id, (fields->>'duration_seconds')::int AS duration, last_event_id"
            " FROM source_entries WHERE workspace_id = $1 AND source = 'core'",
            WORKSPACE,
        )
        return {r["external_id"]: (r["duration"], str(r["last_event_id"])) for r in rows}

    def wanted() -> dict[str, tuple[int, str]]:
        return {
            entry: (v.duration_seconds, stats.event_ids[v.delivery])
            for entry, v in expected.items()
        }

    async def converged() -> bool:
        return await stored() == wanted()

    await wait_until(converged, CONVERGE_S)
    held = await stored()
    lost = sorted(set(expected) - set(held))
    wrong = sorted(e for e in set(expected) & set(held) if held[e] != wanted()[e])
    if lost:
        findings.append(f"{len(lost)} accepted entries not stored by mapping: {lost[:5]}")
    if wrong:
        findings.append(
            f"{len(wrong)} entries not at their last accepted version: "
            + ", ".join(f"{e} holds {held[e]} wants {wanted()[e]}" for e in wrong[:3])
        )

    records = [
        r
        for r in await read_all(infra.kafka, [TimeEntryLogged.topic()])
        if json.loads(r.value or b"{}").get("source") == "core"
    ]
    published = Counter(r.headers.get("ce_id") for r in records)
    missing = accepted_ids - set(published)
    if missing:
        findings.append(f"{len(missing)} events answered 202 but not in Kafka")
    stats.copies_in_kafka = sum(published[i] for i in accepted_ids)
    disorder = per_key_order_violations(records)
    if disorder:
        findings.append(f"{len(disorder)} entries out of order in the topic: {disorder[:5]}")

    claims = {
        str(r["event_id"])
        for r in await query(
            mapping_dsn, "SELECT event_id FROM inbox WHERE consumer = 'mapping.time-entry-logged'"
        )
    }
    unclaimed = accepted_ids - claims
    if unclaimed:
        findings.append(f"{len(unclaimed)} accepted events never handled by mapping")
    extra = (claims & set(published)) - accepted_ids
    if extra:
        findings.append(f"{len(extra)} Core events handled by mapping that no 202 announced")
    stale = [
        line
        for line in services[1].log_lines()
        if line.get("event") == "time entry handled"
        and line.get("outcome") == "stale"
        and line.get("source") == "core"
    ]
    if stale:
        findings.append(f"mapping saw {len(stale)} versions older than one it held (reordered)")

    counts.append(
        f"mapping: {len(held)} of {len(expected)} entries stored, {len(lost)} lost,"
        f" {len(wrong)} not at their last version, {len(stale)} reordered;"
        f" {stats.copies_in_kafka - len(accepted_ids)} events published twice (retried"
        f" deliveries), each handled once ({len(claims & accepted_ids)} claims)"
    )
    letters = await read_all(infra.kafka, await dead_letter_topics(infra.kafka))
    counts.append(f"dead letters: {len(letters)}")
    for letter in letters:
        findings.append(
            f"dead letter in {letter.topic} (event {letter.headers.get('ce_id')}): "
            + letter.headers.get("kafka_dlt-exception-message", "?")[:300]
        )
    return findings


async def check_synced(
    infra: PrivateInfra, boxes: Sandboxes, stats: LoadStats, counts: list[str]
) -> list[str]:
    """Everhour: one record per day, created once, holding exactly the last accepted version of
    each of that day's entries (its time their sum, its comment their notes, each once)."""
    expected: dict[dt.date, list[Version]] = defaultdict(list)
    for version in stats.accepted_versions.values():
        expected[version.date].append(version)

    def held() -> dict[dt.date, tuple[int, list[str]]]:
        return {
            r.date: (r.time, sorted((r.comment or "").split("; ")))
            for r in boxes.everhour.records.values()
            if r.task == boxes.task
        }

    def wanted() -> dict[dt.date, tuple[int, list[str]]]:
        return {
            day: (sum(v.duration_seconds for v in vs), sorted(v.notes for v in vs))
            for day, vs in expected.items()
        }

    async def synced() -> bool:
        return held() == wanted()

    findings: list[str] = []
    await wait_until(synced, CONVERGE_S)
    now, want = held(), wanted()
    held_notes = Counter(n for _, notes in now.values() for n in notes)
    wanted_notes = {n for _, notes in want.values() for n in notes}
    counts.append(
        f"Everhour: {len(now)} records holding {len(set(held_notes) & wanted_notes)} of"
        f" {len(wanted_notes)} entries at their last version;"
        f" {len(wanted_notes - set(held_notes))} lost,"
        f" {sum(c - 1 for c in held_notes.values())} duplicated,"
        f" {len(set(held_notes) - wanted_notes)} at an older version"
    )
    for day in sorted(set(now) | set(want)):
        if now.get(day) != want.get(day):
            has, wants = now.get(day, (0, [])), want.get(day, (0, []))
            lost = sorted(set(wants[1]) - set(has[1]))
            dup = sorted(n for n, c in Counter(has[1]).items() if c > 1)
            stray = sorted(set(has[1]) - set(wants[1]))
            findings.append(
                f"Everhour {day}: {has[0]} s, wants {wants[0]} s; missing {lost[:5]},"
                f" duplicated {dup[:5]}, not the last accepted version {stray[:5]}"
            )
    records = list(boxes.everhour.records.values())
    for record in records:
        actions = [h["action"] for h in record.history]
        if actions.count("ADD") != 1:
            findings.append(f"Everhour record {record.id} {record.date} created {actions}")
    if len(records) != len(want):
        findings.append(f"Everhour holds {len(records)} records, wants {len(want)}")
    copies = [e for e in boxes.core.entries.values() if e.workspace_id == WORKSPACE]
    if copies:
        findings.append(f"{len(copies)} echoes of our own Everhour writes copied back into Core")
    links = await query(
        infra.dsn("tb_conflict_resolver"), "SELECT count(*) AS n FROM sync_links WHERE active"
    )
    if links[0]["n"] != len(stats.accepted_versions):
        findings.append(
            f"the resolver links {links[0]['n']} entries, wants {len(stats.accepted_versions)}"
        )
    return findings


def summary(faults: Faults, stats: LoadStats, findings: list[str]) -> str:
    lines = [
        "== fault suite ==",
        f"faults injected ({len(faults.injected)}): " + "; ".join(faults.injected),
        f"webhooks: {len(stats.event_ids)} versions of {len(stats.accepted_versions)} entries"
        f" accepted (202), {stats.attempts} posts, {stats.retried} retried,"
        f" answers {dict(stats.statuses)}",
        *faults.counts,
        f"findings ({len(findings)}):",
        *(f"  - {f}" for f in findings),
    ]
    return "\n".join(lines)
