"""The portal's API on real PostgreSQL and the real SMTP capture, time injected.

Reporting's portal routes and its link sender (as the service wires them) over a fresh reporting
database: the same answer for known and unknown addresses (a mail only to a recipient), the link
mail through SMTP, links single-use and short-lived, requests limited per address, and a client's
contact seeing only its own reports and runs (another client's, another workspace's: 404), even
after an admin changes a definition. Seconds, no Kafka.
"""

import datetime as dt
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from timebridge_common.db.migrations import apply_migrations
from timebridge_common.http_errors import install_error_handling
from timebridge_reporting.adapters.mail import SmtpMailer
from timebridge_reporting.adapters.portal import PostgresPortal
from timebridge_reporting.adapters.runs import PostgresRuns, RunRequest
from timebridge_reporting.adapters.work import Outcome, PostgresWork
from timebridge_reporting.domain.definitions import DefinitionBody
from timebridge_reporting.domain.report_model import Period, ReportKind, ReportParams
from timebridge_reporting.entrypoints.portal_http import Portal, portal_routes
from timebridge_reporting.handlers.portal_links import LinkSender
from timebridge_reporting.mail_capture import MailCapture
from timebridge_reporting.portal_config import PortalConfig
from timebridge_reporting.reports_config import SmtpConfig
from timebridge_reporting.testing import FakeClock

from .conftest import unique

pytestmark = pytest.mark.integration
T0 = dt.datetime(2026, 12, 7, 9, tzinfo=dt.UTC)
CONSOLE = "https://console.example"
PM_A, PM_B, BOSS = "pm@client-a.test", "pm@client-b.test", "boss@agency.test"
LINK = re.compile(r"https://console\.example/portal/sign-in\?token=(tbl_[A-Za-z0-9_-]+)")


@dataclass
class World:
    http: httpx.AsyncClient
    clock: FakeClock
    links: LinkSender
    mail: MailCapture
    runs: PostgresRuns
    work: PostgresWork
    pool: asyncpg.Pool
    ws: str
    other_ws: str

    async def define(
        self, name: str, kind: ReportKind, clients: tuple[str, ...], recipients: tuple[str, ...]
    ) -> str:
        body = DefinitionBody(
            name=name,
            params=ReportParams(kind=kind, clients=clients),
            formats=("pdf", "csv"),
            recipients=recipients,
        )
        return (await self.runs.create(self.ws, body, T0, None)).definition_id

    async def run(self, definition_id: str, workspace: str | None = None) -> str:
        """A rendered run of the definition, addressed to its recipients."""
        ws = workspace or self.ws
        definition = await self.runs.get(ws, definition_id)
        assert definition is not None
        body = definition.body
        day = Period(start=T0.date(), end=T0.date())
        request = RunRequest(ws, definition_id, unique("manual"), "manual", body.params,
                             body.formats, body.recipients, day)  # fmt: skip
        run_id, _ = await self.runs.request(request, T0)
        async with self.work.pending_run(T0 + dt.timedelta(minutes=5)) as claim:
            assert claim is not None
            assert claim[1].run_id == run_id
            outputs = {"json": b"{}", "pdf": f"%PDF {run_id}".encode(), "csv": b"a,b\n"}
            await self.work.finish_run(claim[0], claim[1], Outcome(None, outputs, []), T0)
        return run_id

    async def ask_link(self, email: str, workspace: str | None = None) -> httpx.Response:
        path = f"/v1/portal/workspaces/{workspace or self.ws}/sign-in-links"
        return await self.http.post(path, json={"email": email})

    def tokens_to(self, email: str) -> list[str]:
        return [
            found
            for m in self.mail.messages
            if email in m.rcpt_tos
            for found in LINK.findall(m.text())
        ]

    async def sign_in(self, email: str) -> dict[str, str]:
        self.clock.set(self.clock.now + dt.timedelta(minutes=2))  # past the per-address pause
        assert (await self.ask_link(email)).status_code == 202
        await self.links.step()
        token = self.tokens_to(email)[-1]
        answer = await self.http.post("/v1/portal/sessions", json={"token": token})
        assert answer.status_code == 201, answer.text
        return {"authorization": f"Bearer {answer.json()['session_token']}"}


@pytest.fixture
async def world(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> AsyncIterator[World]:
    pool = await make_pool(await create_database(unique("portal")))
    await apply_migrations(pool, "timebridge_reporting.adapters.migrations")
    clock = FakeClock(T0)
    capture = MailCapture().start()
    portal = PostgresPortal(pool)
    config = PortalConfig(console_url=CONSOLE, link_ttl_s=600, requests_per_hour=2)
    links = LinkSender(
        portal,
        SmtpMailer(SmtpConfig(port=capture.port, timeout_s=5)),
        sender="Timebridge reports <reports@timebridge.test>",
        console_url=config.console_url,
        ttl=dt.timedelta(seconds=config.link_ttl_s),
        clock=clock,
    )
    runs = PostgresRuns(pool)
    app = FastAPI()
    install_error_handling(app)
    app.include_router(portal_routes(Portal(portal, runs, config, links, clock)))
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as http:
            yield World(http, clock, links, capture, runs, PostgresWork(pool), pool,
                        unique("ws"), unique("ws-other"))  # fmt: skip
    finally:
        capture.stop()


async def test_a_link_reaches_recipients_only_and_works_once_and_briefly(world: World) -> None:
    await world.define("Client A time", "time", ("cl_a",), (PM_A,))
    # Known and unknown addresses get the same answer; only the recipient gets a mail.
    known, unknown = await world.ask_link("PM@Client-A.test"), await world.ask_link("x@nobody.test")
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert await world.links.step() == 1
    assert [m.rcpt_tos for m in world.mail.messages] == [(PM_A,)]
    [token] = world.tokens_to(PM_A)
    assert "works once and for 10 minutes" in world.mail.messages[0].text()
    # Stored only as its hash.
    stored = await world.pool.fetch("SELECT token_hash FROM portal_links")
    assert len(stored) == 1
    assert token.encode() not in bytes(stored[0]["token_hash"])

    # Asking again at once: the same answer, no second mail (per-address limit).
    assert (await world.ask_link(PM_A)).status_code == 202
    await world.links.step()
    assert len(world.mail.messages) == 1

    first = await world.http.post("/v1/portal/sessions", json={"token": token})
    assert first.status_code == 201, first.text
    assert first.json()["email"] == PM_A
    assert first.json()["clients"] == ["cl_a"]
    again = await world.http.post("/v1/portal/sessions", json={"token": token})
    assert again.status_code == 401
    assert "used already" in again.json()["detail"]

    # A link older than its 10 minutes is refused.
    world.clock.set(T0 + dt.timedelta(minutes=1))
    assert (await world.ask_link(PM_A)).status_code == 202
    await world.links.step()
    late = world.tokens_to(PM_A)[-1]
    assert late != token
    world.clock.set(T0 + dt.timedelta(minutes=11, seconds=1))
    expired = await world.http.post("/v1/portal/sessions", json={"token": late})
    assert expired.status_code == 401
    for forged in ("tbl_" + "A" * 43, "not a token", "tbp_" + "A" * 43):
        refused = await world.http.post("/v1/portal/sessions", json={"token": forged})
        assert refused.status_code == 401, forged


async def test_a_clients_contact_sees_only_its_own_reports(world: World) -> None:
    a = await world.define("Client A time", "time", ("cl_a",), (PM_A, BOSS))
    b = await world.define("Client B time", "time", ("cl_b",), (PM_B, BOSS))
    billing = await world.define("Billing", "billing", (), (BOSS,))  # workspace-wide
    run_a, run_b = await world.run(a), await world.run(b)
    elsewhere = DefinitionBody(
        name="Client A time",
        params=ReportParams(kind="time", clients=("cl_a",)),
        recipients=(PM_A,),
    )
    other_def = (await world.runs.create(world.other_ws, elsewhere, T0, None)).definition_id
    other_run = await world.run(other_def, world.other_ws)

    pm_a = await world.sign_in(PM_A)
    # Added to the workspace-wide billing report after signing in for client A: not shown
    # (it has no client filter, so it is not client A's data alone).
    widened = await world.runs.get(world.ws, billing)
    assert widened is not None
    with_pm = widened.body.model_copy(update={"recipients": (BOSS, PM_A)})
    await world.runs.replace(world.ws, billing, with_pm, T0, None)
    listed = (await world.http.get("/v1/portal/reports", headers=pm_a)).json()
    assert [d["definition_id"] for d in listed] == [a]  # not B's, not the workspace-wide billing
    assert "recipients" not in listed[0]
    runs = (await world.http.get("/v1/portal/runs", headers=pm_a)).json()
    assert [(r["run_id"], r["downloads"]) for r in runs] == [(run_a, ["csv", "json", "pdf"])]
    pdf = await world.http.get(f"/v1/portal/runs/{run_a}/download/pdf", headers=pm_a)
    assert pdf.status_code == 200
    assert pdf.content == f"%PDF {run_a}".encode()
    for refused in (
        f"/v1/portal/runs/{run_b}",
        f"/v1/portal/runs/{run_b}/download/pdf",
        f"/v1/portal/runs/{other_run}/download/pdf",
        f"/v1/portal/runs/{run_a}/download/xlsx",  # not one of its formats
    ):
        assert (await world.http.get(refused, headers=pm_a)).status_code == 404, refused
    for definition in (b, billing, other_def):
        asked = await world.http.post(
            f"/v1/portal/reports/{definition}/requests",
            json={"start": "2026-11-01", "end": "2026-11-30"},
            headers=pm_a,
        )
        assert asked.status_code == 404, definition

    # A request for a period: a run of its definition, addressed to the contact alone.
    asked = await world.http.post(
        f"/v1/portal/reports/{a}/requests",
        json={"start": "2026-11-01", "end": "2026-11-30"},
        headers={**pm_a, "idempotency-key": "form-key-1"},
    )
    assert asked.status_code == 202, asked.text
    same = await world.http.post(
        f"/v1/portal/reports/{a}/requests",
        json={"start": "2026-11-01", "end": "2026-11-30"},
        headers={**pm_a, "idempotency-key": "form-key-1"},
    )
    assert same.json() == {**asked.json(), "status": "existing"}
    row = await world.pool.fetchrow(
        "SELECT definition_id, cause, recipients, period_start, params FROM report_runs"
        " WHERE run_id = $1",
        asked.json()["run_id"],
    )
    assert (row["definition_id"], row["cause"], row["recipients"]) == (a, "portal", [PM_A])
    assert row["period_start"] == dt.date(2026, 11, 1)
    assert row["params"]["clients"] == ["cl_a"]
    backwards = await world.http.post(
        f"/v1/portal/reports/{a}/requests", json={"start": "2026-11-30", "end": "2026-11-01"},
        headers=pm_a,
    )  # fmt: skip
    assert backwards.status_code == 422
    statuses = [
        (await world.http.post(
            f"/v1/portal/reports/{a}/requests", json={"start": "2026-10-01", "end": "2026-10-31"},
            headers=pm_a,
        )).status_code
        for _ in range(2)
    ]  # fmt: skip
    assert statuses == [202, 429]  # two runs an hour in this world (the repeated key was one)

    # The manager receives both clients' reports and the billing one: every run.
    boss = await world.sign_in(BOSS)
    seen = {r["run_id"] for r in (await world.http.get("/v1/portal/runs", headers=boss)).json()}
    assert seen == {run_a, run_b}

    # An admin points A's report at client B: A's contact, signed in for client A, no longer
    # sees it (nor its earlier runs) until signing in again.
    changed = DefinitionBody(
        name="Client A time",
        params=ReportParams(kind="time", clients=("cl_b",)),
        recipients=(PM_A,),
    )
    await world.runs.replace(world.ws, a, changed, T0, None)
    assert (await world.http.get("/v1/portal/reports", headers=pm_a)).json() == []
    gone = await world.http.get(f"/v1/portal/runs/{run_a}/download/pdf", headers=pm_a)
    assert gone.status_code == 404

    # Signing out ends the session; a Core-like or made-up token is no session at all.
    assert (await world.http.delete("/v1/portal/session", headers=pm_a)).status_code == 204
    for headers in (pm_a, {"authorization": "Bearer core-admin-token"}, {}):
        answer = await world.http.get("/v1/portal/runs", headers=headers)
        assert answer.status_code == 401
        assert isinstance(answer.json()["detail"], str)
