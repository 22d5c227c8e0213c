"""Services run as real processes (``python -m <service>.entrypoints.main``), killable with -9.

Each writes its log (JSON lines) to a file, so a kill loses nothing the test later reads, and a
supervisor notices a process that exits on its own: that is a finding (a service must ride out
a broker or database outage), and it is restarted as a process manager would, so the rest of the
scenario still runs and the report shows every defect, not only the first.
"""

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .infra import free_port


@dataclass
class ServiceProcess:
    """One service: its settings, its current process, and what happened to it."""

    module: str
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None
    starts: int = 0
    kills: int = 0
    unexpected_exits: list[str] = field(default_factory=list)
    _expected_exit: bool = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, ready_timeout_s: float = 60.0) -> None:
        env = {**os.environ, **self.env, "TB_HTTP__PORT": str(self.port)}
        with self.log_path.open("ab") as log:
            log.write(f'{{"event": "== fault suite: start #{self.starts + 1} =="}}\n'.encode())
            log.flush()
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                f"{self.module}.entrypoints.main",
                env=env,
                stdout=log,
                stderr=log,
            )
        self.starts += 1
        self._expected_exit = False
        await self.wait_ready(ready_timeout_s)

    async def ready(self) -> bool:
        try:
            async with httpx.AsyncClient(timeout=3) as http:
                return (await http.get(f"{self.url}/readyz")).status_code == 200
        except httpx.TransportError:
            return False

    async def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not await self.ready():
            if self.process is not None and self.process.returncode is not None:
                raise RuntimeError(f"{self.module} exited during startup:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.module} not ready in {timeout_s} s:\n{self.log_tail()}")
            await asyncio.sleep(0.2)

    async def kill(self) -> None:
        """SIGKILL: no shutdown hook, no offset commit, no pool close."""
        assert self.process is not None
        self._expected_exit = True
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        self.kills += 1

    def freeze(self) -> None:
        """SIGSTOP, as a long GC pause or a frozen VM: the process holds its place, does nothing."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self._expected_exit = True
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                self.process.send_signal(signal.SIGKILL)
                await self.process.wait()

    async def supervise(self) -> None:
        """Restart the process whenever it exits without being asked to (recording why)."""
        while True:
            process = self.process
            if process is None:
                await asyncio.sleep(0.2)
                continue
            code = await process.wait()
            if self._expected_exit or process is not self.process:
                await asyncio.sleep(0.2)
                continue
            self.unexpected_exits.append(f"exit code {code}; last log lines:\n{self.log_tail()}")
            await asyncio.sleep(1)  # a process manager's restart backoff
            with contextlib.suppress(Exception):
                await self.start(ready_timeout_s=120)

    def log_lines(self) -> Iterator[dict[str, Any]]:
        with self.log_path.open(errors="replace") as log:
            for line in log:
                with contextlib.suppress(ValueError):
                    parsed = json.loads(line)
                    if isinstance(parsed, dict):
                        yield parsed

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(line[:400] for line in text[-lines:])
