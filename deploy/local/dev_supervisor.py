"""Keeps ``make dev``'s processes running: a crashed one is restarted, Ctrl-C stops them all.

What docker-compose's ``restart: unless-stopped`` and Kubernetes' restart policy do for the
deployed platform, for the processes ``dev.py`` starts: a process that exits without being asked
to is started again after a back-off (1 s, doubling up to 30 s; back to 1 s once a run lasted
a minute), and each crash and restart is said on stderr. Stopping sends SIGTERM to every process,
SIGKILL after a grace period, and waits for each, including one whose restart was under way, so
nothing outlives the launcher.
"""

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

Process = asyncio.subprocess.Process


@dataclass
class Backoff:
    """Delays before restarts: doubling from ``initial_s`` up to ``cap_s``, reset by a good run."""

    initial_s: float = 1.0
    cap_s: float = 30.0
    reset_after_s: float = 60.0
    """A run at least this long was healthy: the next crash starts again from ``initial_s``."""
    _next_s: float = 0.0

    def delay(self, ran_for_s: float) -> float:
        if ran_for_s >= self.reset_after_s or self._next_s == 0.0:
            self._next_s = self.initial_s
        current = self._next_s
        self._next_s = min(current * 2, self.cap_s)
        return current


@dataclass
class Program:
    """One process to keep running: how to start it, and how to know it serves again."""

    name: str
    start: Callable[[], Awaitable[Process]]
    ready: Callable[[Process], Awaitable[None]]
    """Returns once the process serves; raises if it exits first or takes too long."""
    after_restart: Callable[[], Awaitable[None]] | None = None
    """What a fresh process needs again (e.g. a sandbox's webhook subscription)."""
    backoff: Backoff = field(default_factory=Backoff)


def describe(returncode: int) -> str:
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-returncode).name}"
        return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


def say(message: str) -> None:
    print(f"dev: {message}", file=sys.stderr, flush=True)


class Supervisor:
    """Runs ``Program``s; ``procs`` always holds each one's current process."""

    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self.procs: dict[str, Process] = {}
        self.restarts: dict[str, int] = {}
        self._programs: dict[str, Program] = {}
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self._stopping = asyncio.Event()

    async def start(self, program: Program) -> Process:
        """Start ``program`` (not yet watched: a failure while starting up is the caller's)."""
        self._programs[program.name] = program
        proc = await program.start()
        self.procs[program.name] = proc
        if self._stopping.is_set():  # stopped while this one was being started
            proc.send_signal(signal.SIGTERM)
        return proc

    def watch(self) -> None:
        """From now on, restart every started program that exits."""
        self._watchers = {
            name: asyncio.create_task(self._keep_running(program))
            for name, program in self._programs.items()
        }

    async def _keep_running(self, program: Program) -> None:
        name = program.name
        while True:
            started = time.monotonic()
            returncode = await self.procs[name].wait()
            if self._stopping.is_set():
                return
            delay = program.backoff.delay(time.monotonic() - started)
            self.restarts[name] = self.restarts.get(name, 0) + 1
            say(
                f"{name} {describe(returncode)}; restarting it in {delay:g}s"
                f" (restart {self.restarts[name]})"
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            if self._stopping.is_set():
                return
            try:
                proc = await self.start(program)
                await program.ready(proc)
                if program.after_restart is not None:
                    await program.after_restart()
            except Exception as exc:  # it crashed again or does not answer: back off
                if self._stopping.is_set():
                    return
                say(f"{name} did not come back: {exc}")
                if self.procs[name].returncode is None:
                    self.procs[name].kill()  # hung while starting: a fresh try after back-off
                continue
            say(f"{name} is running again (pid {proc.pid})")

    async def stop(self) -> None:
        """SIGTERM to all, SIGKILL to what ignores it for ``grace_s``; returns when all exited."""
        self._stopping.set()
        for proc in self.procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in self.procs.items():
            try:
                await asyncio.wait_for(proc.wait(), self.grace_s)
            except TimeoutError:
                say(f"{name} ignored SIGTERM for {self.grace_s:.0f}s, killing it")
                proc.kill()
                await proc.wait()
        # A restart that was starting a process when we stopped has sent it SIGTERM itself (see
        # ``start``): wait for those too, so that no process outlives the launcher.
        for name, watcher in self._watchers.items():
            try:
                await asyncio.wait_for(asyncio.shield(watcher), self.grace_s)
            except TimeoutError:
                say(f"{name} ignored SIGTERM for {self.grace_s:.0f}s, killing it")
                self.procs[name].kill()
                await watcher
