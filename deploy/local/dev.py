"""Run every Timebridge service on this machine against the local Kafka and PostgreSQL.

``make dev`` calls this after ``infra-up`` and ``topics``. It creates the service databases if
missing, starts the sandboxes (Core, Everhour, QuickBooks Online, Xero, FreshBooks) and the five
services as child processes, waits until each answers, registers the demo workspace (its Core on
the Core sandbox, whose signed webhooks go to ingest; the accounting sandboxes' OAuth apps and
webhooks pointed at invoice-export), prints where everything listens, and keeps them running: a
process that exits is restarted after a back-off (1 s doubling to 30 s, ``dev_supervisor.py``),
which it says on stderr. On Ctrl-C (or SIGTERM) it stops them all with SIGTERM, escalating to
SIGKILL only after a grace period, so no process outlives it.

Generated secrets go on the sandboxes' command lines as ``--flag=value``: a value may start
with ``-``, which ``--flag value`` would hand to argparse as an option.
"""

import argparse
import asyncio
import base64
import contextlib
import json
import os
import secrets
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
from aiokafka.admin import AIOKafkaAdminClient
from dev_sandboxes import (
    CONSOLE,
    CORE_SANDBOX,
    EVERHOUR_SANDBOX,
    INVOICE_EXPORT,
    MAIL_CAPTURE,
    MAIL_CAPTURE_SMTP,
    REPORT_REQUESTS_SMTP,
    SANDBOXES,
    TRACKERS,
    XERO_SANDBOX,
    accounting_env,
    oauth_apps_env,
    sandbox_commands,
)
from dev_supervisor import Program, Supervisor

from timebridge_common.kafka.topics import COMPACTED, all_topics
from timebridge_common.testing import position_group_at_end

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("TIMEBRIDGE_STATE_DIR", ROOT / ".local"))
GRACE_S = 20.0


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    port_offset: int
    credentials: bool = False

    @property
    def database(self) -> str:
        return "tb_" + self.name.replace("-", "_")


SERVICES = (
    ServiceSpec("ingest", "timebridge_ingest.entrypoints.main", 1, credentials=True),
    ServiceSpec("mapping", "timebridge_mapping.entrypoints.main", 2),
    ServiceSpec("conflict-resolver", "timebridge_conflict_resolver.entrypoints.main", 3),
    ServiceSpec(
        "invoice-export", "timebridge_invoice_export.entrypoints.main", 4, credentials=True
    ),
    ServiceSpec("reporting", "timebridge_reporting.entrypoints.main", 5),
    ServiceSpec("contracts", "timebridge_contracts.entrypoints.main", 7),
    ServiceSpec("credentials", "timebridge_credentials.entrypoints.main", 8, credentials=True),
)


def dev_secrets(
    state: Path = STATE, generate: Callable[[int], str] = secrets.token_urlsafe
) -> dict[str, str]:
    """Per-machine dev credentials, generated once and kept in the state dir (never committed).

    A generated value may start with ``-`` (``token_urlsafe`` draws from ``A-Za-z0-9_-``):
    whatever passes one on a command line must use ``--flag=value`` (see ``flag``).
    """
    path = state / "dev-secrets.env"
    if not path.exists():
        state.mkdir(parents=True, exist_ok=True)
        key = base64.urlsafe_b64encode(os.urandom(32)).decode()
        path.write_text(f"TB_ENCRYPTION_KEY={key}\n")
        path.chmod(0o600)
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    values = {k: v for k, v in pairs}
    wanted = {
        "TB_ADMIN_TOKEN": 24,
        "DEMO_CORE_WEBHOOK_SECRET": 32,
        "CORE_ADMIN_TOKEN": 16,
        "CORE_MEMBER_TOKEN": 16,
        "CORE_SERVICE_TOKEN": 24,
        "EVERHOUR_API_KEY": 16,
        "EVERHOUR_MEMBER_API_KEY": 16,
        "QUICKBOOKS_CLIENT_SECRET": 24,
        "QUICKBOOKS_VERIFIER_TOKEN": 24,
        "XERO_CLIENT_SECRET": 24,
        "XERO_WEBHOOK_KEY": 24,
        "FRESHBOOKS_CLIENT_SECRET": 24,
        "CLICKUP_TOKEN": 24,
        "CLICKUP_MEMBER_TOKEN": 24,
        "HUBSTAFF_ACCESS_TOKEN": 24,
        "HUBSTAFF_MEMBER_ACCESS_TOKEN": 24,
        "TOGGL_API_TOKEN": 24,
        "TOGGL_MEMBER_API_TOKEN": 24,
        "CLOCKIFY_API_KEY": 24,
        "CLOCKIFY_MEMBER_API_KEY": 24,
        "TB_SESSION_KEY": 32,
        "TB_SERVICE_TOKEN": 24,
        "HARVEST_TOKEN": 24,
        "HARVEST_MEMBER_TOKEN": 24,
        "TEMPO_TOKEN": 24,
        "TEMPO_MEMBER_TOKEN": 24,
        "WRIKE_TOKEN": 24,
        "WRIKE_MEMBER_TOKEN": 24,
        "XERO_PROJECTS_TOKEN_SECRET": 24,
        "XERO_PROJECTS_MEMBER_TOKEN_SECRET": 24,
        "ZOHO_TOKEN": 24,
        "ZOHO_MEMBER_TOKEN": 24,
        "QUICKBOOKS_TIME_TOKEN": 24,
        "QUICKBOOKS_TIME_MEMBER_TOKEN": 24,
        "BAMBOOHR_TOKEN": 24,
        "BAMBOOHR_MEMBER_TOKEN": 24,
    }
    missing = {k: generate(n) for k, n in wanted.items() if k not in values}
    if missing:
        with path.open("a") as handle:
            handle.writelines(f"{k}={v}\n" for k, v in missing.items())
    return values | missing


async def ensure_databases(admin_dsn: str, names: list[str]) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        existing = {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
        for name in names:
            if name not in existing:
                await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def wait_ready(url: str, proc: asyncio.subprocess.Process, timeout_s: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            if proc.returncode is not None:
                raise RuntimeError(f"{url} exited with {proc.returncode} before it was ready")
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"{url} not ready after {timeout_s:.0f}s")
            await asyncio.sleep(0.3)


async def seed_demo(args: argparse.Namespace, creds: dict[str, str]) -> None:
    """The demo workspace: ingest checks its Core, and accepts Core's signed webhooks."""
    ingest = f"http://127.0.0.1:{args.port_base + 1}"
    admin = {"authorization": f"Bearer {creds['TB_ADMIN_TOKEN']}"}
    async with httpx.AsyncClient(base_url=ingest, headers=admin, timeout=30) as client:
        response = await client.put(
            f"/v1/admin/workspaces/{args.workspace}/webhook-secrets/core",
            json={"secret": creds["DEMO_CORE_WEBHOOK_SECRET"]},
        )
        response.raise_for_status()
        response = await client.put(
            f"/v1/admin/workspaces/{args.workspace}",
            json={
                "core_base_url": f"http://127.0.0.1:{args.port_base + CORE_SANDBOX}",
                "core_api_token": creds["CORE_SERVICE_TOKEN"],
            },
        )
        response.raise_for_status()


async def subscribe_xero(args: argparse.Namespace, creds: dict[str, str]) -> None:
    """Xero webhooks are set per app (in Xero's developer portal): here, on the sandbox, once
    invoice-export answers Xero's intent-to-receive check."""
    xero = f"http://127.0.0.1:{args.port_base + XERO_SANDBOX}"
    hook = f"http://127.0.0.1:{args.port_base + INVOICE_EXPORT}/v1/webhooks/xero"
    async with httpx.AsyncClient(base_url=xero, timeout=30) as client:
        response = await client.put(
            "/_sandbox/webhook", json={"url": hook, "key": creds["XERO_WEBHOOK_KEY"]}
        )
        response.raise_for_status()


async def start_new_groups_at_end(args: argparse.Namespace, specs: list[ServiceSpec]) -> None:
    """A consumer group this machine has never run starts at "now" on the event topics.

    The local broker is shared with the test suite and benchmarks, whose records (some invalid on
    purpose) would otherwise be replayed into the demo. Compacted state topics are left to be
    read from the start, and a group that exists keeps its committed offsets: a restart of
    ``make dev`` resumes exactly where it stopped.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=args.kafka)
    await admin.start()
    try:
        existing = {group[0] for group in await admin.list_consumer_groups()}
    finally:
        await admin.close()
    topics = [t for t in all_topics() if t not in COMPACTED]
    for spec in specs:
        group = f"{args.group_prefix}-{spec.name}"
        if group not in existing:
            await position_group_at_end(args.kafka, group, topics)


# Services that ask the credential owner for a connection's access (ingest hands it the keys).
OWNER_CLIENTS = ("ingest", "mapping", "conflict-resolver", "invoice-export")


def service_env(
    spec: ServiceSpec, args: argparse.Namespace, creds: dict[str, str], pg: str
) -> dict[str, str]:
    env = {
        **os.environ,
        "TB_KAFKA__BOOTSTRAP_SERVERS": args.kafka,
        "TB_KAFKA__GROUP_PREFIX": args.group_prefix,
        "TB_DATABASE__URL": f"{pg}/{args.db_prefix}{spec.database}",
        "TB_HTTP__HOST": "127.0.0.1",
        "TB_HTTP__PORT": str(args.port_base + spec.port_offset),
        "TB_TELEMETRY__LOG_JSON": "true" if args.json_logs else "false",
    }
    if spec.credentials:
        env["TB_ENCRYPTION_KEY"] = creds["TB_ENCRYPTION_KEY"]
    if spec.name == "ingest":
        env["TB_ADMIN_TOKEN"] = creds["TB_ADMIN_TOKEN"]
        env["TB_PUBLIC_BASE_URL"] = f"http://127.0.0.1:{args.port_base + 1}"
        env["TB_CONSOLE_URL"] = f"http://127.0.0.1:{args.port_base + CONSOLE}"
        if args.sandboxes:
            env["TB_EVERHOUR_API_URL"] = f"http://127.0.0.1:{args.port_base + EVERHOUR_SANDBOX}"
            urls = {
                name: f"http://127.0.0.1:{args.port_base + offset}{path}"
                for name, (offset, path) in TRACKERS.items()
            }
            env["TB_API_URLS"] = json.dumps(urls)
    if spec.name in OWNER_CLIENTS:  # the credential owner keeps every key and OAuth token
        env["TB_SERVICE_TOKEN"] = creds["TB_SERVICE_TOKEN"]
        owner = next(s for s in SERVICES if s.name == "credentials")
        env["TB_CREDENTIALS_URL"] = f"http://127.0.0.1:{args.port_base + owner.port_offset}"
    if spec.name == "invoice-export" and args.sandboxes:
        env |= accounting_env(args, creds)
    if spec.name == "credentials":
        env["TB_SERVICE_TOKEN"] = creds["TB_SERVICE_TOKEN"]
        if args.sandboxes:
            env |= oauth_apps_env(args, creds)
    if spec.name == "reporting" and args.sandboxes:
        env["TB_SMTP__HOST"] = "127.0.0.1"
        env["TB_SMTP__PORT"] = str(args.port_base + MAIL_CAPTURE_SMTP)
        env["TB_REPORTS__INBOUND_PORT"] = str(args.port_base + REPORT_REQUESTS_SMTP)
        env["TB_PORTAL__CONSOLE_URL"] = f"http://127.0.0.1:{args.port_base + CONSOLE}"
    return env


def console_env(args: argparse.Namespace, creds: dict[str, str]) -> dict[str, str]:
    """The console has no database and no Kafka: it calls the services' public APIs."""
    local = "http://127.0.0.1"
    return {
        **os.environ,
        "TB_HTTP__HOST": "127.0.0.1",
        "TB_HTTP__PORT": str(args.port_base + CONSOLE),
        "TB_SESSION_KEY": creds["TB_SESSION_KEY"],
        "TB_TELEMETRY__LOG_JSON": "true" if args.json_logs else "false",
        **{
            f"TB_SERVICES__{spec.name.upper().replace('-', '_')}_URL": (
                f"{local}:{args.port_base + spec.port_offset}"
            )
            for spec in SERVICES
        },
    }


def program(
    name: str, command: list[str], ready_url: str, timeout_s: float, env: dict[str, str] | None
) -> Program:
    """A process of ``make dev``: in its own session, so the terminal's Ctrl-C reaches only
    the launcher, which stops everything in order."""

    async def start() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(*command, env=env, start_new_session=True)

    async def ready(proc: asyncio.subprocess.Process) -> None:
        await wait_ready(ready_url, proc, timeout_s)

    return Program(name, start, ready)


async def start_all(
    args: argparse.Namespace,
    specs: list[ServiceSpec],
    creds: dict[str, str],
    pg: str,
    supervisor: Supervisor,
) -> None:
    """Sandboxes first (the services call them), then the services; wait for each to answer."""
    local = "http://127.0.0.1"
    programs: list[Program] = []
    if args.sandboxes:
        commands = sandbox_commands(args, creds)
        sandboxes = [
            program(
                name,
                commands[name],
                f"{local}:{args.port_base + offset}/_sandbox/faults",
                args.ready_timeout,
                None,
            )
            for name, offset in SANDBOXES
        ]
        for sandbox in sandboxes:
            await supervisor.start(sandbox)
        for sandbox in sandboxes:
            await sandbox.ready(supervisor.procs[sandbox.name])
        programs += sandboxes
    services = [
        program(
            spec.name,
            [sys.executable, "-m", spec.module],
            f"{local}:{args.port_base + spec.port_offset}/readyz",
            args.ready_timeout,
            service_env(spec, args, creds, pg),
        )
        for spec in specs
    ]
    if not args.only:
        services.append(
            program(
                "console",
                [sys.executable, "-m", "timebridge_console.entrypoints.main"],
                f"{local}:{args.port_base + CONSOLE}/readyz",
                args.ready_timeout,
                console_env(args, creds),
            )
        )
    for service in services:
        await supervisor.start(service)
    for service in services:
        await service.ready(supervisor.procs[service.name])
    programs += services
    if "ingest" in supervisor.procs and args.sandboxes:
        await seed_demo(args, creds)
    if "invoice-export" in supervisor.procs and args.sandboxes:
        await subscribe_xero(args, creds)

        async def resubscribe() -> None:  # a restarted Xero sandbox forgot its subscription
            await subscribe_xero(args, creds)

        [xero] = [p for p in programs if p.name == "xero-sandbox"]
        xero.after_restart = resubscribe


def print_summary(args: argparse.Namespace, specs: list[ServiceSpec], pg: str) -> None:
    print("\nTimebridge is running:")
    for spec in specs:
        url = f"http://127.0.0.1:{args.port_base + spec.port_offset}"
        print(f"  {spec.name:<18} {url}   (API docs: {url}/docs)")
    if not args.only:
        console = f"http://127.0.0.1:{args.port_base + CONSOLE}"
        print(f"  {'console':<18} {console}   (sign in: workspace {args.workspace!r},")
        print(f"  {'':<18} Core token CORE_ADMIN_TOKEN of {STATE / 'dev-secrets.env'})")
    if args.sandboxes:
        for name, offset in SANDBOXES:
            print(f"  {name:<18} http://127.0.0.1:{args.port_base + offset}")
        print(
            f"  {'mail (captured)':<18} http://127.0.0.1:{args.port_base + MAIL_CAPTURE}/messages"
        )
        print(
            f"  {'report requests':<18} smtp://127.0.0.1:{args.port_base + REPORT_REQUESTS_SMTP}"
            f" (to {args.workspace}@reports.timebridge.localhost)"
        )
    print(f"  kafka              {args.kafka}")
    print(f"  postgres           {pg}/{args.db_prefix}tb_<service>")
    print(f"\nDemo workspace {args.workspace!r}: credentials in {STATE / 'dev-secrets.env'}")
    print("A process that exits is restarted (back-off 1s..30s). Ctrl-C stops everything.\n")
    sys.stdout.flush()


async def run(args: argparse.Namespace) -> int:
    creds = dev_secrets()
    specs = [s for s in SERVICES if not args.only or s.name in args.only]
    pg = f"postgresql://timebridge:timebridge@{args.pg_host}:{args.pg_port}"
    await ensure_databases(f"{pg}/postgres", [args.db_prefix + s.database for s in specs])
    await start_new_groups_at_end(args, specs)
    supervisor = Supervisor(grace_s=GRACE_S)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        starting = asyncio.create_task(start_all(args, specs, creds, pg, supervisor))
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([starting, stopper], return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():  # Ctrl-C while starting up
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
            return 0
        stopper.cancel()
        await starting  # a process that fails while starting up is a configuration error: stop
        # From here on a process that exits is restarted (with back-off) until Ctrl-C.
        supervisor.watch()
        print_summary(args, specs, pg)
        await stop.wait()
        return 0
    finally:
        await supervisor.stop()
        print("dev: all services stopped", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kafka", default=os.environ.get("TB_DEV_KAFKA", "127.0.0.1:19092"))
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument(
        "--pg-port", type=int, default=int(os.environ.get("TIMEBRIDGE_PG_PORT", "15432"))
    )
    parser.add_argument("--port-base", type=int, default=8000, help="services listen on base+1..5")
    parser.add_argument("--db-prefix", default="", help="prefix of the service database names")
    parser.add_argument("--group-prefix", default="timebridge")
    parser.add_argument("--only", action="append", help="run only this service (repeatable)")
    parser.add_argument(
        "--workspace",
        default="demo",
        help="the demo workspace's id (tests use their own: a workspace's connection state is"
        " kept on the broker's compacted topic, which every run on this machine shares)",
    )
    parser.add_argument("--ready-timeout", type=float, default=60.0)
    parser.add_argument("--json-logs", action="store_true")
    parser.add_argument(
        "--no-sandboxes",
        dest="sandboxes",
        action="store_false",
        help="do not start the sandboxes (nor register the demo workspace)",
    )
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
