"""HR time off end to end (issue 9: "time off subtracted once an HR source provides it").

On the leased six-service platform of the route tests (``api_platform``; this module is named
to run right after them, so the platform is not left running across other modules): an admin
connects the BambooHR sandbox through ingest's API like any integration (an HR source: no
direction, no webhook); a poll publishes ``TimeOffRecorded`` on the real Kafka, reporting keeps
it in its Postgres, and the utilization report's capacity for the person (matched by work email,
whatever its case, to the Core user whose entries carry it) drops by the approved hours; the
cancellation in BambooHR gives them back. The same request polled twice is one event id.
About 5 s on the running platform.
"""

import datetime as dt
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest

from timebridge_common.events import Envelope, TimeEntryFields, TimeEntryLogged, UserRef
from timebridge_common.events.time_off import TimeOffRecorded
from timebridge_common.kafka.publisher import EventPublisher
from timebridge_common.testing import end_offsets, read_topic, wait_for
from timebridge_ingest.bootstrap import Ingest
from timebridge_reporting.adapters.report_queries import PostgresReportQueries
from timebridge_reporting.domain.report_model import Period, Report, ReportParams
from timebridge_reporting.handlers.build import build_report

from .api_platform import Platform, shared_platform, with_new_tenants
from .conftest import KAFKA

__all__ = ["shared_platform"]  # the leased fixture, used by name

DAY_SECONDS = 8 * 3600


@pytest.fixture
async def platform(shared_platform: Platform) -> Platform:
    return await with_new_tenants(shared_platform)


def _weekday_ahead(days: int) -> dt.date:
    day = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=days)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


async def _copied(pool: asyncpg.Pool, connection_id: str) -> bool:
    found = await pool.fetchval(
        "SELECT count(*) FROM connections WHERE connection_id = $1", connection_id
    )
    return bool(found)


def _ann(report: Report) -> tuple[Any, ...]:
    (row,) = [r for r in report.table("utilization").rows if r[0] == "Ann"]
    return row


async def test_time_off_lowers_capacity_and_its_cancellation_restores_it(
    platform: Platform,
) -> None:
    ingest = platform.services["ingest"]
    assert isinstance(ingest, Ingest)
    assert ingest.poller is not None
    reporting_pool = platform.services["reporting"].runtime.pool
    assert reporting_pool is not None
    queries = PostgresReportQueries(reporting_pool)
    workspace, admin = platform.a.workspace, platform.a.admin
    email = f"ann@{workspace}.test"
    day = _weekday_ahead(7)
    period = Period(start=day, end=day)  # one working day: 8 hours of capacity

    # Ann's Core entry carries her email (BambooHR has it in capitals).
    entry = TimeEntryLogged(
        workspace_id=workspace, integration_id=None, source="core", external_id="te_off_1",
        entry=TimeEntryFields(
            user=UserRef(external_id="u_ann", email=email, name="Ann"),
            date=day, duration_seconds=2 * 3600, billable=True,
        ),
        updated_at=dt.datetime.now(dt.UTC), observed_via="poll",
    )  # fmt: skip
    publisher = EventPublisher(ingest.runtime.broker, ingest.runtime.tracer, "ingest")
    await publisher.publish(entry, Envelope.for_event(entry, producer="ingest"))

    async def report() -> Report:
        return await build_report(queries, workspace, ReportParams(kind="utilization"), period)

    async def ann_logged() -> bool:
        return any(r[0] == "Ann" for r in (await report()).table("utilization").rows)

    await wait_for(ann_logged)
    assert _ann(await report())[3] == DAY_SECONDS  # capacity before any time off
    assert "no HR source" in (await report()).notes[0]

    employee = platform.bamboohr.add_employee("Ann", "Admin", email.upper(), api_key=workspace)
    transport = httpx.ASGITransport(app=platform.apps["ingest"])
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as http:
        answer = await http.post(
            f"/v1/workspaces/{workspace}/integrations",
            json={
                "provider": "bamboohr", "api_key": workspace,
                "fields": {"company_domain": "acme"}, "settings": {"frequency": "hourly"},
            },
            headers={"authorization": f"Bearer {admin}"},
        )  # fmt: skip
    assert answer.status_code == 201, answer.text
    hr = answer.json()
    await wait_for(lambda: _copied(reporting_pool, hr["integration_id"]))
    reconciled = await build_report(queries, workspace, ReportParams(kind="reconciliation"), period)
    targets = {row[3] for row in reconciled.table("differences").rows}
    assert targets == set()  # an HR source is no sync target: Core's entry is not "not synced"
    vacation = platform.bamboohr.add_request(
        employee, day, day, 78, status="approved", dates={day: Decimal(6)}, by=employee
    )
    before = await end_offsets(KAFKA, TimeOffRecorded.topic())
    await ingest.poller.poll_one(hr["integration_id"])
    await ingest.poller.poll_one(hr["integration_id"])  # the same request again: one event

    async def ann_away(seconds: int) -> Report | None:
        found = await report()
        return found if _ann(found)[9] == seconds else None

    away = await wait_for(lambda: ann_away(6 * 3600))
    assert _ann(away)[3] == DAY_SECONDS - 6 * 3600
    assert _ann(away)[7] == Decimal("100.0")  # 2 h logged of the 2 h left
    assert "minus approved time off" in away.notes[0]

    platform.bamboohr.set_status(vacation.id, "canceled", employee)
    await ingest.poller.poll_one(hr["integration_id"])
    back = await wait_for(lambda: ann_away(0))
    assert _ann(back)[3] == DAY_SECONDS

    key = f"{workspace}:{hr['integration_id']}:{vacation.id}".encode()

    def ours(records: list[Any]) -> list[Any]:
        return [r for r in records if r.key == key]

    records = ours(await read_topic(KAFKA, before, until=lambda rs: len(ours(rs)) >= 3))
    ids = [dict(r.headers)["ce_id"] for r in records]
    assert len(ids) == 3  # approved, approved again, cancelled
    assert ids[0] == ids[1] != ids[2]
