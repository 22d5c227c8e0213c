"""`make dev`'s launcher: the sandboxes and all five services as real processes, real HTTP.

Runs ``deploy/local/dev.py`` on its own ports, database names, consumer groups and state dir (so
a running ``make dev`` is not disturbed), with every generated secret starting with ``-`` (one
fresh clone in ten used to fail on such a value), kills the mapping service with SIGKILL and
waits for the launcher to restart it, posts a signed webhook over HTTP, reads the entry back from
the restarted mapping service over HTTP, then sends SIGINT (Ctrl-C) and checks that no process is
left.
"""

import asyncio
import base64
import importlib.util
import os
import secrets
import signal
import sys
import time
from pathlib import Path
from types import ModuleType

import httpx

from timebridge_common.testing import position_group_at_end, wait_for
from timebridge_ingest.domain.core_webhook import sign

from .conftest import KAFKA, PG, RUN_ID
from .test_thin_path import core_webhook

ROOT = Path(__file__).resolve().parents[2]
PORT_BASE = 18700
WORKSPACE = f"dev-{RUN_ID}"
"""Not ``demo``: the state this run publishes must not become ``make dev``'s on this machine."""
SERVICES = ["ingest", "mapping", "conflict-resolver", "invoice-export", "reporting"]


def _launcher() -> ModuleType:
    """``deploy/local/dev.py`` (a script, not a package), for the names of its secrets."""
    spec = importlib.util.spec_from_file_location("dev", ROOT / "deploy/local/dev.py")
    assert spec is not None
    assert spec.loader is not None
    sys.path.insert(0, str(ROOT / "deploy/local"))
    try:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(ROOT / "deploy/local"))
    return module


def _dashed_secrets(state: Path) -> dict[str, str]:
    """The launcher's secret file with every value starting with ``-``, as it generates them
    now and then (``secrets.token_urlsafe``); the launcher keeps what it finds there."""
    creds: dict[str, str] = _launcher().dev_secrets(
        state, generate=lambda n: "-" + secrets.token_urlsafe(n)
    )
    key = base64.urlsafe_b64encode(b"\xf8" + os.urandom(31)).decode()  # "-..." too
    creds["TB_ENCRYPTION_KEY"] = key
    (state / "dev-secrets.env").write_text("".join(f"{k}={v}\n" for k, v in creds.items()))
    assert all(v.startswith("-") for v in creds.values())
    return creds


def _cmdline(pid: int) -> str:
    try:
        return (Path(f"/proc/{pid}/cmdline").read_bytes()).replace(b"\0", b" ").decode()
    except OSError:
        return ""


async def _read_until(
    stdout: asyncio.StreamReader, output: list[str], text: str, timeout_s: float
) -> None:
    async with asyncio.timeout(timeout_s):
        while text not in "".join(output):
            line = await stdout.readline()
            assert line, "dev.py exited early:\n" + "".join(output)
            output.append(line.decode())


async def _service_pid(launcher: int, package: str) -> int:
    """The pid of the launcher's child running ``package`` (waits while one is restarting)."""

    async def find() -> int | None:
        found = [p for p in _children(launcher) if f"{package}.entrypoints" in _cmdline(p)]
        return found[0] if len(found) == 1 else None

    pid: int = await wait_for(find, timeout_s=30)
    return pid


def _children(pid: int) -> set[int]:
    """All live descendants of ``pid`` (from /proc)."""
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        parent = frontier.pop()
        for status in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = status.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent and fields[0] != "Z":
                child = int(status.parent.name)
                if child not in found:
                    found.add(child)
                    frontier.add(child)
    return found


async def test_dev_runs_every_service_restarts_a_killed_one_and_ctrl_c_leaves_nothing(
    topics: list[str], tmp_path: Path
) -> None:
    prefix = f"it-{RUN_ID}-dev"
    for service in SERVICES:
        await position_group_at_end(KAFKA, f"{prefix}-{service}", topics)
    state = tmp_path
    creds = _dashed_secrets(state)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "deploy/local/dev.py"),
        f"--kafka={KAFKA}",
        f"--pg-port={PG.rsplit(':', 1)[1]}",
        f"--port-base={PORT_BASE}",
        f"--db-prefix=it_{RUN_ID}_dev_",
        f"--group-prefix={prefix}",
        f"--workspace={WORKSPACE}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "TIMEBRIDGE_STATE_DIR": str(state)},
    )
    assert proc.stdout is not None
    output: list[str] = []
    children: set[int] = set()
    try:
        await _read_until(proc.stdout, output, "Ctrl-C stops everything", 90)
        assert all(s in "".join(output) for s in SERVICES)
        children = _children(proc.pid)
        assert len(children) >= len(SERVICES)
        kept = dict(line.split("=", 1) for line in (state / "dev-secrets.env").read_text().split())
        assert kept == creds

        # kill -9 of a service: the launcher says so, starts it again, and it serves again.
        mapping_pid = await _service_pid(proc.pid, "timebridge_mapping")
        os.kill(mapping_pid, signal.SIGKILL)
        await _read_until(proc.stdout, output, "mapping is running again", 90)
        log = "".join(output)
        assert "mapping was killed by SIGKILL; restarting it in" in log, log
        async with httpx.AsyncClient(timeout=10) as http:
            health = await http.get(f"http://127.0.0.1:{PORT_BASE + 2}/healthz")
            assert health.status_code == 200, health.text
        restarted = await _service_pid(proc.pid, "timebridge_mapping")
        assert restarted != mapping_pid
        children |= _children(proc.pid)

        body = core_webhook(WORKSPACE, f"dlv-{RUN_ID}", f"te-dev-{RUN_ID}")
        async with httpx.AsyncClient(timeout=10) as http:
            for offset in range(1, 6):
                url = f"http://127.0.0.1:{PORT_BASE + offset}/readyz"
                last: list[str] = []

                async def ready(url: str = url, last: list[str] = last) -> bool:
                    # Ready when the launcher printed its summary; a stall may show for a few
                    # seconds when another suite on this broker publishes for an integration the
                    # new consumer has not read yet from the compacted connections topic.
                    try:
                        answer = await http.get(url)
                    except httpx.TransportError as exc:  # restarting (the launcher says why)
                        last.append(repr(exc))
                        return False
                    last.append(answer.text)
                    return answer.status_code == 200

                try:
                    await wait_for(ready, timeout_s=60)
                except AssertionError:
                    raise AssertionError(f"{url}: {last[-1]}") from None
            response = await http.post(
                f"http://127.0.0.1:{PORT_BASE + 1}/v1/webhooks/core/{WORKSPACE}",
                content=body,
                headers={
                    "content-type": "application/json",
                    "Core-Signature": sign(
                        creds["DEMO_CORE_WEBHOOK_SECRET"], int(time.time()), body
                    ),
                },
            )
            assert response.status_code == 202, response.text
            mapping = f"http://127.0.0.1:{PORT_BASE + 2}/v1/workspaces/{WORKSPACE}/source-entries"
            admin = {"authorization": f"Bearer {creds['CORE_ADMIN_TOKEN']}"}

            async def stored() -> httpx.Response | None:
                found = await http.get(f"{mapping}/core/te-dev-{RUN_ID}", headers=admin)
                return found if found.status_code == 200 else None

            # The killed consumer's group membership lasts until its session times out: the
            # restarted one gets the partitions after a rebalance that may take that long.
            entry = await wait_for(stored, timeout_s=60)
            assert entry.json()["entry"]["duration_seconds"] == 2700
            assert entry.json()["last_event_id"] == response.json()["event_id"]
            ingest = f"http://127.0.0.1:{PORT_BASE + 1}/v1/workspaces/{WORKSPACE}"
            test_url = f"{ingest}/integrations/everhour/test"
            tested = await http.post(
                test_url,
                json={"api_key": creds["EVERHOUR_API_KEY"]},
                headers={"authorization": f"Bearer {creds['CORE_ADMIN_TOKEN']}"},
            )
            assert tested.status_code == 200, tested.text
            assert tested.json()["ok"] is True
            assert tested.json()["account"]["email"] == "ann@example.com"
            member = await http.post(
                test_url,
                json={"api_key": creds["EVERHOUR_API_KEY"]},
                headers={"authorization": f"Bearer {creds['CORE_MEMBER_TOKEN']}"},
            )
            assert member.status_code == 403
            docs = await http.get(f"http://127.0.0.1:{PORT_BASE + 1}/openapi.json")
            assert "/v1/webhooks/core/{workspace_id}" in docs.json()["paths"]
    finally:
        children |= _children(proc.pid)
        if proc.returncode is None:
            proc.send_signal(signal.SIGINT)
        rest = await asyncio.wait_for(proc.stdout.read(), 60)
        await asyncio.wait_for(proc.wait(), 60)
        # What the launcher said (restarts, stops): shown with a failure's captured output.
        said = "".join(output) + rest.decode()
        print("".join(line + "\n" for line in said.splitlines() if line.startswith("dev:")))
    log = "".join(output) + rest.decode()
    assert proc.returncode == 0, log
    assert "all services stopped" in log
    assert not _alive(children), "processes left behind"


def _alive(pids: set[int]) -> list[int]:
    """Pids still running; zombies (exited, not yet reaped by PID 1) do not count."""
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            alive.append(pid)
    return alive
