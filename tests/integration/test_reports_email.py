"""Reports requested by email, through the reporting service's SMTP endpoint on real Postgres:
a known recipient asking in a sentence or by a definition's name gets the report by mail (once,
even if the message arrives twice); a known sender with an unclear request gets a polite
refusal; an unknown sender gets nothing. A client's contact gets only that client's data: another
client (or a project of it), a workspace-wide report or definition is refused, and a request
naming no client is limited to theirs."""

import datetime as dt
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from email.message import EmailMessage

import aiosmtplib
import asyncpg
import httpx

from timebridge_common.events import ClientChanged, Event
from timebridge_common.testing import (
    in_memory_tracing,
    position_group_at_end,
    sample_client_changed,
    sample_invoice_exported,
    wait_for,
)
from timebridge_reporting.bootstrap import Reporting, bootstrap
from timebridge_reporting.config import Settings
from timebridge_reporting.mail_capture import MailCapture
from timebridge_reporting.reports_config import ReportsConfig, SmtpConfig
from timebridge_reporting.testing import FakeClock, csv_tables

from .conftest import KAFKA, kafka_config, unique
from .test_reports_delivery import (
    Harness,
    admitted,
    api,
    capture,  # noqa: F401 - fixture
    core_connection,
    entries,
    harness,  # noqa: F401 - fixture
    publish,
)

UTC = dt.UTC
DOMAIN = "reports.test"
ALL: list[str] = []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def service_with_inbound(
    setup: Harness, pool: asyncpg.Pool, mail: MailCapture, clock: FakeClock, port: int
) -> AsyncIterator[Reporting]:
    group = unique("re")
    await position_group_at_end(KAFKA, f"{kafka_config().group_prefix}-{group}-reporting", ALL)
    kafka = kafka_config().model_copy(
        update={"group_prefix": f"{kafka_config().group_prefix}-{group}"}
    )
    settings = Settings(
        kafka=kafka,
        smtp=SmtpConfig(port=mail.port),
        reports=ReportsConfig(poll_interval_s=3600, inbound_port=port, request_domain=DOMAIN),
    )
    service = bootstrap(
        settings, pool=pool, tracer_provider=in_memory_tracing("reporting")[0],
        core=setup.core_client, clock=clock,
    )  # fmt: skip
    await service.runtime.start()
    try:
        yield service
    finally:
        await service.runtime.stop()


async def ask(to: tuple[int, str], sender: str, subject: str, body: str, msg_id: str) -> None:
    port, workspace = to
    message = EmailMessage()
    message["From"] = f"Somebody <{sender}>"
    message["To"] = f"{workspace}@{DOMAIN}"
    message["Subject"] = subject
    message["Message-ID"] = msg_id
    message.set_content(body)
    await aiosmtplib.send(message, hostname="127.0.0.1", port=port, timeout=10)


async def test_known_senders_get_reports_or_a_refusal_and_strangers_get_nothing(
    topics: list[str],
    harness: Harness,  # noqa: F811
    capture: MailCapture,  # noqa: F811
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    ws, port = harness.workspace, free_port()
    to = (port, ws)
    ALL[:] = topics
    pool = await make_pool(await create_database("reports-email"))
    clock = FakeClock(dt.datetime(2026, 11, 24, 9, tzinfo=UTC))  # Tuesday after the week
    async with service_with_inbound(harness, pool, capture, clock, port) as service:
        client: ClientChanged = sample_client_changed(
            workspace_id=ws, client_id="cl_9", display_name="Globex Corporation"
        )
        invoice = sample_invoice_exported(workspace_id=ws, client_id="cl_9", entry_ids=())
        lines = tuple(ln.model_copy(update={"project_id": "p_1"}) for ln in invoice.lines)
        other: ClientChanged = sample_client_changed(
            workspace_id=ws, client_id="cl_7", display_name="Initrode"
        )
        events: list[Event] = [
            core_connection(ws),
            client,
            other,
            invoice.model_copy(update={"lines": lines}),
        ]
        await publish(service, *events, *entries(ws))
        await admitted(service, harness)
        created = await api(service, harness, "POST", "/report-definitions", json={
            "name": "Weekly time", "params": {"kind": "time"}, "formats": ["csv"],
            "recipients": ["pm@client.test"],
        })  # fmt: skip
        assert created.status_code == 201
        created = await api(service, harness, "POST", "/report-definitions", json={
            "name": "Initrode time", "params": {"kind": "time", "clients": ["cl_7"]},
            "formats": ["csv"], "recipients": ["pm@initrode.test"],
        })  # fmt: skip
        assert created.status_code == 201

        async def all_in() -> object:
            answer = await api(
                service, harness, "GET", "/reports/time?start=2026-11-16&end=2026-11-22&client=cl_9"
            )
            return answer.json()["tables"]["time"]["totals"]["seconds"] == 10800

        await wait_for(all_in, timeout_s=180)

        sentence = "Hello, please send the time report for last week for Globex Corporation."
        await ask(to, "PM@client.test", "Report please", sentence, "<m1@client.test>")
        await ask(to, "pm@client.test", "Report please", sentence, "<m1@client.test>")  # again
        await ask(to, "pm@client.test", "Weekly time", "", "<m2@client.test>")
        await ask(to, "pm@client.test", "Hi", "What is the weather like?", "<m3@client.test>")
        await ask(to, "mallory@evil.test", "time report for last week", "", "<m4@evil.test>")
        await ask(
            to,
            "pm@client.test",
            "time report for last week for Initech",
            "",
            "<m5@client.test>",
        )

        # Initrode's contact asks for Globex's data, one of Globex's projects, a report that
        # covers every client, the workspace-wide definition, and last week without a client.
        initrode = "pm@initrode.test"
        await ask(to, initrode, "time report for last week for Globex Corporation", "", "<i1@x>")
        await ask(to, initrode, "billing report for last week for p_1", "", "<i2@x>")
        await ask(to, initrode, "reconciliation report for last week", "", "<i3@x>")
        await ask(to, initrode, "Weekly time", "", "<i4@x>")
        await ask(to, initrode, "time report for last week", "", "<i5@x>")

        assert service.worker is not None
        await service.worker.step()
        await service.worker.step()
        theirs = [m for m in capture.messages if m.rcpt_tos == (initrode,)]
        [limited] = [m for m in theirs if m.attachments()]
        assert limited.message["Subject"].startswith("Timebridge time report")
        header, *rows = csv_tables(limited.attachments()["time-2026-11-16-2026-11-22.csv"])["time"]
        assert dict(zip(header, rows[-1], strict=True))["seconds"] == "0"  # none of Globex's
        refused = [m for m in theirs if not m.attachments()]
        assert sorted(m.message["In-Reply-To"] for m in refused) == [
            "<i1@x>",
            "<i2@x>",
            "<i3@x>",
            "<i4@x>",
        ]
        for refusal in refused:
            assert '"Initrode time"' in refusal.text()
            assert "Weekly time" not in refusal.text()  # not theirs to know
            assert "10800" not in refusal.text()
        texts = [r.text() for r in refused]
        assert any("no client or project called 'Globex Corporation'" in t for t in texts)
        assert any("no client or project called 'p_1'" in t for t in texts)
        assert any("reconciliation report covers other clients" in t for t in texts)

        mails = [m for m in capture.messages if m.rcpt_tos != (initrode,)]
        assert all(m.rcpt_tos == ("pm@client.test",) for m in mails)
        reports = [m for m in mails if m.attachments()]
        refusals = [m for m in mails if not m.attachments()]
        assert len(reports) == 2  # the sentence (once, though sent twice) and the name
        for report in reports:
            body = report.attachments()["time-2026-11-16-2026-11-22.csv"]
            header, *rows = csv_tables(body)["time"]
            assert dict(zip(header, rows[-1], strict=True))["seconds"] == "10800"
        assert len(refusals) == 2
        assert all(
            r.message["In-Reply-To"] in {"<m3@client.test>", "<m5@client.test>"} for r in refusals
        )
        assert any("no client or project called 'Initech'" in r.text() for r in refusals)
        assert all(
            "time report for last week for <client or project>" in r.text() for r in refusals
        )

        outcomes = (await api(service, harness, "GET", "/report-requests")).json()
        assert sorted((o["message_id"], o["outcome"]) for o in outcomes) == [
            ("<i1@x>", "refused"),
            ("<i2@x>", "refused"),
            ("<i3@x>", "refused"),
            ("<i4@x>", "refused"),
            ("<i5@x>", "run"),
            ("<m1@client.test>", "run"),
            ("<m2@client.test>", "run"),
            ("<m3@client.test>", "refused"),
            ("<m4@evil.test>", "ignored_unknown_sender"),
            ("<m5@client.test>", "refused"),
        ]
        # Mail to an address that is not a request address is refused at the door.
        wrong = EmailMessage()
        wrong["From"], wrong["To"], wrong["Subject"] = "pm@client.test", "x@elsewhere.test", "x"
        wrong.set_content("x")
        try:
            await aiosmtplib.send(wrong, hostname="127.0.0.1", port=port, timeout=10)
            refused_at_rcpt = False
        except aiosmtplib.SMTPRecipientsRefused:
            refused_at_rcpt = True
        assert refused_at_rcpt
        _ = httpx
