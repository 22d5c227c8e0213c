"""Delivery failures: retried with backoff while the mail server is down, visible in the API and
in the reports' health, delivered once when it is back, given up after the configured attempts;
a permanent refusal (5xx) is not retried."""

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest

from timebridge_common.testing import in_memory_tracing, position_group_at_end
from timebridge_reporting.adapters.mail import PermanentMailError, SmtpMailer
from timebridge_reporting.bootstrap import Reporting, bootstrap
from timebridge_reporting.config import Settings
from timebridge_reporting.mail_capture import MailCapture
from timebridge_reporting.reports_config import ReportsConfig, SmtpConfig
from timebridge_reporting.testing import FakeClock

from .conftest import KAFKA, kafka_config, unique
from .test_reports_delivery import (
    Harness,
    admitted,
    api,
    core_connection,
    harness,  # noqa: F401 - fixture
    publish,
)

UTC = dt.UTC
T0 = dt.datetime(2026, 12, 1, 9, tzinfo=UTC)


class SwitchableMailer:
    """The real SMTP client towards the capture server, or a server that is down/refusing."""

    def __init__(self, capture: MailCapture) -> None:
        self.smtp = SmtpMailer(SmtpConfig(port=capture.port, timeout_s=2))
        self.down = SmtpMailer(SmtpConfig(port=1, timeout_s=2))  # nothing listens on port 1
        self.mode = "down"

    async def send(self, message: Any) -> None:
        if self.mode == "refusing":
            raise PermanentMailError("550 5.1.1 mailbox unavailable")
        await (self.smtp if self.mode == "up" else self.down).send(message)


@asynccontextmanager
async def service(
    setup: Harness,
    pool: asyncpg.Pool,
    mailer: SwitchableMailer,
    clock: FakeClock,
    topics: list[str],
) -> AsyncIterator[Reporting]:
    group = unique("rx")
    await position_group_at_end(KAFKA, f"{kafka_config().group_prefix}-{group}-reporting", topics)
    kafka = kafka_config().model_copy(
        update={"group_prefix": f"{kafka_config().group_prefix}-{group}"}
    )
    settings = Settings(
        kafka=kafka, reports=ReportsConfig(poll_interval_s=3600, max_attempts=3, backoff_s=60)
    )
    running = bootstrap(
        settings, pool=pool, tracer_provider=in_memory_tracing("reporting")[0],
        core=setup.core_client, mailer=mailer, clock=clock,
    )  # fmt: skip
    await running.runtime.start()
    try:
        yield running
    finally:
        await running.runtime.stop()


@pytest.fixture
def capture() -> Any:
    mail = MailCapture().start()
    yield mail
    mail.stop()


async def test_deliveries_retry_with_backoff_show_failures_and_send_once(
    topics: list[str],
    harness: Harness,  # noqa: F811
    capture: MailCapture,
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    pool = await make_pool(await create_database("reports-retries"))
    clock, mailer = FakeClock(T0), SwitchableMailer(capture)
    async with service(harness, pool, mailer, clock, topics) as reporting:
        await publish(reporting, core_connection(harness.workspace))
        await admitted(reporting, harness)
        ids = {}
        for name, recipients in (("Retried", ["a@acme.test"]), ("Refused", ["gone@acme.test"])):
            created = await api(reporting, harness, "POST", "/report-definitions", json={
                "name": name, "params": {"kind": "time"}, "formats": ["csv"],
                "recipients": recipients,
            })  # fmt: skip
            ids[name] = created.json()["definition_id"]
        worker = reporting.worker
        assert worker is not None

        async def deliveries(name: str) -> list[dict[str, Any]]:
            runs = (
                await api(reporting, harness, "GET", f"/report-runs?definition_id={ids[name]}")
            ).json()
            return [d for r in runs for d in r["deliveries"]]

        await api(reporting, harness, "POST", f"/report-definitions/{ids['Retried']}/runs")
        await worker.step()
        [pending] = await deliveries("Retried")
        assert (pending["status"], pending["attempts"]) == ("pending", 1)
        assert pending["last_error"]
        health = (await api(reporting, harness, "GET", "/reports-health")).json()
        assert health == {"failed_runs": 0, "failed_deliveries": 0, "retrying_deliveries": 1}

        await worker.step()  # not due yet: backoff 60 s
        assert (await deliveries("Retried"))[0]["attempts"] == 1
        clock.set(T0 + dt.timedelta(seconds=61))
        await worker.step()
        assert (await deliveries("Retried"))[0]["attempts"] == 2
        mailer.mode = "up"
        clock.set(T0 + dt.timedelta(seconds=61 + 121))
        await worker.step()
        await worker.step()
        [sent] = await deliveries("Retried")
        assert (sent["status"], sent["attempts"], sent["last_error"]) == ("sent", 3, None)
        assert [m.rcpt_tos for m in capture.messages] == [("a@acme.test",)]

        mailer.mode = "refusing"
        await api(reporting, harness, "POST", f"/report-definitions/{ids['Refused']}/runs")
        await worker.step()
        [refused] = await deliveries("Refused")
        assert (refused["status"], refused["attempts"]) == ("failed", 1)
        assert "550" in refused["last_error"]
        health = (await api(reporting, harness, "GET", "/reports-health")).json()
        assert health == {"failed_runs": 0, "failed_deliveries": 1, "retrying_deliveries": 0}
        assert len(capture.messages) == 1

        # A definition deleted while its delivery waits for a retry: nothing more is sent.
        mailer.mode = "down"
        await api(reporting, harness, "POST", f"/report-definitions/{ids['Retried']}/runs")
        await worker.step()
        deleted = await api(reporting, harness, "DELETE", f"/report-definitions/{ids['Retried']}")
        assert deleted.status_code == 204
        mailer.mode = "up"
        clock.set(T0 + dt.timedelta(hours=2))
        await worker.step()
        assert {d["status"] for d in await deliveries("Retried")} == {"sent", "cancelled"}
        assert len(capture.messages) == 1
