"""A private Kafka broker and PostgreSQL cluster for the fault suite, which it may kill.

The rest of the suite shares the broker and cluster of ``make infra-up``; killing those would
break every other test running at the same time. This starts a second, independent set with
``deploy/local/infra.sh`` (the same broker jars, configuration and PostgreSQL binaries, so what
is tested is what ``make dev`` runs) in a temporary state dir on free ports, and kills it with
SIGKILL (the postmaster together with its backends), as a crashed machine or an OOM kill would.
"""

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

INFRA_SH = Path(__file__).resolve().parents[3] / "deploy" / "local" / "infra.sh"
USER = "timebridge"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _alive(pid: int) -> bool:
    """A live process (a zombie waiting to be reaped counts as dead)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    state = next((line.split()[1] for line in status.splitlines() if line.startswith("State:")), "")
    return state not in ("Z", "X", "")


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The fields after the command name (which may hold spaces) start with state, ppid.
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _kill_9(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


async def _wait_dead(pids: list[int], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while any(_alive(p) for p in pids):
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes {pids} survived SIGKILL")
        await asyncio.sleep(0.05)


@dataclass
class PrivateInfra:
    """One Kafka broker and one PostgreSQL cluster owned by this test, on their own ports."""

    state_dir: Path
    kafka_port: int = field(default_factory=free_port)
    controller_port: int = field(default_factory=free_port)
    pg_port: int = field(default_factory=free_port)

    @property
    def kafka(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    def dsn(self, database: str) -> str:
        return f"postgresql://{USER}:{USER}@127.0.0.1:{self.pg_port}/{database}"

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "TIMEBRIDGE_STATE_DIR": str(self.state_dir),
            "TIMEBRIDGE_KAFKA_PORT": str(self.kafka_port),
            "TIMEBRIDGE_KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "TIMEBRIDGE_PG_PORT": str(self.pg_port),
            "TIMEBRIDGE_KAFKA_READY_TIMEOUT": "60",
            "TIMEBRIDGE_KAFKA_STOP_TIMEOUT": "10",
        }

    async def infra_sh(self, command: str) -> None:
        process = await asyncio.create_subprocess_exec(
            "bash",
            str(INFRA_SH),
            command,
            env=self._env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"infra.sh {command} failed:\n{output.decode(errors='replace')}")

    async def up(self) -> None:
        """Start what is not running (both at first; after a kill, the one that was killed)."""
        await self.infra_sh("up")

    def kafka_pid(self) -> int:
        return int((self.state_dir / "kafka" / "kafka.pid").read_text().strip())

    def postmaster_pid(self) -> int:
        pid_file = self.state_dir / "postgres" / "data" / "postmaster.pid"
        return int(pid_file.read_text().splitlines()[0])

    async def kill_kafka(self) -> None:
        pid = self.kafka_pid()
        _kill_9([pid])
        await _wait_dead([pid])

    async def kill_postgres(self) -> None:
        """SIGKILL the postmaster and every backend at once: no shutdown, no goodbye."""
        postmaster = self.postmaster_pid()
        pids = [postmaster, *_children(postmaster)]
        _kill_9(pids)
        await _wait_dead(pids)

    def log_tail(self, which: str, lines: int = 40) -> str:
        path = self.state_dir / which / f"{which}.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@contextlib.asynccontextmanager
async def private_infra() -> AsyncIterator[PrivateInfra]:
    """Start a private broker and cluster in a temporary dir; stop both and delete it after
    (kept, with the services' logs, when ``TIMEBRIDGE_FAULTS_KEEP`` is set)."""
    state_dir = Path(tempfile.mkdtemp(prefix="timebridge-faults-"))
    infra = PrivateInfra(state_dir)
    try:
        await infra.up()
        yield infra
    finally:
        try:
            await infra.infra_sh("down")
        finally:
            if os.environ.get("TIMEBRIDGE_FAULTS_KEEP"):
                print(f"fault suite state (logs) kept in {state_dir}")
            else:
                shutil.rmtree(state_dir, ignore_errors=True)
