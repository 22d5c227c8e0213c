"""Contracts on real Kafka and PostgreSQL: signing publishes one ContractSigned; time logged
against a scope crosses 80 % once (a redelivered entry does not cross again, an edit lowering
the hours re-arms it); a milestone is reached once; the audit trail's hash chain verifies, its
table refuses UPDATE/DELETE, and a record tampered with by hand (trigger disabled by the
table's owner) is reported by the verify API and the CLI at exactly that record. A contract signed
in the Core sandbox reaches contracts through ingest's webhook path (contracts_core.py)."""

import asyncio
import contextlib
import csv
import datetime as dt
import io
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from timebridge_providers.core.client import CoreClient

from timebridge_common.events import (
    ConnectionChanged,
    Envelope,
    Event,
    InvoiceLine,
    RoundingVersion,
    TimeEntryLogged,
)
from timebridge_common.events.codec import encode
from timebridge_common.events.contracts import (
    BudgetThresholdCrossed,
    ContractObserved,
    ContractSigned,
    MilestoneObserved,
    MilestoneReached,
)
from timebridge_common.events.payments import PaymentRecorded
from timebridge_common.testing import (
    end_offsets,
    in_memory_tracing,
    position_group_at_end,
    read_topic,
    sample_entry_synced,
    sample_invoice_exported,
    sample_invoice_status_changed,
    sample_time_entry_logged,
    wait_for,
)
from timebridge_contracts.bootstrap import ContractsService, bootstrap
from timebridge_contracts.config import Settings
from timebridge_contracts.domain.audit import chain_hash
from timebridge_sandboxes.core import CoreState

from .conftest import KAFKA, kafka_config, unique
from .contracts_core import CoreSide, core_through_ingest

T0 = dt.datetime(2026, 11, 21, 10, tzinfo=dt.UTC)
PUBLISHED = (ContractSigned, BudgetThresholdCrossed, MilestoneReached)


class Harness:
    def __init__(
        self, service: ContractsService, workspace: str, admin: str, core: CoreSide
    ) -> None:
        self.service, self.workspace, self.admin, self.core = service, workspace, admin, core

    async def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        transport = httpx.ASGITransport(app=self.service.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://contracts") as http:
            headers = {"authorization": f"Bearer {self.admin}"} | kw.pop("headers", {})
            url = f"/v1/workspaces/{self.workspace}{path}"
            return await http.request(method, url, headers=headers, **kw)

    async def ok(self, method: str, path: str, **kw: Any) -> Any:
        answer = await self.api(method, path, **kw)
        assert answer.status_code < 300, answer.text
        return answer.json()

    async def publish(self, *events: Event, envelope: Envelope | None = None) -> Envelope:
        last = envelope
        for event in events:
            last = envelope or Envelope.for_event(event, producer="test", occurred_at=T0)
            encoded = encode(event, last)
            await self.service.runtime.broker.publish(
                encoded.value, encoded.topic, key=encoded.key, headers=encoded.headers
            )
        assert last is not None
        return last


@contextlib.asynccontextmanager
async def running(pool: asyncpg.Pool, group: str) -> AsyncIterator[Harness]:
    workspace, admin = unique("ws"), unique("ct-admin")
    core = CoreState()
    core.add_user(workspace, "Ann", role="admin", token=admin)
    async with (
        core_through_ingest(core, workspace) as core_side,
        _running(pool, group, admin, core_side) as harness,
    ):
        yield harness


@contextlib.asynccontextmanager
async def _running(
    pool: asyncpg.Pool, group: str, admin: str, core_side: CoreSide
) -> AsyncIterator[Harness]:
    workspace = core_side.workspace

    def core_client(base_url: str, token: str) -> CoreClient:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=core_side.app))
        return CoreClient(base_url, token, http=http)

    kafka = kafka_config().model_copy(
        update={"group_prefix": f"{kafka_config().group_prefix}-{group}"}
    )
    service = bootstrap(
        Settings(kafka=kafka),
        pool=pool,
        tracer_provider=in_memory_tracing("contracts")[0],
        core=core_client,
    )
    await service.runtime.start()
    try:
        harness = Harness(service, workspace, admin, core_side)
        await harness.publish(
            ConnectionChanged(
                workspace_id=workspace, connection_id=f"core_{workspace}", provider="core",
                status="connected", base_url="http://core.sandbox",
                revision=1, changed_at=T0,
            )
        )  # fmt: skip

        async def admitted() -> bool:
            return (await harness.api("GET", "/contracts")).status_code == 200

        await wait_for(admitted, timeout_s=60)
        await settled(f"{kafka.group_prefix}-contracts", len(service.runtime.consumers))
        yield harness
    finally:
        await service.runtime.stop()


async def settled(group: str, members: int) -> None:
    """Wait until every subscription joined the group and it is stable: the timed steps below
    then do not run into the start-up rebalances (each joining consumer triggers one)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:

        async def stable() -> bool:
            [answer] = await admin.describe_consumer_groups([group])
            [state] = answer.to_object()["groups"]
            return bool(state["state"] == "Stable" and len(state["members"]) == members)

        await wait_for(stable, timeout_s=60)
    finally:
        await admin.close()


def entry(workspace: str, entry_id: str, seconds: int, version: int = 1) -> TimeEntryLogged:
    base = sample_time_entry_logged(workspace_id=workspace, external_id=entry_id)
    fields = {"duration_seconds": seconds, "project_external_id": "p_1"}
    return base.model_copy(
        update={
            "entry": base.entry.model_copy(update=fields),
            "updated_at": base.updated_at + dt.timedelta(minutes=version),
        }
    )


class Published:
    """What the service published for this workspace, read back from Kafka."""

    def __init__(self, workspace: str, start: dict[TopicPartition, int]) -> None:
        self.workspace, self.start = workspace, start

    @classmethod
    async def from_now(cls, workspace: str) -> "Published":
        start: dict[TopicPartition, int] = {}
        for model in PUBLISHED:
            start |= await end_offsets(KAFKA, model.topic())
        return cls(workspace, start)

    async def read(self, want: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []

        def mine(records: list[Any]) -> bool:
            found[:] = [
                json.loads(r.value) | {"topic": r.topic}
                for r in records
                if json.loads(r.value).get("workspace_id") == self.workspace
            ]
            return want(found)

        await read_topic(KAFKA, self.start, until=mine, timeout_s=90)
        return found


def core_contract(workspace: str, status: str, version: int) -> ContractObserved:
    return ContractObserved(
        workspace_id=workspace,
        source="core",
        external_id="ct_7",
        title="Support 2027",
        client_name="Globex",
        status=status,
        signed_at=dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC) if status != "draft" else None,
        start_date=dt.date(2027, 1, 1),
        currency="EUR",
        project_ids=("p_9",),
        updated_at=T0 + dt.timedelta(minutes=version),
        source_version=version,
        observed_via="webhook",
    )


def core_milestone(workspace: str, reached_at: dt.datetime | None) -> MilestoneObserved:
    return MilestoneObserved(
        workspace_id=workspace,
        source="core",
        external_id="ms_7",
        project_id="p_9",
        title="Go-live",
        reached_at=reached_at,
        updated_at=T0,
        source_version=2,
        observed_via="webhook",
    )


def of(records: list[dict[str, Any]], model: type[Event]) -> list[dict[str, Any]]:
    return [r for r in records if r["topic"] == model.topic()]


async def test_contract_budget_milestone_and_audit_on_kafka_and_postgres(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    group = unique("ct")
    await position_group_at_end(KAFKA, f"{kafka_config().group_prefix}-{group}-contracts", topics)
    dsn = await create_database("contracts")
    pool = await make_pool(dsn)
    async with running(pool, group) as h:
        ws = h.workspace
        published = await Published.from_now(ws)
        stranger = await h.api("GET", "/contracts", headers={"authorization": "Bearer nobody"})
        assert stranger.status_code == 401
        assert stranger.json()["detail"]

        contract = await h.ok("POST", "/contracts", json={
            "title": "Website rebuild", "client_name": "Website Client", "currency": "USD",
            "start_date": "2026-11-01", "rate_card": [{"hourly_rate": "120", "project_id": "p_1"}],
            "rounding_policy": "15-min-per-entry",
        })  # fmt: skip
        cid = contract["contract_id"]
        scope = await h.ok("POST", f"/contracts/{cid}/scopes",
                           json={"name": "Phase 1", "items": [{"project_id": "p_1"}]})  # fmt: skip
        budget = {"target_kind": "scope", "target_id": scope["scope_id"], "unit": "hours",
                  "amount": "10"}  # fmt: skip
        assert (await h.ok("PUT", "/budgets/b_1", json=budget))["revision"] == 1
        for _ in range(2):  # signing twice publishes once
            signed = await h.ok("POST", f"/contracts/{cid}/status", json={"status": "signed"})
            assert signed["status"] == "signed"
        refused = {
            ("GET", "/contracts/nope", None): 404,
            (
                "POST",
                "/contracts",
                (("title", "x"), ("client_id", "cl_unknown"), ("currency", "USD")),
            ): 422,
            ("POST", "/contracts", (("title", "x"), ("currency", "usd"))): 422,
            (
                "PUT",
                "/budgets/b_2",
                (
                    ("target_kind", "scope"),
                    ("target_id", "nope"),
                    ("unit", "hours"),
                    ("amount", "1"),
                ),
            ): 422,
            ("POST", "/projects/p_1/milestones/nope/reached", ()): 404,
            ("POST", f"/contracts/{cid}/status", (("status", "draft"),)): 422,
        }
        for (method, path, body), expected in refused.items():
            answer = await h.api(method, path, json=None if body is None else dict(body))
            assert (answer.status_code, path) == (expected, path), answer.text
            assert isinstance(answer.json()["detail"], str)
        frozen = await h.api("PUT", f"/contracts/{cid}", json={
            "title": "x", "client_name": "y", "currency": "EUR"})  # fmt: skip
        assert frozen.status_code == 409

        # time against the scope: 4 h + 4.5 h = 85 % crosses 50 and 80
        await h.publish(entry(ws, "te_1", 4 * 3600))
        same = entry(ws, "te_2", 4 * 3600 + 1800)
        original = await h.publish(same)
        try:
            await published.read(lambda r: len(of(r, BudgetThresholdCrossed)) >= 2)
        except TimeoutError:
            kinds = [r["kind"] for r in await h.ok("GET", "/audit")]
            outbox = await pool.fetch("SELECT topic, published_at FROM outbox ORDER BY id")
            seen = await pool.fetchrow(
                "SELECT count(*) AS records, count(DISTINCT workspace_id) AS workspaces,"
                " min(recorded_at) AS first, max(recorded_at) AS last FROM audit_log"
            )
            raise AssertionError(
                f"no crossings on Kafka; audit: {kinds}; outbox: {outbox}; all audit: {seen}"
            ) from None

        # te_2 redelivered twice (the same record) and seen again (a new record, same version)
        await h.publish(same, envelope=original)
        await h.publish(same, envelope=original)
        await h.publish(same)

        async def te_2_seen_twice() -> bool:
            records: list[dict[str, Any]] = await h.ok("GET", "/audit", params={"entry_id": "te_2"})
            return len([r for r in records if r["kind"] == "time_entry.logged"]) == 2

        await wait_for(te_2_seen_twice, timeout_s=90)

        # te_2 edited down to 3 h: 70 %, 80 re-armed; then 1 h more: 80 % crossed again
        await h.publish(entry(ws, "te_2", 3 * 3600, version=2))

        async def rearmed() -> bool:
            crossed = (await h.ok("GET", "/budgets/b_1"))["crossed"]
            return [c["threshold"] for c in crossed] == [50]

        await wait_for(rearmed, timeout_s=90)
        await h.publish(entry(ws, "te_3", 3600))

        # a milestone, reached twice
        await h.ok(
            "PUT", "/projects/p_1/milestones/m_beta", json={"title": "Beta", "contract_id": cid}
        )
        for _ in range(2):
            reached = await h.ok("POST", "/projects/p_1/milestones/m_beta/reached", json={})
        assert reached["reached_at"] is not None

        # a contract and a milestone announced by Core (as ingest publishes its signed webhooks):
        # the draft, then signed (redelivered, and announced again), the milestone reached twice
        await h.publish(core_contract(ws, "draft", 1))
        core_signed = core_contract(ws, "signed", 2)
        first = await h.publish(core_signed)
        await h.publish(core_signed, envelope=first)
        await h.publish(core_signed)
        core_reached = core_milestone(ws, T0 + dt.timedelta(days=3))
        await h.publish(core_reached)
        await h.publish(core_reached)
        # ... and one signed in Core's UI: its webhooks reach contracts through ingest
        from_core_ui, core_project = await h.core.sign_contract()

        records = await published.read(
            lambda r: (
                len(of(r, BudgetThresholdCrossed)) >= 3
                and len(of(r, MilestoneReached)) >= 2
                and len(of(r, ContractSigned)) >= 3
            )
        )
        await asyncio.sleep(1.5)  # anything extra would be on the topics by now
        records = await published.read(lambda r: len(r) >= len(records))
        signings = {e["contract_id"]: e for e in of(records, ContractSigned)}
        assert len(of(records, ContractSigned)) == len(signings) == 3
        through_ingest = signings[f"core:{from_core_ui}"]
        assert through_ingest["project_ids"] == [core_project]
        signed_event = signings[cid]
        assert (signed_event["contract_id"], signed_event["project_ids"]) == (cid, ["p_1"])
        from_core = signings["core:ct_7"]
        assert (from_core["project_ids"], from_core["signed_at"]) == (
            ["p_9"],
            "2026-11-20T09:00:00Z",
        )
        core_view = await h.ok("GET", "/contracts/core:ct_7")
        assert (core_view["status"], core_view["client_name"]) == ("signed", "Globex")
        crossings = [(c["threshold_percent"], c["spent_hours"]) for c in
                     of(records, BudgetThresholdCrossed)]  # fmt: skip
        assert [(t, float(h_)) for t, h_ in crossings] == [(50, 8.5), (80, 8.5), (80, 8.0)]
        assert [
            (c["contract_id"], c["budget_id"], c["period"], c["crossing"])
            for c in of(records, BudgetThresholdCrossed)
        ] == [(cid, "b_1", "total", 1), (cid, "b_1", "total", 1), (cid, "b_1", "total", 2)]
        assert sorted(m["milestone_id"] for m in of(records, MilestoneReached)) == [
            "m_beta",
            "ms_7",
        ]
        assert (await h.ok("GET", "/budgets/b_1"))["consumed"] == {
            "period": "total",
            "spent_hours": "8.0000",
            "spent_amount": None,
            "percent": "80.0",
        }

        # one entry's whole chain: the tracker record it was synced from, the invoice line that
        # billed it (rate and where the rate came from), the invoice paid
        synced = sample_entry_synced(workspace_id=ws, source="everhour",
                                     source_external_id="eh_3", target="core",
                                     target_external_id="te_3")  # fmt: skip
        price = {"unit_price": Decimal(120), "amount": Decimal(120), "rate_source": "timebridge"}
        rounding = RoundingVersion(policy_id="client:cl_1", version=2, increment_minutes=15,
                                   applies_to="per_entry")  # fmt: skip
        line = InvoiceLine(description="Dev", quantity_hours=Decimal(1), **price,
                           rounding=rounding, entry_ids=("te_3",))  # fmt: skip
        exported = sample_invoice_exported(workspace_id=ws, invoice_id="inv_3",
                                           entry_ids=("te_3",), lines=(line,))  # fmt: skip
        paid = sample_invoice_status_changed(workspace_id=ws, invoice_id="inv_3", status="paid")
        await h.publish(synced)
        await h.publish(exported)
        await h.publish(paid)
        await h.publish(PaymentRecorded(
            workspace_id=ws, invoice_id="inv_3", connection_id="acc_1", provider="xero",
            provider_invoice_id="x_3", provider_payment_id="x_pay_3", state="recorded",
            paid_on=dt.date(2026, 12, 2), currency="EUR", payment_amount=Decimal(120),
            applied_amount=Decimal(120), invoice_balance=Decimal(0), invoice_status="paid",
            revision=1, changed_at=T0,
        ))  # fmt: skip
        chain = ["time_entry.logged", "entry.synced", "invoice.exported", "invoice.status_changed",
                 "payment.recorded"]  # fmt: skip

        async def te_3_chain() -> bool:
            records = await h.ok("GET", "/audit", params={"entry_id": "te_3"})
            return sorted(r["kind"] for r in records) == sorted(chain)

        await wait_for(te_3_chain, timeout_s=90)
        te_3 = {r["kind"]: r for r in await h.ok("GET", "/audit", params={"entry_id": "te_3"})}
        assert te_3["time_entry.logged"]["data"]["counts_against"][0]["contract_id"] == cid
        assert te_3["entry.synced"]["entry_ids"] == ["everhour:eh_3", "te_3"]
        [billed] = te_3["invoice.exported"]["data"]["lines"]
        assert (billed["unit_price"], billed["rate_source"]) == ("120", "timebridge")
        assert (billed["rounding"]["version"], billed["entry_ids"]) == (2, ["te_3"])
        assert te_3["invoice.status_changed"]["data"]["status"] == "paid"
        assert te_3["payment.recorded"]["data"]["applied_amount"] == "120"

        # the audit trail: by entry, by contract; the chain verifies
        trail = await h.ok("GET", "/audit", params={"entry_id": "te_2"})
        assert [r["kind"] for r in trail] == ["time_entry.logged"] * 3
        assert trail[0]["data"]["counts_against"][0]["contract_id"] == cid
        by_contract = {r["kind"] for r in await h.ok("GET", "/audit", params={"contract_id": cid})}
        assert {"contract.created", "scope.added", "budget.revised", "contract.signed",
                "budget.threshold_crossed", "budget.threshold_rearmed",
                "milestone.reached"} <= by_contract  # fmt: skip
        assert await h.ok("GET", "/audit/verify") == {
            "ok": True,
            "checked": len(await h.ok("GET", "/audit")),
            "first_broken_seq": None,
            "reason": None,
        }

        # the CSV export of the contract's records: each row's hash recomputes from its body
        export = await h.api("GET", "/audit/export.csv", params={"contract_id": cid})
        assert export.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(export.text)))
        assert [int(r["seq"]) for r in rows] == [
            r["seq"] for r in await h.ok("GET", "/audit", params={"contract_id": cid})
        ]
        for row in rows:
            assert chain_hash(row["prev_hash"], row["body"]) == row["hash"]

        # the PDF export of the same records: each one's hash in its text, the chain verified
        pdf = await h.api("GET", "/audit/export.pdf", params={"contract_id": cid})
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF-")
        assert all(f"hash:      {r['hash']}".encode() in pdf.content for r in rows)
        every = len(await h.ok("GET", "/audit"))
        assert f"Chain verification: {ws}: {every} records, chain intact".encode() in pdf.content

        # append-only: the service's role is refused; the owner disables the trigger and edits
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await pool.execute("UPDATE audit_log SET kind = 'x' WHERE workspace_id = $1", ws)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await pool.execute("DELETE FROM audit_log WHERE workspace_id = $1", ws)
        tampered = trail[1]["seq"]
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")
            await conn.execute(
                "UPDATE audit_log SET body = replace(body, '\"duration_seconds\":16200',"
                " '\"duration_seconds\":1800') WHERE workspace_id = $1 AND seq = $2",
                ws,
                tampered,
            )
            await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_change")
        verdict = await h.ok("GET", "/audit/verify")
        assert (verdict["ok"], verdict["first_broken_seq"]) == (False, tampered)
        assert verdict["reason"] == "hash does not match the record's content"
        pdf = await h.api("GET", "/audit/export.pdf", params={"entry_id": "te_2"})
        assert f"{ws}: broken at record {tampered} ".encode() in pdf.content
        cli = subprocess.run(  # noqa: ASYNC221, S603 - a short run of our own CLI
            [sys.executable, "-m", "timebridge_contracts.entrypoints.audit_cli", "verify",
             "--workspace", ws, "--database-url", dsn],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert cli.returncode == 1, cli.stderr
        assert f"broken at record {tampered} " in cli.stdout
