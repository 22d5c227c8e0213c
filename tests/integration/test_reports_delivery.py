"""Reports end to end on real Kafka, Postgres and SMTP (the local capturing server).

Events reach the reporting service through Kafka; the API's JSON and the mailed CSV/XLSX/PDF
attachments carry the same totals; a weekly schedule crossing the autumn DST change fires once,
at 07:00 Berlin, with time injected; a missed schedule is caught up once; a restart during a run
delivers once; ``ReportDelivered`` reaches Kafka through the outbox.
"""

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from email.message import EmailMessage
from typing import Any

import asyncpg
import httpx
import pytest
from timebridge_providers.core.client import CoreClient

from timebridge_common.events import ConnectionChanged, Envelope, Event
from timebridge_common.events.codec import encode
from timebridge_common.events.reports import ReportDelivered
from timebridge_common.testing import (
    end_offsets,
    in_memory_tracing,
    position_group_at_end,
    read_topic,
    sample_time_entry_logged,
    wait_for,
)
from timebridge_reporting.adapters.mail import Mailer, SmtpMailer
from timebridge_reporting.bootstrap import Reporting, bootstrap
from timebridge_reporting.config import Settings
from timebridge_reporting.mail_capture import MailCapture
from timebridge_reporting.portal_config import PortalConfig
from timebridge_reporting.reports_config import ReportsConfig, SmtpConfig
from timebridge_reporting.testing import FakeClock, csv_tables, pdf_info, xlsx_sheets
from timebridge_sandboxes.core import CoreState, create_core_sandbox
from timebridge_sandboxes.faults import RateLimit

from .conftest import KAFKA, kafka_config, unique

UTC = dt.UTC
T0 = dt.datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
CONSOLE = "https://console.reports.test"


@pytest.fixture
def capture() -> Any:
    mail = MailCapture().start()
    yield mail
    mail.stop()


class Harness:
    def __init__(self, workspace: str, admin: str, core_app: Any) -> None:
        self.workspace, self.admin, self.core_app = workspace, admin, core_app

    def core_client(self, base_url: str, token: str) -> CoreClient:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.core_app))
        return CoreClient(base_url, token, http=http)


@pytest.fixture
def harness() -> Harness:
    workspace, admin = unique("ws"), unique("ct-admin")
    core = CoreState()
    core.add_user(workspace, "Ann", role="admin", token=admin)
    return Harness(workspace, admin, create_core_sandbox(core, rate_limit=RateLimit(10_000, 1)))


@contextlib.asynccontextmanager
async def running(
    harness: Harness,
    pool: asyncpg.Pool,
    capture: MailCapture,
    clock: FakeClock,
    group: str,
    *,
    mailer: Mailer | None = None,
) -> AsyncIterator[Reporting]:
    kafka = kafka_config().model_copy(
        update={"group_prefix": f"{kafka_config().group_prefix}-{group}"}
    )
    settings = Settings(
        kafka=kafka,
        smtp=SmtpConfig(port=capture.port),
        reports=ReportsConfig(poll_interval_s=3600, backoff_s=1),
        portal=PortalConfig(console_url=CONSOLE),
    )
    service = bootstrap(
        settings,
        pool=pool,
        tracer_provider=in_memory_tracing("reporting")[0],
        core=harness.core_client,
        mailer=mailer,
        clock=clock,
    )
    await service.runtime.start()
    try:
        yield service
    finally:
        await service.runtime.stop()


async def publish(service: Reporting, *events: Event) -> None:
    for event in events:
        encoded = encode(event, Envelope.for_event(event, producer="test", occurred_at=T0))
        await service.runtime.broker.publish(
            encoded.value, encoded.topic, key=encoded.key, headers=encoded.headers
        )


def core_connection(workspace: str) -> ConnectionChanged:
    return ConnectionChanged(
        workspace_id=workspace,
        connection_id=f"core_{workspace}",
        provider="core",
        status="connected",
        base_url="http://core.sandbox",
        revision=1,
        changed_at=T0,
    )


def entries(workspace: str) -> list[Event]:
    made: list[Event] = []
    for n, (user, seconds, billable, day) in enumerate(
        [("u_1", 3600, True, 16), ("u_1", 1800, False, 17), ("u_2", 5400, True, 18),
         ("u_2", 900, True, 25)]
    ):  # fmt: skip
        base = sample_time_entry_logged(workspace_id=workspace, external_id=f"te_{n}")
        who = base.entry.user.model_copy(update={"external_id": user, "name": user})
        fields = {"duration_seconds": seconds, "billable": billable,
                  "date": dt.date(2026, 11, day), "user": who}  # fmt: skip
        made.append(base.model_copy(update={"entry": base.entry.model_copy(update=fields)}))
    return made


async def api(
    service: Reporting, harness: Harness, method: str, path: str, **kw: Any
) -> httpx.Response:
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://reporting") as http:
        headers = {"authorization": f"Bearer {harness.admin}"} | kw.pop("headers", {})
        url = f"/v1/workspaces/{harness.workspace}{path}"
        return await http.request(method, url, headers=headers, **kw)


async def admitted(service: Reporting, harness: Harness) -> None:
    async def ok() -> bool:
        answer = await api(service, harness, "GET", "/report-definitions")
        return answer.status_code == 200

    await wait_for(ok, timeout_s=180)


async def test_mailed_attachments_carry_the_apis_totals_once(
    topics: list[str],
    harness: Harness,
    capture: MailCapture,
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    group = unique("rd")
    await position_group_at_end(KAFKA, f"{kafka_config().group_prefix}-{group}-reporting", topics)
    pool = await make_pool(await create_database("reports-delivery"))
    clock = FakeClock(dt.datetime(2026, 12, 1, 9, tzinfo=UTC))
    delivered_from = await end_offsets(KAFKA, ReportDelivered.topic())
    async with running(harness, pool, capture, clock, group) as service:
        await publish(service, core_connection(harness.workspace), *entries(harness.workspace))
        await admitted(service, harness)
        query = "/reports/time?start=2026-11-16&end=2026-11-22&group_by=user"

        async def all_in() -> Any:
            body = (await api(service, harness, "GET", query)).json()
            return body if body["tables"]["time"]["totals"]["seconds"] == 10800 else None

        expected = (await wait_for(all_in, timeout_s=180))["tables"]["time"]["totals"]
        stranger = {"authorization": "Bearer ct-nobody"}
        assert (await api(service, harness, "GET", query, headers=stranger)).status_code == 401
        bad = await api(service, harness, "GET", "/reports/time?start=2026-11-30&end=2026-11-01")
        assert bad.status_code == 422
        assert (expected["billable_seconds"], expected["hours"]) == (9000, "3.00")

        definition = (
            await api(service, harness, "POST", "/report-definitions", json={
                "name": "Weekly time", "params": {"kind": "time", "group_by": "user"},
                "formats": ["csv", "xlsx", "pdf"], "recipients": ["finance@client.test"],
            })
        ).json()  # fmt: skip
        path = f"/report-definitions/{definition['definition_id']}/runs"
        body = {"start": "2026-11-16", "end": "2026-11-22"}
        key = {"idempotency-key": "press-1"}
        first = await api(service, harness, "POST", path, json=body, headers=key)
        again = await api(service, harness, "POST", path, json=body, headers=key)
        assert (first.status_code, again.json()["run_id"]) == (202, first.json()["run_id"])
        assert service.worker is not None
        await service.worker.step()
        await service.worker.step()

        [mail] = capture.messages
        assert mail.rcpt_tos == ("finance@client.test",)
        files = mail.attachments()
        assert sorted(files) == ["time-2026-11-16-2026-11-22.csv",
                                 "time-2026-11-16-2026-11-22.pdf",
                                 "time-2026-11-16-2026-11-22.xlsx"]  # fmt: skip
        header, *rows = csv_tables(files["time-2026-11-16-2026-11-22.csv"])["time"]
        assert dict(zip(header, rows[-1], strict=True))["seconds"] == str(expected["seconds"])
        header, *rows = xlsx_sheets(files["time-2026-11-16-2026-11-22.xlsx"])["time"]
        xlsx = dict(zip(header, rows[-1], strict=True))
        assert (int(xlsx["seconds"]), Decimal(xlsx["hours"])) == (10800, Decimal("3.00"))
        assert f"seconds={expected['seconds']}" in str(
            pdf_info(files["time-2026-11-16-2026-11-22.pdf"])["Subject"]
        )
        assert "Data up to: 2026-11-21T10:00:00+00:00" in mail.text()
        # The link is the recipients' portal in the console, not the admin API.
        assert f"Also in the portal: {CONSOLE}/portal?workspace={harness.workspace}" in mail.text()
        assert "/v1/" not in mail.text()

        [run] = (await api(service, harness, "GET", "/report-runs")).json()
        assert run["status"] == "done"
        assert [(d["recipient"], d["status"]) for d in run["deliveries"]] == [
            ("finance@client.test", "sent")
        ]
        download = await api(service, harness, "GET", f"/report-runs/{run['run_id']}/download/json")
        assert download.json()["tables"]["time"]["totals"] == expected

        records = await read_topic(KAFKA, delivered_from, until=lambda rs: any(
            harness.workspace.encode() in (r.value or b"") for r in rs))  # fmt: skip
        [event] = [json.loads(r.value) for r in records if harness.workspace.encode() in r.value]
        assert (event["recipient"], event["run_id"]) == ("finance@client.test", run["run_id"])


async def test_weekly_schedule_across_dst_fires_once_at_local_time_and_catches_up_once(
    topics: list[str],
    harness: Harness,
    capture: MailCapture,
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    group = unique("rs")
    await position_group_at_end(KAFKA, f"{kafka_config().group_prefix}-{group}-reporting", topics)
    pool = await make_pool(await create_database("reports-schedule"))
    clock = FakeClock(dt.datetime(2026, 10, 21, 12, tzinfo=UTC))  # a Wednesday, summer time
    async with running(harness, pool, capture, clock, group) as service:
        await publish(service, core_connection(harness.workspace))
        await admitted(service, harness)
        created = await api(service, harness, "POST", "/report-definitions", json={
            "name": "Monday utilization", "params": {"kind": "utilization"},
            "formats": ["csv"], "recipients": ["lead@acme.test"],
            "schedule": {"kind": "weekly", "weekday": "monday", "at": "07:00",
                         "timezone": "Europe/Berlin"},
        })  # fmt: skip
        # Monday 26 October is the day after the change: 07:00 CET is 06:00 UTC (not 05:00).
        assert created.json()["next_run_at"] == "2026-10-26T06:00:00Z"
        assert service.worker is not None
        # A second replica on the same database: both try every step.
        replica = service.worker.__class__(
            service.worker.queries, service.worker.runs, service.worker.work,
            SmtpMailer(SmtpConfig(port=capture.port)), service.worker.settings, clock=clock,
        )  # fmt: skip

        clock.set(dt.datetime(2026, 10, 26, 5, 59, tzinfo=UTC))
        await asyncio.gather(service.worker.step(), replica.step())
        assert (await api(service, harness, "GET", "/report-runs")).json() == []

        clock.set(dt.datetime(2026, 10, 26, 6, 0, tzinfo=UTC))
        for _ in range(3):
            await asyncio.gather(service.worker.step(), replica.step())
        [run] = (await api(service, harness, "GET", "/report-runs")).json()
        assert (run["period_start"], run["period_end"]) == ("2026-10-19", "2026-10-25")
        assert run["cause"] == "schedule:2026-10-26T06:00:00+00:00"
        assert [m.rcpt_tos for m in capture.messages] == [("lead@acme.test",)]

        # Down for three weeks: the latest missed Monday runs once, the others are not repeated.
        clock.set(dt.datetime(2026, 11, 16, 8, 0, tzinfo=UTC))
        for _ in range(2):
            await asyncio.gather(service.worker.step(), replica.step())
        runs = (await api(service, harness, "GET", "/report-runs")).json()
        assert [(r["period_start"], r["period_end"]) for r in runs] == [
            ("2026-11-09", "2026-11-15"),
            ("2026-10-19", "2026-10-25"),
        ]
        assert len(capture.messages) == 2
        [definition] = (await api(service, harness, "GET", "/report-definitions")).json()
        assert definition["next_run_at"] == "2026-11-23T06:00:00Z"


class StuckMailer:
    """Hangs on the first send, like a process stopped while the run was being delivered."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()

    async def send(self, message: EmailMessage) -> None:
        self.entered.set()
        await asyncio.sleep(3600)


async def test_a_restart_during_a_run_delivers_once(
    topics: list[str],
    harness: Harness,
    capture: MailCapture,
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    group = unique("rr")
    await position_group_at_end(KAFKA, f"{kafka_config().group_prefix}-{group}-reporting", topics)
    dsn = await create_database("reports-restart")
    clock = FakeClock(dt.datetime(2026, 12, 1, 9, tzinfo=UTC))
    stuck = StuckMailer()
    async with running(harness, await make_pool(dsn), capture, clock, group, mailer=stuck) as first:
        await publish(first, core_connection(harness.workspace), *entries(harness.workspace))
        await admitted(first, harness)
        definition = (await api(first, harness, "POST", "/report-definitions", json={
            "name": "Billing", "params": {"kind": "billing"}, "formats": ["xlsx"],
            "recipients": ["cfo@acme.test", "ap@client.test"],
        })).json()  # fmt: skip
        path = f"/report-definitions/{definition['definition_id']}/runs"
        assert (await api(first, harness, "POST", path)).status_code == 202
        assert first.worker is not None
        step = asyncio.create_task(first.worker.step())
        await asyncio.wait_for(stuck.entered.wait(), 20)
        step.cancel()  # the process goes down mid-delivery
        with contextlib.suppress(asyncio.CancelledError):
            await step
    async with running(harness, await make_pool(dsn), capture, clock, group) as second:
        assert second.worker is not None
        for _ in range(3):
            await second.worker.step()

        async def settled() -> list[dict[str, Any]] | None:
            # The service's own loop also steps at start; a delivery it is sending is skipped
            # by the steps above and committed only after the mail server took the message.
            [run] = (await api(second, harness, "GET", "/report-runs")).json()
            deliveries: list[dict[str, Any]] = run["deliveries"]
            return None if any(d["status"] == "pending" for d in deliveries) else deliveries

        deliveries = await wait_for(settled)
        assert sorted(m.rcpt_tos[0] for m in capture.messages) == [
            "ap@client.test",
            "cfo@acme.test",
        ]
        assert {(d["status"], d["attempts"]) for d in deliveries} == {("sent", 1)}
