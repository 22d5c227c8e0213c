"""The processes :mod:`bench.e2e_sync` measures, and the admin's setup through their APIs.

Each piece is its own process, so each one's CPU and memory are its own: the Core sandbox
(:mod:`bench.core_served`, at Core's documented limit) and the Everhour sandbox
(``bench/everhour_served.py``, limit lifted), then ingest, mapping, the conflict-resolver and the
credential owner started by the dev launcher (``deploy/local/dev.py --only ... --no-sandboxes``:
own ports, databases ``bench_<run>_*`` and consumer groups ``bench-<run>-*`` positioned at the
topics' end; the resolver's Everhour budget raised like the sandbox's limit).

The services run the tree's committed code by default (``git archive HEAD`` on ``PYTHONPATH``:
on a shared working tree another session may be halfway through editing a service), or another
checkout's (``code``); a ``PYTHONPATH`` the bench is started with comes first (a package to
try). The setup is the guide's, through the services' HTTP APIs: the workspace's Core
registered at ingest (webhook secret, Core URL and service token), Everhour connected (one way,
Core -> Everhour, real time: no Everhour webhook, no polling; or two way for
:mod:`bench.e2e_twoway`), Core's project mapped to Everhour's, both sides' users read (Ann
matches by email).
"""

import fcntl
import os
import secrets
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

from bench.accept import ROOT, child_pid, cpu_s, proc_status, stop
from bench.core_served import EMAIL
from bench.e2e_webhooks import World
from bench.sync_served import BENCH_ENV, _wait, machine_cpu_s

PORT_BASES = range(19800, 20000, 20)
"""Where a run's ports start: ingest +1, mapping +2, resolver +3, owner +8, Core sandbox +18,
Everhour sandbox +19 (apart from :mod:`bench.sync_served`'s and :mod:`bench.accept`'s)."""
OFFSETS = {"ingest": 1, "mapping": 2, "conflict-resolver": 3, "credentials": 8}
MODULES = {
    "ingest": "timebridge_ingest",
    "mapping": "timebridge_mapping",
    "resolver": "timebridge_conflict_resolver",
    "owner": "timebridge_credentials",
}
DATABASES = ("tb_ingest", "tb_mapping", "tb_conflict_resolver", "tb_credentials")
ANN_KEY_PREFIX = "ek-e2e-"
CODE_DIRS = ("libs", "services", "sandboxes", "deploy", "bench")


_HELD: list[Any] = []
"""The lock files of the bases this process took (released when it exits)."""


def free_base() -> int:
    """The first base whose ports are free and that no other run holds: a lock file per base,
    held until this process exits (two runs started together would otherwise both find the
    same ports free, the services bind them only seconds later)."""
    for base in PORT_BASES:
        lock = (Path(tempfile.gettempdir()) / f"tb-e2e-ports-{base}.lock").open("a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            for offset in (*OFFSETS.values(), 18, 19):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", base + offset))
        except OSError:
            lock.close()
            continue
        _HELD.append(lock)
        return base
    raise RuntimeError(f"no free ports in {PORT_BASES}")


def committed_code(run_id: str) -> tuple[Path, str]:
    """HEAD's code (services, libs, sandboxes, launcher, bench) unpacked once per commit."""
    commit = subprocess.run(  # noqa: S603 - fixed arguments
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"],  # noqa: S607
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    into = Path(tempfile.gettempdir()) / f"tb-e2e-code-{commit[:12]}"
    if not (into / "deploy").exists():
        partial = Path(tempfile.gettempdir()) / f"tb-e2e-code-{commit[:12]}-{run_id}"
        partial.mkdir()
        archive = subprocess.run(  # noqa: S603 - fixed arguments
            ["git", "-C", str(ROOT), "archive", commit, *CODE_DIRS],  # noqa: S607
            check=True,
            capture_output=True,
        )
        subprocess.run(["tar", "-x", "-C", str(partial)], input=archive.stdout, check=True)  # noqa: S603, S607
        partial.rename(into)
    return into, commit


def python_path(code: Path) -> str:
    srcs = [code / "libs/common/src", code / "libs/providers/src", code / "sandboxes/src"]
    srcs += sorted((code / "services").glob("*/src"))
    return ":".join(str(p) for p in srcs)


@dataclass
class Served:
    """The running processes and what the bench needs of them."""

    run_id: str
    base: int
    world: World
    everhour_world: dict[str, Any]
    pids: dict[str, int]
    secret: str
    integration: str = ""
    kafka_pid: int | None = None

    @property
    def ingest_port(self) -> int:
        return self.base + OFFSETS["ingest"]

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.base + OFFSETS[service]}"

    @property
    def everhour_url(self) -> str:
        return f"http://127.0.0.1:{self.base + 19}"

    @property
    def core_url(self) -> str:
        return f"http://127.0.0.1:{self.base + 18}"

    def cpu(self) -> dict[str, float]:
        spent = {name: cpu_s(pid) for name, pid in self.pids.items()}
        spent |= postgres_cpu_s(f"bench_{self.run_id}_tb_")
        if self.kafka_pid is not None:
            spent["kafka_broker"] = cpu_s(self.kafka_pid)
        return spent | {"bench": time.process_time(), "machine": machine_cpu_s()}

    def peak_rss_mib(self) -> dict[str, float]:
        return {name: round(proc_status(pid, "VmHWM"), 1) for name, pid in self.pids.items()}

    def everhour_requests(self) -> dict[str, int]:
        found: dict[str, int] = httpx.get(f"{self.everhour_url}/_bench/requests", timeout=10).json()
        return found


def postgres_cpu_s(prefix: str) -> dict[str, float]:
    """CPU of the PostgreSQL backends serving each of this run's databases so far, by
    service (``postgres_<service>``); a backend that exited meanwhile is not counted (the
    services' pools keep theirs)."""
    spent: dict[str, float] = {}
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split()
            if len(words) < 3 or words[0] != b"postgres:" or not words[2].startswith(b"bench_"):
                continue
            name = words[2].decode()
            if not name.startswith(prefix):
                continue
            key = "postgres_" + name.removeprefix(prefix)
            spent[key] = spent.get(key, 0.0) + cpu_s(int(cmdline.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return spent


def listener_pid(port: int) -> int | None:
    """The process listening on ``port`` (the Kafka broker), if this user may see it."""
    found = subprocess.run(  # noqa: S603 - fixed arguments
        ["ss", "-ltnpH", f"sport = :{port}"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    marker = found.find("pid=")
    if marker < 0:
        return None
    return int(found[marker + 4 :].split(",", 1)[0])


def _spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603


@contextmanager
def served(
    kafka: str,
    run_id: str,
    *,
    tickets: int,
    code: Path,
    env: dict[str, str],
    direction: str = "core_to_tracker",
    everhour_script: Path | None = None,
) -> Iterator[Served]:
    """Both sandboxes, then the four services, Everhour connected in ``direction`` (two way:
    ingest registers Everhour's webhook, each write of ours comes back); stopped on exit.
    ``everhour_script`` serves the Everhour sandbox (``bench/everhour_served.py`` by default)."""
    base = free_base()
    logs = Path(tempfile.gettempdir())
    workspace = f"e2e-{run_id}"
    tokens = {k: f"{k}-{secrets.token_urlsafe(12)}" for k in ("admin", "service")}
    key = f"{ANN_KEY_PREFIX}{run_id}"
    outer = os.environ.get("PYTHONPATH")  # e.g. a package to try: it comes first
    path = python_path(code) if not outer else f"{outer}:{python_path(code)}"
    child_env = {**os.environ, "PYTHONPATH": path}
    procs: list[subprocess.Popen[bytes]] = []
    launcher: subprocess.Popen[bytes] | None = None
    try:
        everhour_script = everhour_script or code / "bench/everhour_served.py"
        procs.append(
            _spawn(
                [
                    *(sys.executable, str(everhour_script), "--port", str(base + 19)),
                    *("--api-key", key, "--tasks", str(tickets)),
                ],
                child_env,
                logs / f"tb-bench-{run_id}-everhour.log",
            )
        )
        procs.append(
            _spawn(
                [
                    *(sys.executable, str(ROOT / "bench/core_served.py")),
                    *("--port", str(base + 18), "--workspace", workspace),
                    *("--tickets", str(tickets), f"--admin-token={tokens['admin']}"),
                    f"--service-token={tokens['service']}",
                ],
                child_env,
                logs / f"tb-bench-{run_id}-core.log",
            )
        )
        _wait(f"http://127.0.0.1:{base + 19}/_bench/world", procs[0], "the Everhour sandbox")
        _wait(f"http://127.0.0.1:{base + 18}/_bench/world", procs[1], "the Core sandbox")
        everhour_world = httpx.get(f"http://127.0.0.1:{base + 19}/_bench/world").json()
        core = httpx.get(f"http://127.0.0.1:{base + 18}/_bench/world").json()
        launcher = _launch(kafka, run_id, base, code, child_env | BENCH_ENV | env)
        pids = {name: child_pid(launcher.pid, module) for name, module in MODULES.items()}
        pids |= {"everhour_sandbox": procs[0].pid, "core_sandbox": procs[1].pid}
        world = World(workspace, core["user"], EMAIL, core["project"], core["tickets"])
        s = Served(run_id, base, world, everhour_world | {"key": key}, pids, "")
        s.secret = secrets.token_urlsafe(32)
        s.kafka_pid = listener_pid(int(kafka.rsplit(":", 1)[1]))
        s.integration = setup(s, tokens, direction)
        yield s
    finally:
        if launcher is not None:
            stop(launcher)
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)


def _launch(
    kafka: str, run_id: str, base: int, code: Path, env: dict[str, str]
) -> subprocess.Popen[bytes]:
    log = Path(tempfile.gettempdir()) / f"tb-bench-{run_id}-services.log"
    only = [a for name in OFFSETS for a in ("--only", name)]
    env = env | {
        "TB_EVERHOUR_API_URL": f"http://127.0.0.1:{base + 19}",
        "TIMEBRIDGE_STATE_DIR": str(ROOT / ".local"),  # this machine's dev secrets, not code's
    }
    proc = _spawn(
        [
            *(sys.executable, str(code / "deploy/local/dev.py"), *only, "--no-sandboxes"),
            *("--kafka", kafka, "--port-base", str(base)),
            *("--db-prefix", f"bench_{run_id}_", "--group-prefix", f"bench-{run_id}"),
        ],
        env,
        log,
    )
    deadline = time.monotonic() + 180
    while b"Ctrl-C stops everything" not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise RuntimeError(f"the services did not start, see {log}")
        time.sleep(0.3)
    return proc


def _check(answer: httpx.Response, *expected: int) -> Any:
    if answer.status_code not in expected:
        raise RuntimeError(f"{answer.request.method} {answer.request.url}: {answer.text}")
    return answer.json() if answer.content else None


def setup(s: Served, tokens: dict[str, str], direction: str = "core_to_tracker") -> str:
    """The admin's setup through the APIs; the Everhour integration's id."""
    creds = (ROOT / ".local" / "dev-secrets.env").read_text().splitlines()
    platform = dict(line.split("=", 1) for line in creds if "=" in line)["TB_ADMIN_TOKEN"]
    ws = s.world.workspace
    with httpx.Client(base_url=s.url("ingest"), timeout=30) as ingest:
        admin = {"authorization": f"Bearer {platform}"}
        secret_path = f"/v1/admin/workspaces/{ws}/webhook-secrets/core"
        _check(ingest.put(secret_path, json={"secret": s.secret}, headers=admin), 204)
        core = {"core_base_url": s.core_url, "core_api_token": tokens["service"]}
        _check(ingest.put(f"/v1/admin/workspaces/{ws}", json=core, headers=admin), 200)
        ann = {"authorization": f"Bearer {tokens['admin']}"}
        settings = {
            "direction": direction,
            "frequency": "realtime",
            "unmapped_user_policy": "queue",
            "conflict_policy": "manual_review",
        }
        body = {"provider": "everhour", "api_key": s.everhour_world["key"], "settings": settings}
        answer = ingest.post(f"/v1/workspaces/{ws}/integrations", json=body, headers=ann)
        connected = _check(answer, 201)
    integration: str = connected["integration_id"]
    prefix = f"/v1/workspaces/{ws}/integrations/{integration}"
    mapped = {"tracker_project_id": s.everhour_world["project"]}
    with httpx.Client(base_url=s.url("mapping"), timeout=60, headers=ann) as mapping:
        deadline = time.monotonic() + 60
        while True:  # once mapping has read its copy of the new connection
            answer = mapping.put(f"{prefix}/project-mappings/{s.world.project}", json=mapped)
            if answer.status_code == 200 or time.monotonic() > deadline:
                _check(answer, 200)
                break
            time.sleep(0.5)
        users = _check(mapping.post(f"{prefix}/users/refresh"), 200)
    matched = [m for m in users["mappings"] if m.get("tracker_user")]
    if not matched:
        raise RuntimeError(f"Ann was not matched by email: {users}")
    return integration


def profilers(pids: dict[str, int], into: Path) -> list[subprocess.Popen[bytes]]:
    """py-spy on each service until stopped (SIGINT: it then writes its raw folded stacks to
    ``into/<service>.txt``); profiling only, py-spy is not a requirement."""
    into.mkdir(parents=True, exist_ok=True)
    spy = str(Path(sys.executable).parent / "py-spy")
    return [
        subprocess.Popen(  # noqa: S603 - the venv's py-spy, our pids
            [
                *(spy, "record", "-p", str(pids[name]), "-r", "100", "-f", "raw"),
                *("-o", str(into / f"{name}.txt"), "--nonblocking"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name in MODULES
    ]


async def transactions(pg: str, run_id: str) -> dict[str, int]:
    """Transactions committed or rolled back so far in each service's database (a statement
    outside a transaction is one): the round trips' lower bound of each."""
    conn = await asyncpg.connect(f"{pg}/postgres")
    try:
        rows = await conn.fetch(
            "SELECT datname, xact_commit + xact_rollback AS n FROM pg_stat_database"
            " WHERE datname LIKE $1",
            f"bench_{run_id}_%",
        )
    finally:
        await conn.close()
    prefix = f"bench_{run_id}_tb_"
    return {r["datname"].removeprefix(prefix): int(r["n"]) for r in rows}


async def drop_databases(pg: str, run_id: str) -> None:
    admin = await asyncpg.connect(f"{pg}/postgres")
    try:
        for name in DATABASES:
            await admin.execute(f'DROP DATABASE IF EXISTS "bench_{run_id}_{name}" WITH (FORCE)')
    finally:
        await admin.close()
