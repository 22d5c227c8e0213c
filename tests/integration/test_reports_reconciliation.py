"""The reconciliation report over real Kafka and Postgres: seeded discrepancies of every kind the
issue lists are found and explained, in the API's JSON and in its CSV."""

import datetime as dt
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import asyncpg

from timebridge_common.events import Event, IntegrationSettings, TimeEntryLogged
from timebridge_common.events.tracker_reports import (
    TrackerSummaryLine,
    TrackerSummaryReported,
    TrackerSummaryRequested,
)
from timebridge_common.testing import (
    position_group_at_end,
    sample_connection_changed,
    sample_entry_synced,
    sample_invoice_exported,
    sample_invoice_status_changed,
    sample_time_entry_logged,
    wait_for,
)
from timebridge_reporting.mail_capture import MailCapture
from timebridge_reporting.testing import FakeClock, csv_tables

from .conftest import KAFKA, kafka_config, unique
from .test_reports_delivery import (
    Harness,
    admitted,
    api,
    capture,  # noqa: F401 - fixture
    core_connection,
    harness,  # noqa: F401 - fixture
    publish,
    running,
)

T0 = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC)


def entry(ws: str, source: str, eid: str, seconds: int = 3600, *, deleted: bool = False) -> Event:
    base = sample_time_entry_logged(workspace_id=ws, source=source, external_id=eid)
    fields = {"duration_seconds": seconds}
    integration = None if source == "core" else "int_1"
    return base.model_copy(
        update={"entry": base.entry.model_copy(update=fields), "deleted": deleted,
                "integration_id": integration}
    )  # fmt: skip


def outcome(ws: str, eid: str, status: str, reason: str | None, target_id: str | None) -> Event:
    return sample_entry_synced(
        workspace_id=ws, integration_id="int_1", source_external_id=eid, status=status,
        reason=reason, target_external_id=target_id,
    )  # fmt: skip


def seeded(ws: str) -> list[Event]:
    settings = IntegrationSettings(direction="core_to_tracker")
    invoice = sample_invoice_exported(workspace_id=ws, invoice_id="inv_1", entry_ids=("te_ok",))
    gone = sample_invoice_exported(workspace_id=ws, invoice_id="inv_2", entry_ids=())
    entries: list[TimeEntryLogged | Event] = [
        entry(ws, "core", "te_ok"), entry(ws, "everhour", "eh_ok"),
        entry(ws, "core", "te_unmapped"), entry(ws, "core", "te_conflict"),
        entry(ws, "core", "te_error"), entry(ws, "core", "te_new"),
        entry(ws, "core", "te_del", deleted=True), entry(ws, "everhour", "eh_del"),
        entry(ws, "core", "te_long", 7200), entry(ws, "everhour", "eh_long"),
        entry(ws, "everhour", "eh_direction"),
    ]  # fmt: skip
    return [
        sample_connection_changed(workspace_id=ws, connection_id="int_1", settings=settings),
        *entries,
        outcome(ws, "te_ok", "synced", None, "eh_ok"),
        outcome(ws, "te_unmapped", "queued", "no Everhour user is mapped to Core user u_9", None),
        outcome(ws, "te_conflict", "conflict", "changed in everhour and in the source", None),
        outcome(ws, "te_error", "error", "Everhour answered 503", None),
        outcome(ws, "te_del", "synced", None, "eh_del"),
        outcome(ws, "te_long", "synced", None, "eh_long"),
        invoice,
        gone,
        # The tracker's own report says 5 h for Ann; Timebridge holds 4 h of her tracker entries.
        TrackerSummaryReported(
            workspace_id=ws,
            integration_id="int_1",
            provider="everhour",
            period_start=dt.date(2026, 11, 1),
            period_end=dt.date(2026, 11, 30),
            lines=(TrackerSummaryLine(user_external_id="u_1", seconds=18000),),
            cause="manual",
            fetched_at=T0,
        ),
        sample_invoice_status_changed(
            workspace_id=ws, invoice_id="inv_1", total=Decimal("200.00"), amount_changed=True
        ),
        sample_invoice_status_changed(
            workspace_id=ws,
            invoice_id="inv_2",
            status="deleted",
            amount_changed=False,
            total=Decimal("180.00"),
        ),
    ]


async def test_reconciliation_finds_and_explains_every_kind(
    topics: list[str],
    harness: Harness,  # noqa: F811
    capture: MailCapture,  # noqa: F811
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    group = unique("rc")
    await position_group_at_end(KAFKA, f"{kafka_config().group_prefix}-{group}-reporting", topics)
    pool = await make_pool(await create_database("reports-reconciliation"))
    clock = FakeClock(T0)
    async with running(harness, pool, capture, clock, group) as service:
        await publish(service, core_connection(harness.workspace), *seeded(harness.workspace))
        await admitted(service, harness)
        query = "/reports/reconciliation?start=2026-11-01&end=2026-11-30"

        last: list[Any] = [None]

        async def complete() -> Any:
            body = last[0] = (await api(service, harness, "GET", query)).json()
            kinds = {r["kind"] for r in body["tables"]["differences"]["rows"]}
            done = len(body["tables"]["invoice_differences"]["rows"]) == 2 and len(kinds) == 7
            done = done and any(
                r["tracker_seconds"] for r in body["tables"]["tracker_summary"]["rows"]
            )
            return body if done else None

        try:
            body = await wait_for(complete, timeout_s=180)
        except AssertionError as timed_out:
            raise AssertionError(f"incomplete reconciliation: {last[0]}") from timed_out
        found = {(r["entry"], r["kind"]): r["why"] for r in body["tables"]["differences"]["rows"]}
        assert found == {
            ("te_unmapped", "unmapped_user"): "no Everhour user is mapped to Core user u_9",
            ("te_conflict", "conflict_open"): "changed in everhour and in the source",
            ("te_error", "error"): "Everhour answered 503",
            ("te_new", "not_yet_synced"): "no sync outcome yet",
            ("te_del", "deleted_on_one_side"): "deleted in core only (everhour eh_del)",
            ("te_long", "duration_differs"): "everhour eh_long has 3600 s",
            ("eh_direction", "skipped_by_direction"): (
                "the integration's direction is core_to_tracker"
            ),
        }
        invoices = {
            (r["invoice"], r["kind"]) for r in body["tables"]["invoice_differences"]["rows"]
        }
        assert invoices == {
            ("inv_1", "invoiced_amount_changed_in_tool"),
            ("inv_2", "deleted_on_one_side"),
        }
        [theirs] = body["tables"]["tracker_summary"]["rows"]
        assert theirs == {
            "integration": "int_1", "tracker": "everhour", "user": "u_1", "project": None,
            "tracker_seconds": 18000, "our_seconds": 14400, "difference_seconds": 3600,
            "why": "the tracker reports 3600 s more: entries not observed yet",
        }  # fmt: skip
        csv = await api(service, harness, "GET", query + "&format=csv")
        header, *rows = csv_tables(csv.content)["differences"]
        assert {(r[header.index("entry")], r[header.index("kind")]) for r in rows} == set(found)
        header, *rows = csv_tables(csv.content)["tracker_summary"]
        assert [r[header.index("difference_seconds")] for r in rows] == ["3600"]

        # A reconciliation run asks the trackers for fresh summaries, and waits for them a bit.
        made = await api(
            service,
            harness,
            "POST",
            "/report-definitions",
            json={
                "name": "Reconciliation",
                "params": {"kind": "reconciliation"},
                "formats": ["json"],
            },
        )
        assert made.status_code == 201, made.text
        run = await api(service, harness, "POST",
                        f"/report-definitions/{made.json()['definition_id']}/runs",
                        json={"start": "2026-11-01", "end": "2026-11-30"})  # fmt: skip
        assert run.status_code == 202, run.text
        run_id = run.json()["run_id"]
        row = await pool.fetchrow(
            "SELECT not_before - requested_at AS wait FROM report_runs WHERE run_id = $1", run_id
        )
        assert row is not None
        assert row["wait"] == dt.timedelta(seconds=30)
        staged = await pool.fetchval(
            "SELECT count(*) FROM outbox WHERE topic = $1 AND convert_from(value, 'UTF8') LIKE $2",
            TrackerSummaryRequested.topic(),
            f'%"report-run:{run_id}"%',
        )
        assert staged == 1

        # On the schedule too: a monthly reconciliation fired by the work loop asks the trackers
        # for the month it covers, once (a second step at the same moment fires nothing new).
        monthly = await api(service, harness, "POST", "/report-definitions", json={
            "name": "Monthly reconciliation", "params": {"kind": "reconciliation"},
            "formats": ["json"], "schedule": {"kind": "monthly", "at": "07:00"},
        })  # fmt: skip
        assert monthly.status_code == 201, monthly.text
        assert monthly.json()["next_run_at"] == "2026-12-01T07:00:00Z"
        assert service.worker is not None
        clock.set(dt.datetime(2026, 12, 1, 7, 0, tzinfo=dt.UTC))
        assert await service.worker.fire_schedules() == 1
        assert await service.worker.fire_schedules() == 0
        [scheduled] = await pool.fetch(
            "SELECT run_id, period_start, period_end FROM report_runs WHERE definition_id = $1",
            monthly.json()["definition_id"],
        )
        assert (scheduled["period_start"], scheduled["period_end"]) == (
            dt.date(2026, 11, 1),
            dt.date(2026, 11, 30),
        )
        [asked] = await pool.fetch(
            "SELECT convert_from(value, 'UTF8') AS body FROM outbox WHERE topic = $1"
            " AND convert_from(value, 'UTF8') LIKE $2",
            TrackerSummaryRequested.topic(),
            f'%"report-run:{scheduled["run_id"]}"%',
        )
        request = TrackerSummaryRequested.model_validate(json.loads(asked["body"]))
        assert (request.period_start, request.period_end, request.integration_id) == (
            dt.date(2026, 11, 1),
            dt.date(2026, 11, 30),
            None,
        )
