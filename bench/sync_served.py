"""The processes :mod:`bench.sync_drain` measures: the Everhour sandbox served alone (limit
lifted, :mod:`bench.everhour_served`), and the conflict-resolver with the credential owner,
started alone by the dev launcher (``deploy/local/dev.py --only ... --no-sandboxes``: own
ports, databases and consumer groups), each its own process so that each one's CPU is its own.
"""

import datetime as dt
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from pydantic import SecretStr
from timebridge_providers.kit.credentials import HttpCredentialSource

from bench.accept import ROOT, child_pid, cpu_s, stop
from timebridge_common.events import ConnectionChanged, Envelope, IntegrationSettings
from timebridge_common.events.codec import encode

PORT_BASES = range(19500, 19700, 20)
"""Where a run's ports start (resolver base+3, owner base+8, Everhour sandbox base+19): the
first base whose ports are all free, so that two runs at once (``make bench`` and a session's
own) do not take each other's ports."""


def free_base() -> int:
    for base in PORT_BASES:
        try:
            for offset in (3, 8, 19):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", base + offset))
        except OSError:
            continue
        return base
    raise RuntimeError(f"no free ports in {PORT_BASES}")


RESOLVER_MODULE = "timebridge_conflict_resolver"
BENCH_ENV = {
    "TB_RAISED_LIMITS__EVERHOUR": "1000000",
    "TB_DLQ_LIMIT__MAX_INVALID_RATIO": "1",
    "TB_DLQ_LIMIT__MAX_CONSECUTIVE": "1000000000",
}
"""The resolver's Everhour budget raised like the sandbox's limit; no dead-letter cut-off, as
in the integration tests: on the shared broker it also reads other runs' changes, for
connections it knows from the shared topic but whose keys its owner does not hold, which it
dead-letters (they would otherwise stop it)."""
OWNER_MODULE = "timebridge_credentials"


def machine_cpu_s() -> float:
    """CPU seconds every process on the machine used so far (``/proc/stat``, not idle)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass
class Served:
    """The running processes and what the bench needs of them."""

    run_id: str
    launcher: subprocess.Popen[bytes]
    everhour: subprocess.Popen[bytes]
    resolver_pid: int
    owner_pid: int
    world: dict[str, Any]
    service_token: str
    base: int

    @property
    def everhour_url(self) -> str:
        return f"http://127.0.0.1:{self.base + 19}"

    def cpu(self) -> dict[str, float]:
        return {
            "resolver": cpu_s(self.resolver_pid),
            "everhour_sandbox": cpu_s(self.everhour.pid),
            "credential_owner": cpu_s(self.owner_pid),
            "bench": time.process_time(),
            "machine": machine_cpu_s(),
        }

    def everhour_requests(self) -> dict[str, int]:
        answer = httpx.get(f"{self.everhour_url}/_bench/requests", timeout=10)
        requests: dict[str, int] = answer.json()
        return requests


def _wait(url: str, proc: subprocess.Popen[bytes], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready after {timeout_s:.0f}s")


def _launch(
    kafka: str, run_id: str, base: int, env: dict[str, str], log: Path
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        proc = subprocess.Popen(  # noqa: S603 - our interpreter, our launcher
            [
                sys.executable,
                str(ROOT / "deploy/local/dev.py"),
                *("--only", "conflict-resolver", "--only", "credentials", "--no-sandboxes"),
                *("--kafka", kafka, "--port-base", str(base)),
                *("--db-prefix", f"bench_{run_id}_", "--group-prefix", f"bench-{run_id}"),
            ],
            env={**os.environ, **env},
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


def committed_owner(run_id: str) -> str:
    """The credential owner's code as committed (``git archive HEAD``), for ``PYTHONPATH``: on
    a shared working tree another session may be halfway through editing it."""
    into = Path(tempfile.gettempdir()) / f"tb-bench-{run_id}-owner"
    into.mkdir(exist_ok=True)
    archive = subprocess.run(  # noqa: S603 - fixed arguments
        ["git", "-C", str(ROOT), "archive", "HEAD", "services/credentials/src"],  # noqa: S607
        check=True,
        capture_output=True,
    )
    subprocess.run(  # noqa: S603 - fixed arguments
        ["tar", "-x", "-C", str(into)],  # noqa: S607
        input=archive.stdout,
        check=True,
    )
    return str(into / "services/credentials/src")


@contextmanager
def served(kafka: str, run_id: str, *, tasks: int, env: dict[str, str]) -> Iterator[Served]:
    """The Everhour sandbox, then the owner and the resolver (its budget for Everhour raised
    like the sandbox's limit: ``TB_RAISED_LIMITS__EVERHOUR``); stopped on exit."""
    key = f"ek-bench-{run_id}"
    base = free_base()
    everhour_url = f"http://127.0.0.1:{base + 19}"
    logs = Path(tempfile.gettempdir())
    with (logs / f"tb-bench-{run_id}-everhour.log").open("wb") as out:
        everhour = subprocess.Popen(  # noqa: S603 - our interpreter, our script
            [
                *(sys.executable, str(ROOT / "bench" / "everhour_served.py")),
                *("--port", str(base + 19), "--api-key", key, "--tasks", str(tasks)),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    launcher: subprocess.Popen[bytes] | None = None
    try:
        _wait(f"{everhour_url}/_bench/world", everhour, "the Everhour sandbox")
        world = httpx.get(f"{everhour_url}/_bench/world", timeout=10).json() | {"key": key}
        path = [p for p in (os.environ.get("PYTHONPATH"), committed_owner(run_id)) if p]
        launcher = _launch(
            kafka,
            run_id,
            base,
            {**BENCH_ENV, "PYTHONPATH": ":".join(path), **env},
            logs / f"tb-bench-{run_id}-resolver.log",
        )
        creds = (ROOT / ".local" / "dev-secrets.env").read_text().splitlines()
        token = dict(line.split("=", 1) for line in creds if "=" in line)["TB_SERVICE_TOKEN"]
        yield Served(
            run_id,
            launcher,
            everhour,
            child_pid(launcher.pid, RESOLVER_MODULE),
            child_pid(launcher.pid, OWNER_MODULE),
            world,
            token,
            base,
        )
    finally:
        if launcher is not None:
            stop(launcher)
        everhour.terminate()
        everhour.wait(timeout=30)


async def connect(s: Served, kafka: str, workspace: str, integration: str) -> None:
    """What ingest does on connect: the key to the owner, the connection on Kafka (v2, no
    secret), which the resolver's copies read."""
    http = httpx.AsyncClient()
    owner = HttpCredentialSource(
        f"http://127.0.0.1:{s.base + 8}", SecretStr(s.service_token), http=http
    )
    try:
        await owner.put_key(
            workspace, integration, "everhour", s.world["key"], base_url=s.everhour_url
        )
    finally:
        await http.aclose()
    event = ConnectionChanged(
        workspace_id=workspace,
        connection_id=integration,
        provider="everhour",
        status="connected",
        base_url=s.everhour_url,
        revision=1,
        changed_at=dt.datetime.now(dt.UTC),
        settings=IntegrationSettings(conflict_policy="manual_review", direction="two_way"),
    )
    encoded = encode(event, Envelope.for_event(event, producer="ingest"))
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all")
    await producer.start()
    try:
        headers = [(k, v.encode()) for k, v in encoded.headers.items()]
        await producer.send_and_wait(encoded.topic, encoded.value, key=encoded.key, headers=headers)
    finally:
        await producer.stop()


async def drop_databases(pg: str, run_id: str) -> None:
    admin = await asyncpg.connect(f"{pg}/postgres")
    try:
        for name in ("tb_conflict_resolver", "tb_credentials"):
            await admin.execute(f'DROP DATABASE IF EXISTS "bench_{run_id}_{name}" WITH (FORCE)')
    finally:
        await admin.close()
