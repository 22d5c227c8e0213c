"""The contracts store on real PostgreSQL (no Kafka): a monthly money budget over one ticket
of a project, priced by the rate card from the SQL sums; crossings through the outbox table;
appends to one workspace's audit chain from concurrent transactions stay one chain; the
trail is found by client."""

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from decimal import Decimal

import asyncpg

from timebridge_common.db.migrations import apply_migrations
from timebridge_common.events import Envelope
from timebridge_common.testing import (
    sample_client_changed,
    sample_invoice_exported,
    sample_time_entry_logged,
)
from timebridge_contracts.adapters.audit_log import AuditQuery, AuditTrail
from timebridge_contracts.adapters.postgres import PostgresStore
from timebridge_contracts.handlers.commands import BudgetIn, ContractIn, ScopeIn
from timebridge_contracts.handlers.contracts import Contracts
from timebridge_contracts.handlers.events import EventHandlers
from timebridge_contracts.handlers.ports import AuditFacts

from .conftest import unique

NOW = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)


async def test_monthly_money_budget_on_a_ticket_scope(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    pool = await make_pool(await create_database("contracts-store"))
    await apply_migrations(pool, "timebridge_contracts.adapters.migrations")
    store, ws = PostgresStore(pool), unique("ws")
    contracts = Contracts(store, lambda: NOW)
    card = [
        {"hourly_rate": "100", "project_id": "p_1"},
        {"hourly_rate": "150", "project_id": "p_1", "user_id": "u_2"},
    ]
    made = await contracts.create(
        ws, ContractIn(title="T&M", client_name="Acme", currency="EUR", rate_card=card), "u"
    )
    scope = await contracts.add_scope(
        ws,
        made.contract_id,
        ScopeIn(name="Login", items=[{"project_id": "p_1", "ticket_id": "T-1"}]),
        "u",
    )
    budget = BudgetIn(
        target_kind="scope",
        target_id=scope.scope_id,
        unit="money",
        amount=Decimal(500),
        currency="EUR",
        period="monthly",
        thresholds=[80],
    )
    await contracts.put_budget(ws, "b_m", budget, "u")
    handlers = EventHandlers(store, lambda: NOW)

    async def log(entry_id: str, hours: int, day: dt.date, **fields: object) -> None:
        base = sample_time_entry_logged(workspace_id=ws, external_id=entry_id)
        changes = {
            "duration_seconds": hours * 3600,
            "project_external_id": "p_1",
            "task_external_id": "T-1",
            "date": day,
        } | fields
        event = base.model_copy(update={"entry": base.entry.model_copy(update=changes)})
        await handlers.time_entry_logged(Envelope.for_event(event, producer="test"), event)

    await log("te_1", 2, dt.date(2026, 11, 2))  # 200 EUR
    await log("te_2", 3, dt.date(2026, 11, 3), task_external_id="T-9")  # another ticket
    await log("te_3", 3, dt.date(2026, 10, 30))  # another month
    await log("te_4", 2, dt.date(2026, 11, 4), billable=False)  # hours, no money
    # the budget's definition for reporting, nothing crossed yet
    [announced] = await pool.fetch("SELECT topic, value FROM outbox")
    assert announced["topic"] == "timebridge.budget-changed.v1"
    terms = json.loads(bytes(announced["value"]))
    assert (terms["budget_id"], terms["unit"], terms["amount"], terms["items"]) == (
        "b_m",
        "money",
        "500.0000",
        [{"project_id": "p_1", "ticket_id": "T-1"}],
    )
    who = sample_time_entry_logged().entry.user.model_copy(update={"external_id": "u_2"})
    await log("te_5", 2, dt.date(2026, 11, 5), user=who)  # 300 EUR at u_2's rate: 500 = 100 %
    [row] = await pool.fetch(
        "SELECT topic, value FROM outbox WHERE topic <> $1", announced["topic"]
    )
    crossed = json.loads(bytes(row["value"]))
    assert row["topic"] == "timebridge.budget-threshold-crossed.v1"
    assert (crossed["threshold_percent"], crossed["period"], crossed["spent_amount"]) == (
        80,
        "2026-11",
        "500.0000",
    )
    assert Decimal(crossed["spent_hours"]) == Decimal(6)


async def test_concurrent_appends_make_one_chain(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    pool = await make_pool(await create_database("contracts-chain"))
    await apply_migrations(pool, "timebridge_contracts.adapters.migrations")
    store, ws = PostgresStore(pool), unique("ws")

    async def append(n: int) -> None:
        async with store.transaction() as tx:
            await tx.audit(ws, AuditFacts("test", {"n": n}), NOW)

    await asyncio.gather(*(append(n) for n in range(20)))
    result = await AuditTrail(pool).verify(ws)
    assert (result.ok, result.checked) == (True, 20)


async def test_the_trail_is_found_by_client_and_verifies(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    pool = await make_pool(await create_database("contracts-client"))
    await apply_migrations(pool, "timebridge_contracts.adapters.migrations")
    store, ws = PostgresStore(pool), unique("ws")
    handlers = EventHandlers(store, lambda: NOW)
    client = sample_client_changed(workspace_id=ws, client_id="cl_1", display_name="Globex")
    await handlers.client_changed(Envelope.for_event(client, producer="test"), client)
    contracts = Contracts(store, lambda: NOW)
    made = await contracts.create(ws, ContractIn(title="T", client_id="cl_1", currency="USD"), "u")
    other = await contracts.create(
        ws, ContractIn(title="O", client_name="Named", currency="USD"), "u"
    )
    exported = sample_invoice_exported(workspace_id=ws, invoice_id="inv_1", client_id="cl_1")
    await handlers.invoice_exported(Envelope.for_event(exported, producer="t"), exported)
    trail = AuditTrail(pool)
    found = await trail.records(ws, AuditQuery(client_id="cl_1"))
    assert [(r["kind"], r["contract_ids"], r["invoice_id"]) for r in found] == [
        ("contract.created", [made.contract_id], None),
        ("invoice.exported", [], "inv_1"),
    ]
    assert other.contract_id not in {c for r in found for c in r["contract_ids"]}
    result = await trail.verify(ws)
    assert (result.ok, result.checked) == (True, 3)
