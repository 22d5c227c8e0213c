"""``make dev``'s launcher without Kafka or PostgreSQL: the sandboxes' command lines with
secrets that start with ``-``, and the supervisor's restarts and stop on real processes.

``tests/integration/test_dev_launcher.py`` runs the whole launcher, with such secrets too.
"""

import argparse
import asyncio
import os
import secrets
import signal
import sys
from pathlib import Path
from typing import Any

import dev
import dev_sandboxes
import pytest
import uvicorn
from dev_supervisor import Backoff, Program, Supervisor

from timebridge_sandboxes import __main__ as sandbox_cli


def dashed(length: int) -> str:
    """A secret as ``secrets.token_urlsafe`` sometimes makes one: starting with ``-``."""
    return "--" + secrets.token_urlsafe(length)


def launcher_args() -> argparse.Namespace:
    return argparse.Namespace(port_base=18000, workspace="-ws")


def test_generated_secrets_are_kept_whatever_they_start_with(tmp_path: Path) -> None:
    made = dev.dev_secrets(tmp_path, generate=dashed)
    assert {k: v for k, v in made.items() if k != "TB_ENCRYPTION_KEY"}
    assert all(v.startswith("--") for k, v in made.items() if k != "TB_ENCRYPTION_KEY")
    assert dev.dev_secrets(tmp_path, generate=lambda n: "new") == made  # generated once
    assert (tmp_path / "dev-secrets.env").stat().st_mode & 0o077 == 0


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[argparse.Namespace]:
    """What the sandbox CLI parses, without serving (``uvicorn.run`` is not called)."""
    found: list[argparse.Namespace] = []
    parse = argparse.ArgumentParser.parse_args

    def recording(self: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> Any:
        namespace = parse(self, *args, **kwargs)
        found.append(namespace)
        return namespace

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", recording)
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    return found


# The mail capture takes no secret (only its ports): every other one is a provider's sandbox.
@pytest.mark.parametrize(
    "sandbox", [name for name, _ in dev_sandboxes.SANDBOXES if name != "mail-capture"]
)
def test_each_sandbox_gets_every_value_even_one_starting_with_a_dash(
    tmp_path: Path, parsed: list[argparse.Namespace], sandbox: str
) -> None:
    """Regression: ``--verifier-token <value>`` with a value starting with ``-`` made argparse
    exit ("expected one argument"), and one fresh clone in ten failed ``make dev``."""
    creds = dev.dev_secrets(tmp_path, generate=dashed)
    command = dev_sandboxes.sandbox_commands(launcher_args(), creds)[sandbox]
    assert command[:3] == [sys.executable, "-m", "timebridge_sandboxes"]
    sandbox_cli.main(command[3:])  # argparse exits (SystemExit) on a value it takes for a flag
    [namespace] = parsed
    given = [arg.removeprefix("--").split("=", 1) for arg in command[4:]]
    assert given, command
    for name, value in given:
        got = getattr(namespace, name.replace("-", "_"))
        assert value in got if isinstance(got, list) else str(got) == value, name
    assert any(value.startswith("--") for _, value in given)


def test_the_space_separated_form_is_what_broke() -> None:
    """The control: the same value as a separate argument is refused by the sandbox CLI."""
    with pytest.raises(SystemExit):
        sandbox_cli.main(["quickbooks", "--verifier-token", dashed(24)])


def test_backoff_doubles_to_its_cap_and_resets_after_a_good_run() -> None:
    backoff = Backoff(initial_s=1, cap_s=30, reset_after_s=60)
    delays = [backoff.delay(ran_for_s=0.5) for _ in range(8)]
    assert delays == [1, 2, 4, 8, 16, 30, 30, 30]
    assert backoff.delay(ran_for_s=61) == 1
    assert backoff.delay(ran_for_s=2) == 2


def sleeper(name: str, readies: list[int], back: asyncio.Event | None = None) -> Program:
    async def start() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-c", "import time; time.sleep(120)", start_new_session=True
        )

    async def ready(proc: asyncio.subprocess.Process) -> None:
        readies.append(proc.pid)
        if back is not None:
            back.set()

    return Program(name, start, ready, backoff=Backoff(initial_s=0.2, cap_s=1))


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


async def test_a_killed_process_is_restarted_and_stop_leaves_none(
    capsys: pytest.CaptureFixture[str],
) -> None:
    supervisor = Supervisor(grace_s=5)
    readies: list[int] = []
    back = asyncio.Event()
    for name in ("one", "two"):
        await supervisor.start(sleeper(name, readies, back))
    supervisor.watch()
    first = supervisor.procs["one"]
    other = supervisor.procs["two"].pid
    os.kill(first.pid, signal.SIGKILL)
    await asyncio.wait_for(back.wait(), 10)
    restarted = supervisor.procs["one"]
    assert alive(restarted.pid)
    assert readies == [restarted.pid]
    assert supervisor.procs["two"].pid == other  # the others keep running
    err = capsys.readouterr().err
    assert "one was killed by SIGKILL; restarting it in 0.2s (restart 1)" in err
    assert f"one is running again (pid {restarted.pid})" in err

    os.kill(restarted.pid, signal.SIGKILL)  # and again, during whose back-off we stop
    await asyncio.sleep(0.05)
    await supervisor.stop()
    pids = [first.pid, restarted.pid, other, *(p.pid for p in supervisor.procs.values())]
    assert not [pid for pid in pids if alive(pid)]
    assert supervisor.restarts == {"one": 2}
    assert "restarting it in 0.4s (restart 2)" in capsys.readouterr().err


async def test_stopping_while_a_restart_is_starting_stops_the_new_process_too() -> None:
    supervisor = Supervisor(grace_s=5)
    started: list[asyncio.subprocess.Process] = []
    gate = asyncio.Event()
    program = sleeper("slow", [])
    plain_start = program.start

    async def slow_start() -> asyncio.subprocess.Process:
        proc = await plain_start()
        started.append(proc)
        if len(started) > 1:
            gate.set()
            await asyncio.sleep(0.3)  # stop() arrives while this restart is under way
        return proc

    program.start = slow_start
    await supervisor.start(program)
    supervisor.watch()
    os.kill(started[0].pid, signal.SIGKILL)
    await asyncio.wait_for(gate.wait(), 10)
    await supervisor.stop()
    assert len(started) == 2
    assert not [p.pid for p in started if alive(p.pid)]


def test_infra_passes_the_kafka_cluster_id_as_one_argument() -> None:
    """A cluster id read back from ``meta.properties`` may start with ``-`` too: both Kafka's
    StorageTool (``-t -B...``: "expected one argument", checked by hand) and the readiness
    probe get it as ``--cluster-id=<id>``."""
    script = (Path(dev.ROOT) / "deploy/local/infra.sh").read_text()
    assert script.count('--cluster-id="${cid}"') == 3
    assert '--cluster-id "${cid}"' not in script
    assert '-t "${cid}"' not in script
