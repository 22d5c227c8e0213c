"""Each trigger produces one report: invoices exported, sent and paid, milestones, budget
thresholds (once per crossing, re-armed by a new budget revision) and contracts, through Kafka,
whatever is repeated or redelivered."""

import datetime as dt
from collections.abc import Awaitable, Callable
from decimal import Decimal

import asyncpg

from timebridge_common.events import Envelope, Event
from timebridge_common.events.budgets import BudgetChanged, BudgetItem
from timebridge_common.events.codec import encode
from timebridge_common.events.contracts import (
    BudgetThresholdCrossed,
    ContractSigned,
    MilestoneReached,
)
from timebridge_common.testing import (
    position_group_at_end,
    sample_invoice_exported,
    sample_invoice_status_changed,
    wait_for,
)
from timebridge_reporting.mail_capture import MailCapture
from timebridge_reporting.testing import FakeClock

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

UTC = dt.UTC
T0 = dt.datetime(2026, 12, 1, 9, tzinfo=UTC)


def triggering_events(ws: str) -> list[Event]:
    crossed = {"workspace_id": ws, "project_id": "p_1", "spent_hours": Decimal("40"),
               "crossed_at": T0}  # fmt: skip
    return [
        sample_invoice_exported(workspace_id=ws, invoice_id="inv_9"),
        sample_invoice_status_changed(workspace_id=ws, invoice_id="inv_9", status="submitted"),
        sample_invoice_status_changed(workspace_id=ws, invoice_id="inv_9", status="sent"),
        # the same status again (the number changed in the tool): not a second "sent"
        sample_invoice_status_changed(
            workspace_id=ws,
            invoice_id="inv_9",
            status="sent",
            number="INV-0002",
            changed_at=T0 + dt.timedelta(hours=1),
        ),
        sample_invoice_status_changed(
            workspace_id=ws, invoice_id="inv_9", status="paid", changed_at=T0 + dt.timedelta(2)
        ),
        MilestoneReached(workspace_id=ws, project_id="p_1", milestone_id="m_1", reached_at=T0),
        BudgetThresholdCrossed(**crossed, threshold_percent=80, budget_revision=1),
        BudgetThresholdCrossed(**crossed, threshold_percent=80, budget_revision=1),
        BudgetThresholdCrossed(**crossed, threshold_percent=80, budget_revision=2),
        # named budgets: each budget, month and n-th crossing is its own run; the same crossing
        # announced again (another event id) is not
        *[
            BudgetThresholdCrossed(
                **crossed,
                threshold_percent=80,
                budget_revision=1,
                budget_id=budget,
                period=period,
                crossing=crossing,
            )
            for budget, period, crossing in (
                ("b_1", "total", 1),
                ("b_1", "total", 1),
                ("b_2", "total", 1),
                ("b_1", "2026-11", 1),
                ("b_1", "2026-12", 1),
                ("b_1", "2026-12", 2),
            )
        ],
        ContractSigned(workspace_id=ws, contract_id="c_1", signed_at=T0),
    ]


async def test_each_trigger_produces_one_report(
    topics: list[str],
    harness: Harness,  # noqa: F811
    capture: MailCapture,  # noqa: F811
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    group = unique("rt")
    await position_group_at_end(KAFKA, f"{kafka_config().group_prefix}-{group}-reporting", topics)
    pool = await make_pool(await create_database("reports-triggers"))
    clock = FakeClock(T0)
    async with running(harness, pool, capture, clock, group) as service:
        await publish(service, core_connection(harness.workspace))
        await admitted(service, harness)
        triggers = ["invoice_exported", "invoice_sent", "invoice_paid", "milestone_reached",
                    "budget_threshold_crossed", "contract_signed"]  # fmt: skip
        for name, listens in (("On events", triggers), ("Quiet", [])):
            created = await api(service, harness, "POST", "/report-definitions", json={
                "name": name, "params": {"kind": "billing"}, "formats": ["csv"],
                "recipients": ["finance@acme.test"], "triggers": listens,
            })  # fmt: skip
            assert created.status_code == 201
        events = triggering_events(harness.workspace)
        await publish(service, *events)
        redelivered = events[2]  # the same record again (same event id): nothing new
        encoded = encode(redelivered, Envelope.for_event(redelivered, producer="test"))
        await service.runtime.broker.publish(
            encoded.value, encoded.topic, key=encoded.key, headers=encoded.headers
        )

        async def all_runs() -> list[dict[str, str]] | None:
            runs = (await api(service, harness, "GET", "/report-runs")).json()
            return runs if len(runs) >= 12 else None

        runs = await wait_for(all_runs, timeout_s=180)
        assert service.worker is not None
        await service.worker.step()
        await service.worker.step()
        runs = (await api(service, harness, "GET", "/report-runs")).json()
        keys = sorted(r["run_key"] for r in runs)
        assert keys == [
            "trigger:budget:b_1:r1:2026-11:80",
            "trigger:budget:b_1:r1:2026-12:80",
            "trigger:budget:b_1:r1:2026-12:80:c2",
            "trigger:budget:b_1:r1:80",
            "trigger:budget:b_2:r1:80",
            "trigger:budget:p_1:r1:80",
            "trigger:budget:p_1:r2:80",
            "trigger:contract:c_1",
            "trigger:invoice:inv_9:exported",
            "trigger:invoice:inv_9:paid",
            "trigger:invoice:inv_9:sent",
            "trigger:milestone:p_1:m_1",
        ]
        invoice_runs = [r for r in runs if r["run_key"].startswith("trigger:invoice")]
        assert {(r["period_start"], r["period_end"]) for r in invoice_runs} == {
            ("2026-11-01", "2026-11-30")
        }
        assert {len(r["deliveries"]) for r in runs} == {1}
        assert len(capture.messages) == 12

        # Budgets as contracts announce them reach the performance report (the latest revision;
        # an older one arriving late is ignored: tests/integration/test_reports_queries.py)
        terms = {"workspace_id": harness.workspace, "budget_id": "b_p", "target_kind": "project",
                 "target_id": "p_7", "items": (BudgetItem(project_id="p_7"),), "unit": "hours",
                 "period": "total", "changed_at": T0}  # fmt: skip
        await publish(
            service,
            BudgetChanged(**terms, revision=1, amount=Decimal(99)),
            BudgetChanged(**terms, revision=2, amount=Decimal(8)),
        )
        query = "/reports/performance?start=2026-12-01&end=2026-12-31"

        async def budgeted() -> list[dict[str, object]] | None:
            body = (await api(service, harness, "GET", query)).json()
            rows: list[dict[str, object]] = body["tables"]["performance"]["rows"]
            return rows if [r["budget_amount"] for r in rows] == ["8"] else None

        [row] = await wait_for(budgeted, timeout_s=60)
        assert (row["project"], row["budget"], row["budget_amount"]) == ("p_7", "b_p", "8")
        assert (row["consumption_pct"], row["forecast_to_completion"]) == ("0.0", None)
