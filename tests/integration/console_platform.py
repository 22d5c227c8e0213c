"""The platform the console's browser tests click through: real services on real ports.

Ingest, mapping, conflict-resolver and reporting run in this process on fresh databases and
consumer groups of the real Kafka and PostgreSQL, each served by uvicorn on a free port, as the
console (also on a free port) reaches them in production: over HTTP, with the admin's token.
Core and Everhour are the sandboxes, reached by the services (and posting their webhooks to
ingest) in-process. Chromium is Debian's, installed by ``deploy/local/chromium.sh`` if missing.
"""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvicorn
from pydantic import SecretStr

from timebridge_common.config import DlqLimitConfig
from timebridge_common.crypto import SecretBox
from timebridge_common.outbound.http import RetryPolicy
from timebridge_common.testing import LazyApp
from timebridge_console.bootstrap import bootstrap as bootstrap_console
from timebridge_console.config import ServiceUrls
from timebridge_console.config import Settings as ConsoleSettings
from timebridge_ingest.handlers.imports import ImportRunner
from timebridge_ingest.handlers.polling import Poller
from timebridge_invoice_export.adapters.tools import ProductionTools
from timebridge_invoice_export.config import AccountingApp
from timebridge_invoice_export.config import Settings as InvoiceSettings
from timebridge_reporting.adapters.mail import PermanentMailError
from timebridge_reporting.reports_config import ReportsConfig
from timebridge_sandboxes import quickbooks as qbo_sandbox
from timebridge_sandboxes.core import CoreState, Subscription, Webhooks
from timebridge_sandboxes.everhour import EverhourState
from timebridge_sandboxes.faults import Faults, RateLimit
from timebridge_sandboxes.quickbooks_time import (
    QuickBooksTimeState,
    create_quickbooks_time_sandbox,
    demo_quickbooks_time,
)
from timebridge_sandboxes.xero_projects import (
    XeroProjectsState,
    create_xero_projects_sandbox,
    demo_xero_projects,
)

from .conftest import unique
from .credential_owner import OWNER_SETTINGS, start_owner, token_hosts
from .platform import PlatformBuilder

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".local" / "artifacts" / "console"
CHROMIUM_SCRIPT = ROOT / "deploy" / "local" / "chromium.sh"
CORE_URL = "http://core.sandbox"
EVERHOUR_URL = "http://everhour.sandbox"
PLATFORM_ADMIN = "platform-admin-token"
ANN_CORE = "core-ann-token-for-console"
QBT_URL = "http://qbt.sandbox/api/v1"
XERO_PROJECTS_HOST = "http://xero-projects.sandbox"
BOB_CORE = "core-bob-token-for-console"
ANN_KEY = "everhour-ann-key-console"
SERVICES = ("ingest", "mapping", "conflict-resolver", "reporting", "invoice-export")
QBO_VERIFIER = "qbo-verifier-token-console"
BOUNCING = "bounce@client.test"


@dataclass
class Outbox:
    """The reports' mail server: keeps what it is given, refuses ``BOUNCING`` for good."""

    sent: list[EmailMessage] = field(default_factory=list)

    async def send(self, message: EmailMessage) -> None:
        if BOUNCING in str(message["To"]):
            raise PermanentMailError(f"550 5.1.1 <{BOUNCING}>: no such mailbox")
        self.sent.append(message)


async def chromium_path() -> str:
    """Debian's chromium, installed by the project's script when missing."""
    process = await asyncio.create_subprocess_exec(
        "bash", str(CHROMIUM_SCRIPT), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    assert process.returncode == 0, f"{CHROMIUM_SCRIPT} failed"
    return out.decode().strip().splitlines()[-1]


@dataclass
class Served:
    url: str
    server: uvicorn.Server
    task: "asyncio.Task[None]"

    async def stop(self) -> None:
        self.server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


def reserve() -> socket.socket:
    """A bound socket on a free port of 127.0.0.1 (its URL is known before the app exists)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def url_of(sock: socket.socket) -> str:
    return f"http://127.0.0.1:{sock.getsockname()[1]}"


async def serve(app: Any, sock: socket.socket | None = None) -> Served:
    """Serve an ASGI app with uvicorn on ``sock`` (default: a free port); lifespan is the
    caller's."""
    sock = sock or reserve()
    url = url_of(sock)
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_config=None, access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    return Served(url, server, task)


@dataclass
class ConsolePlatform:
    workspace: str
    other_workspace: str
    core: CoreState
    everhour: EverhourState
    core_app: Any
    webhooks: Webhooks
    urls: dict[str, str]
    console_url: str
    project: str
    everhour_project: str
    ticket: str
    everhour_app: Any
    qbo: qbo_sandbox.QuickBooksState
    qbo_app: Any
    realm: str
    outbox: Outbox
    served: list[Served] = field(default_factory=list)
    group_prefix: str = ""
    importer: ImportRunner | None = None
    """Ingest's history imports (a test slows them down to watch the progress bar move)."""
    poller: Poller | None = None
    """Ingest's poller (its tick is an hour here: a test polls a connection when it needs to)."""
    qbt: QuickBooksTimeState | None = None
    qbt_app: Any = None
    """QuickBooks Time (an OAuth tracker): the browser reaches its consent page at its real
    address, served from this app by the test (:func:`console_browser.route_to_sandboxes`)."""
    xero_projects: XeroProjectsState | None = None
    xero_projects_app: Any = None
    """Xero Projects (an OAuth tracker): its sandbox plays Xero's identity server too."""

    def api(self, service: str, token: str = ANN_CORE) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.urls[service],
            headers={"authorization": f"Bearer {token}"},
            timeout=10,
        )

    async def log_in_core(self, **fields: Any) -> str:
        """Ann logs time in Core (the sandbox's admin API plays Core's UI; its webhook follows)."""
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.core_app), base_url="http://core"
        ) as core:
            created = await core.post(
                f"/_sandbox/workspaces/{self.workspace}/time-entries",
                json={"user_id": self.core_user("Ann"), "project_id": self.project, **fields},
            )
            assert created.status_code == 201, created.text
        await self.webhooks.drain()
        entry_id: str = created.json()["id"]
        return entry_id

    async def in_sandbox(self, app: Any, method: str, path: str, body: Any = None) -> None:
        """A person's action in Core or Everhour (their sandboxes' admin APIs); Core's webhook
        for it is delivered before this returns."""
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
        ) as sandbox:
            answer = await sandbox.request(method, path, json=body)
            assert answer.is_success, answer.text
        await self.webhooks.drain()

    async def in_quickbooks(self, method: str, path: str, body: Any = None) -> Any:
        """What an accountant does in QuickBooks Online (its sandbox's admin API)."""
        return await _qbo_admin(self.qbo_app, method, f"/companies/{self.realm}{path}", body)

    async def sync_status(self, entry: str) -> list[dict[str, Any]]:
        """A Core entry's last outcome per target (reporting's API)."""
        path = f"/v1/workspaces/{self.workspace}/entries/core/{entry}/sync-status"
        async with self.api("reporting") as reporting:
            answer = await reporting.get(path)
            assert answer.status_code == 200, answer.text
            found: list[dict[str, Any]] = answer.json()
            return found

    async def diagnose(self, entry: str) -> str:
        """What each service knows of an entry, for a failing test's message."""
        ws = self.workspace
        paths = {
            "mapping": f"/v1/workspaces/{ws}/source-entries/core/{entry}",
            "reporting": f"/v1/workspaces/{ws}/sync-log",
        }
        found = []
        for service, path in paths.items():
            async with self.api(service) as api:
                answer = await api.get(path)
                found.append(f"{service} {path}: {answer.status_code} {answer.text[:2000]}")
        return "\n".join(found)

    def core_user(self, name: str) -> str:
        return next(
            u.id
            for u in self.core.users.values()
            if u.name == name and u.workspace_id == self.workspace
        )


@contextlib.asynccontextmanager
async def console_platform(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> AsyncIterator[ConsolePlatform]:
    # Other suites may publish on the shared topics meanwhile (records this run cannot read):
    # they must not trip the dead-letter cut-off of services that are here to serve the console.
    builder = PlatformBuilder(
        "console",
        create_database,
        make_pool,
        dlq_limit=DlqLimitConfig(min_samples=10**9, max_consecutive=10**9),
        core_budget=(100, 1),
        everhour_budget=(100, 10),
    )
    core, everhour, apps = builder.core, builder.everhour, builder.apps
    workspace, other = unique("ws-a"), unique("ws-b")
    core.add_user(workspace, "Ann", email="ann@acme.test", role="admin", token=ANN_CORE)
    core.add_user(other, "Bob", email="bob@globex.test", role="admin", token=BOB_CORE)
    for ws in (workspace, other):
        core.add_service_token(ws, f"core-service-token-{ws}")
    project = core.add_project(workspace, "Website")
    ticket = core.add_ticket(workspace, "Fix the login page", project_id=project)
    everhour.add_user("Ann", api_key=ANN_KEY, email="ann@acme.test")
    # Max's emails differ between the systems: only a manual mapping links him.
    core.add_user(workspace, "Max", email="max@acme.test")
    everhour.add_user("Max M.", api_key="everhour-max-key-console", email="mm@agency.test")
    everhour_project = everhour.add_project("Website")
    everhour.add_task(everhour_project, "Fix the login page")

    # QuickBooks Online: its consent page is opened by the browser, so it listens on a port,
    # as does invoice-export, whose OAuth callback the browser is sent back to.
    qbo_sock, invoice_sock, console_sock = reserve(), reserve(), reserve()
    qbo_url, invoice_url = url_of(qbo_sock), url_of(invoice_sock)
    qbo = qbo_sandbox.QuickBooksState()
    qbo.add_app(
        "quickbooks-client", "quickbooks-secret", [f"{invoice_url}/v1/oauth/quickbooks/callback"]
    )
    realm = qbo.add_company("Acme Consulting")
    qbo.add_account(realm, "Services")
    qbo.add_customer(
        realm,
        {
            "DisplayName": "Website Client",
            "PrimaryEmailAddr": {"Address": "billing@website.test"},
            "BillAddr": {"Line1": "1 Main St", "City": "Springfield", "Country": "US"},
        },
    )
    qbo_app = qbo_sandbox.create_quickbooks_sandbox(
        qbo,
        Faults(),
        rate_limit=RateLimit(10**6, 60),
        webhook_transport=httpx.ASGITransport(app=LazyApp(apps, "invoice-export")),
    )
    # QuickBooks Time, connected by its consent page (OAuth): its token endpoint is reached by
    # the credential owner in process (host qbt.sandbox); ingest's sessions go to it by name.
    qbt = demo_quickbooks_time("qbt-ann-token-console", "qbt-max-token-console")
    qbt_app = create_quickbooks_time_sandbox(qbt, limit=RateLimit(10**6, 60))
    builder.tracker_apps["quickbooks_time"] = qbt_app
    qbt_oauth = AccountingApp(
        client_id=qbt.client_id,
        client_secret=SecretStr(qbt.client_secret),
        api_url=QBT_URL,
        authorize_url=f"{QBT_URL}/authorize",  # unused: the owner opens the kit's URL
        token_url=f"{QBT_URL}/grant",
    )
    # Xero Projects, connected by consent too: its sandbox plays Xero's identity server.
    xero_projects, _ = demo_xero_projects("xp-ann-secret-console", "xp-max-secret-console")
    xero_projects.timezone = "Pacific/Auckland"
    xp_app = create_xero_projects_sandbox(
        xero_projects, minute=RateLimit(10**6, 60), day=RateLimit(10**6, 86400)
    )
    builder.tracker_apps["xero_projects"] = xp_app
    xp_oauth = AccountingApp(
        client_id=xero_projects.consents.client_id,
        client_secret=SecretStr(xero_projects.consents.client_secret),
        api_url=f"{XERO_PROJECTS_HOST}/projects.xro/2.0",
        authorize_url=f"{XERO_PROJECTS_HOST}/identity/connect/authorize",  # unused: the kit's
        token_url=f"{XERO_PROJECTS_HOST}/connect/token",
    )
    trackers_oauth = {"quickbooks_time": qbt_oauth, "xero_projects": xp_oauth}
    outbox = Outbox()
    invoice_settings = InvoiceSettings(
        **builder.common,
        **OWNER_SETTINGS,
        encryption_key=builder.key,
        public_base_url=invoice_url,
        console_url=url_of(console_sock),  # browsers back from the consent page go there
        quickbooks=AccountingApp(
            client_id="quickbooks-client",
            client_secret=SecretStr("quickbooks-secret"),
            webhook_secret=SecretStr(QBO_VERIFIER),
            api_url=qbo_url,
            authorize_url=f"{qbo_url}/connect/oauth2",
            token_url=f"{qbo_url}/oauth2/v1/tokens/bearer",
        ),
        export_stall_s=3600,
    )
    # The credential owner (invoice-export's OAuth tokens are kept there), then the services:
    # stopped in the reverse order.
    running = contextlib.AsyncExitStack()
    owner = await start_owner(
        running,
        kafka=builder.kafka,
        apps={**invoice_settings.accounting_apps(), **trackers_oauth},
        token_transport=token_hosts(
            {**invoice_settings.accounting_apps(), **trackers_oauth},
            {"quickbooks": qbo_app, "quickbooks_time": qbt_app, "xero_projects": xp_app},
        ),
        core=builder.core_client,
        create_database=create_database,
        make_pool=make_pool,
        name="console-credentials",
    )
    builder.owner = owner  # the one owner of every service's credentials
    await builder.add_ingest(
        admin_token=PLATFORM_ADMIN,
        public_base_url="http://ingest.test",
        api_urls={"quickbooks_time": QBT_URL, "xero_projects": xp_oauth.api_url},
        console_url=url_of(console_sock),  # browsers back from a tracker's consent go there
    )
    await builder.add_mapping()
    await builder.add_resolver()
    await builder.add_reporting(reports=ReportsConfig(poll_interval_s=0.3), mailer=outbox)
    await builder.add_invoice_export(
        invoice_settings,
        tools=ProductionTools(
            invoice_settings,
            http=lambda _: httpx.AsyncClient(transport=httpx.ASGITransport(app=qbo_app)),
            retry=RetryPolicy(max_attempts=4),
        ),
        credentials=owner.source,
    )
    served: list[Served] = []
    urls: dict[str, str] = {}
    # Fresh groups start at the end of every topic but the compacted connections topic, which
    # they read from its start, as a new deployment does: other suites running at the same time
    # on the shared broker publish entries of their integrations, and a service that never saw
    # those integrations would wait for them (a transient refusal, retried) instead of refusing
    # them as records it cannot read.
    try:
        services = await running.enter_async_context(
            builder.running(topics, connections_from_start=True)
        )
        for name, built in services.items():
            served.append(
                await serve(built.app, invoice_sock if name == "invoice-export" else None)
            )
            urls[name] = served[-1].url
        served.append(await serve(qbo_app, qbo_sock))
        await _qbo_admin(
            qbo_app,
            "PUT",
            "/webhook",
            {"url": f"{invoice_url}/v1/webhooks/quickbooks", "verifier_token": QBO_VERIFIER},
        )
        console = bootstrap_console(
            ConsoleSettings(
                services=ServiceUrls(
                    ingest_url=urls["ingest"],
                    mapping_url=urls["mapping"],
                    conflict_resolver_url=urls["conflict-resolver"],
                    reporting_url=urls["reporting"],
                    invoice_export_url=urls["invoice-export"],
                ),
                session_key=SecretBox.generate_key(),
            )
        )
        served.append(await serve(console.app, console_sock))
        platform = ConsolePlatform(
            workspace,
            other,
            core,
            everhour,
            builder.core_app,
            builder.webhooks,
            urls,
            served[-1].url,
            project,
            everhour_project,
            ticket,
            builder.everhour_app,
            qbo,
            qbo_app,
            realm,
            outbox,
            served,
            group_prefix=builder.kafka.group_prefix,
            importer=getattr(services["ingest"], "imports", None),
            poller=getattr(services["ingest"], "poller", None),
            qbt=qbt,
            qbt_app=qbt_app,
            xero_projects=xero_projects,
            xero_projects_app=xp_app,
        )
        core.webhooks[workspace] = Subscription(
            f"http://ingest.test/v1/webhooks/core/{workspace}", "core-webhook-secret-" + "c" * 20
        )
        await register(platform)
        yield platform
        await console.apis.close()
    finally:
        await asyncio.gather(*(one.stop() for one in served))
        await running.aclose()


async def _qbo_admin(app: Any, method: str, path: str, body: Any = None) -> Any:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://qbo/_sandbox"
    ) as api:
        answer = await api.request(method, path, json=body)
    assert answer.is_success, answer.text
    return answer.json() if answer.content else None


async def register(platform: ConsolePlatform) -> None:
    """The platform operator registers both workspaces' Core with ingest (not a console task)."""
    async with platform.api("ingest", PLATFORM_ADMIN) as ingest:
        secret = platform.core.webhooks[platform.workspace].secret
        put = await ingest.put(
            f"/v1/admin/workspaces/{platform.workspace}/webhook-secrets/core",
            json={"secret": secret},
        )
        assert put.status_code == 204, put.text
        for ws in (platform.workspace, platform.other_workspace):
            put = await ingest.put(
                f"/v1/admin/workspaces/{ws}",
                json={"core_base_url": CORE_URL, "core_api_token": f"core-service-token-{ws}"},
            )
            assert put.status_code == 200, put.text
