"""Handlers over the in-memory store: budgets cross once, re-arm, revisions, signing,
milestones, the audit trail of each change."""

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from timebridge_common.events import Envelope, InvoiceLine, RoundingVersion, TimeEntryLogged
from timebridge_common.events.contracts import (
    BudgetThresholdCrossed,
    ContractSigned,
    MilestoneReached,
)
from timebridge_common.events.payments import PaymentRecorded
from timebridge_common.refusals import ConflictError, InvalidError, NotFoundError
from timebridge_common.testing import (
    sample_client_changed,
    sample_invoice_exported,
    sample_invoice_status_changed,
    sample_time_entry_logged,
)
from timebridge_contracts.domain.audit import verify
from timebridge_contracts.handlers.commands import (
    BudgetIn,
    ContractIn,
    MilestoneIn,
    ReachedIn,
    ScopeIn,
    StatusIn,
)
from timebridge_contracts.handlers.contracts import Contracts
from timebridge_contracts.handlers.events import EventHandlers
from timebridge_contracts.testing import MemoryStore

WS = "acme"
NOW = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)


def clock() -> dt.datetime:
    return NOW


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


def logged(entry_id: str, seconds: int, *, version: int = 1, **fields: Any) -> TimeEntryLogged:
    base = sample_time_entry_logged(workspace_id=WS, external_id=entry_id)
    changes = {"duration_seconds": seconds, "project_external_id": "p_1"} | fields
    return base.model_copy(
        update={
            "entry": base.entry.model_copy(update=changes),
            "updated_at": base.updated_at + dt.timedelta(minutes=version),
        }
    )


async def deliver(handlers: EventHandlers, event: TimeEntryLogged) -> Envelope:
    envelope = Envelope.for_event(event, producer="test")
    await handlers.time_entry_logged(envelope, event)
    return envelope


async def contract_with_budget(store: MemoryStore, hours: str = "10") -> tuple[Contracts, str]:
    contracts = Contracts(store, clock)
    made = await contracts.create(
        WS, ContractIn(title="Website", client_name="Acme", currency="USD"), "u_admin"
    )
    scope = await contracts.add_scope(
        WS, made.contract_id, ScopeIn(name="Phase 1", items=[{"project_id": "p_1"}]), "u_admin"
    )
    budget = BudgetIn(target_kind="scope", target_id=scope.scope_id, unit="hours",
                      amount=Decimal(hours))  # fmt: skip
    await contracts.put_budget(WS, "b_1", budget, "u_admin")
    return contracts, scope.scope_id


async def test_time_crosses_80_once_redelivery_does_not_and_lowering_rearms(
    store: MemoryStore,
) -> None:
    await contract_with_budget(store)
    handlers = EventHandlers(store, clock)
    await deliver(handlers, logged("te_1", 4 * 3600))  # 40 %
    assert store.published(BudgetThresholdCrossed) == []
    envelope = await deliver(handlers, logged("te_2", 4 * 3600 + 1800))  # 85 %
    crossed = store.published(BudgetThresholdCrossed)
    assert [(c.threshold_percent, c.spent_hours) for c in crossed] == [
        (50, Decimal("8.5")),
        (80, Decimal("8.5")),
    ]
    redelivered = logged("te_2", 4 * 3600 + 1800)
    await handlers.time_entry_logged(envelope, redelivered)  # same record: the inbox drops it
    await deliver(handlers, redelivered)  # same version, new record: consumption unchanged
    assert len(store.published(BudgetThresholdCrossed)) == 2
    await deliver(handlers, logged("te_2", 3 * 3600, version=2))  # 70 %: 80 re-armed
    assert len(store.published(BudgetThresholdCrossed)) == 2
    await deliver(handlers, logged("te_3", 3600))  # 80 % again
    again = store.published(BudgetThresholdCrossed)[2:]
    assert [(c.threshold_percent, c.budget_revision, c.crossing) for c in again] == [(80, 1, 2)]
    assert [(c.budget_id, c.period, c.crossing) for c in crossed] == [("b_1", "total", 1)] * 2
    assert "budget.threshold_rearmed" in store.audit_kinds()
    assert verify(store.state.audit)[1] is None


async def test_an_older_version_and_other_systems_records_do_not_count(store: MemoryStore) -> None:
    await contract_with_budget(store)
    handlers = EventHandlers(store, clock)
    await deliver(handlers, logged("te_1", 3600, version=5))
    await deliver(handlers, logged("te_1", 9 * 3600, version=1))  # stale
    tracker = logged("77", 9 * 3600).model_copy(update={"source": "everhour"})
    await deliver(handlers, tracker)
    assert store.published(BudgetThresholdCrossed) == []
    kinds = store.audit_kinds()
    assert kinds.count("time_entry.stale_version_ignored") == 1
    assert kinds.count("time_entry.observed") == 1


async def test_a_deleted_entry_removes_its_hours(store: MemoryStore) -> None:
    await contract_with_budget(store)
    handlers = EventHandlers(store, clock)
    await deliver(handlers, logged("te_1", 9 * 3600))
    gone = logged("te_1", 9 * 3600, version=2).model_copy(update={"deleted": True})
    await deliver(handlers, gone)
    await deliver(handlers, logged("te_2", 5 * 3600))  # 50 % again after the delete
    crossed = [c.threshold_percent for c in store.published(BudgetThresholdCrossed)]
    assert crossed == [50, 80, 50]


async def test_a_budget_revision_rearms_and_is_evaluated_at_once(store: MemoryStore) -> None:
    contracts, scope_id = await contract_with_budget(store)
    handlers = EventHandlers(store, clock)
    await deliver(handlers, logged("te_1", 9 * 3600))  # 90 % of 10 h
    assert [c.threshold_percent for c in store.published(BudgetThresholdCrossed)] == [50, 80]
    same = BudgetIn(target_kind="scope", target_id=scope_id, unit="hours", amount=Decimal(10))
    unchanged = await contracts.put_budget(WS, "b_1", same, "u_admin")
    assert unchanged.revision == 1
    raised = same.model_copy(update={"amount": Decimal(12)})
    revised = await contracts.put_budget(WS, "b_1", raised, "u_admin")
    assert revised.revision == 2
    after = store.published(BudgetThresholdCrossed)[2:]
    assert [(c.threshold_percent, c.budget_revision) for c in after] == [(50, 2)]  # 75 % of 12
    assert [b.revision for b in store.state.revisions] == [1, 2]


async def test_a_monthly_budget_starts_armed_each_month(store: MemoryStore) -> None:
    contracts = Contracts(store, clock)
    monthly = BudgetIn(target_kind="project", target_id="p_1", unit="hours",
                       amount=Decimal(2), period="monthly", thresholds=[100])  # fmt: skip
    await contracts.put_budget(WS, "b_m", monthly, "u_admin")
    handlers = EventHandlers(store, clock)
    await deliver(handlers, logged("te_1", 7200, date=dt.date(2026, 11, 3)))
    await deliver(handlers, logged("te_2", 7200, date=dt.date(2026, 12, 3)))
    await deliver(handlers, logged("te_3", 7200, date=dt.date(2026, 12, 4)))
    assert len(store.published(BudgetThresholdCrossed)) == 2


async def test_money_budget_prices_billable_time_with_the_rate_card(store: MemoryStore) -> None:
    contracts = Contracts(store, clock)
    made = await contracts.create(
        WS,
        ContractIn(title="T&M", client_name="Acme", currency="EUR",
                   rate_card=[{"hourly_rate": "100", "project_id": "p_1"}]),
        "u_admin",
    )  # fmt: skip
    budget = BudgetIn(target_kind="project", target_id="p_1", unit="money", amount=Decimal(500),
                      currency="EUR", contract_id=made.contract_id, thresholds=[80])  # fmt: skip
    await contracts.put_budget(WS, "b_eur", budget, "u_admin")
    handlers = EventHandlers(store, clock)
    await deliver(handlers, logged("te_1", 5 * 3600, billable=False))
    assert store.published(BudgetThresholdCrossed) == []
    await deliver(handlers, logged("te_2", 4 * 3600))
    [crossed] = store.published(BudgetThresholdCrossed)
    assert (crossed.spent_amount, crossed.currency, crossed.spent_hours) == (
        Decimal(400),
        "EUR",
        Decimal(9),
    )


async def test_signing_publishes_once_and_freezes_terms(store: MemoryStore) -> None:
    contracts, _ = await contract_with_budget(store)
    [contract] = store.state.contracts.values()
    sign = StatusIn(status="signed")
    signed = await contracts.set_status(WS, contract.contract_id, sign, "u_admin")
    await contracts.set_status(WS, contract.contract_id, sign, "u_admin")
    [event] = store.published(ContractSigned)
    assert (event.contract_id, event.project_ids, event.signed_at) == (
        contract.contract_id,
        ("p_1",),
        NOW,
    )
    assert signed.status == "signed"
    terms = ContractIn(title="Website", client_name="Acme", currency="EUR")
    with pytest.raises(ConflictError):
        await contracts.update(WS, contract.contract_id, terms, "u_admin")
    await contracts.set_status(WS, contract.contract_id, StatusIn(status="ended"), "u")
    with pytest.raises(ConflictError, match="cannot become signed"):
        await contracts.set_status(WS, contract.contract_id, sign, "u_admin")


async def test_a_mirrored_client_must_exist(store: MemoryStore) -> None:
    contracts = Contracts(store, clock)
    command = ContractIn(title="X", client_id="cl_1", currency="USD")
    with pytest.raises(InvalidError):
        await contracts.create(WS, command, "u")
    client = sample_client_changed(workspace_id=WS, client_id="cl_1", display_name="Globex")
    await EventHandlers(store, clock).client_changed(
        Envelope.for_event(client, producer="test"), client
    )
    assert (await contracts.create(WS, command, "u")).client_name == "Globex"


async def test_a_milestone_is_reached_once(store: MemoryStore) -> None:
    contracts = Contracts(store, clock)
    with pytest.raises(NotFoundError):
        await contracts.reach(WS, "p_1", "m_1", ReachedIn(), "u")
    await contracts.put_milestone(WS, "p_1", "m_1", MilestoneIn(title="Beta"))
    _, first = await contracts.reach(WS, "p_1", "m_1", ReachedIn(), "u")
    _, second = await contracts.reach(WS, "p_1", "m_1", ReachedIn(), "u")
    assert (first, second) == (True, False)
    [event] = store.published(MilestoneReached)
    assert (event.milestone_id, event.title, event.reached_at) == ("m_1", "Beta", NOW)


async def test_a_failed_transaction_leaves_nothing(store: MemoryStore) -> None:
    contracts = Contracts(store, clock)
    bad = BudgetIn(target_kind="scope", target_id="nope", unit="hours", amount=Decimal(1))
    with pytest.raises(InvalidError):
        await contracts.put_budget(WS, "b_x", bad, "u")
    assert store.state.budgets == {}
    assert store.state.audit == []


async def test_a_scope_added_to_a_contract_budget_counts_time_already_logged(
    store: MemoryStore,
) -> None:
    contracts = Contracts(store, clock)
    made = await contracts.create(WS, ContractIn(title="T", client_name="A", currency="USD"), "u")
    budget = BudgetIn(
        target_kind="contract",
        target_id=made.contract_id,
        unit="hours",
        amount=Decimal(2),
        thresholds=[100],
    )
    await contracts.put_budget(WS, "b_c", budget, "u")
    await deliver(EventHandlers(store, clock), logged("te_1", 7200))
    assert store.published(BudgetThresholdCrossed) == []
    await contracts.add_scope(
        WS, made.contract_id, ScopeIn(name="S", items=[{"project_id": "p_1"}]), "u"
    )
    [crossed] = store.published(BudgetThresholdCrossed)
    assert (crossed.budget_id, crossed.threshold_percent) == ("b_c", 100)


async def test_an_entrys_trail_links_its_contract_invoice_and_client(store: MemoryStore) -> None:
    handlers = EventHandlers(store, clock)
    client = sample_client_changed(workspace_id=WS, client_id="cl_1", display_name="Globex")
    await handlers.client_changed(Envelope.for_event(client, producer="test"), client)
    contracts = Contracts(store, clock)
    made = await contracts.create(WS, ContractIn(title="T", client_id="cl_1", currency="USD"), "u")
    scope = await contracts.add_scope(
        WS, made.contract_id, ScopeIn(name="S", items=[{"project_id": "p_1"}]), "u"
    )
    budget = BudgetIn(
        target_kind="scope", target_id=scope.scope_id, unit="hours", amount=Decimal(9)
    )
    await contracts.put_budget(WS, "b_1", budget, "u")
    await deliver(handlers, logged("te_1", 3600))
    line = InvoiceLine(
        description="Dev",
        quantity_hours=Decimal(1),
        unit_price=Decimal(90),
        amount=Decimal(90),
        project_id="p_1",
        rate_source="tracker:int_1",
        rounding=RoundingVersion(
            policy_id="client:cl_1", version=3, increment_minutes=15, applies_to="per_entry"
        ),
        entry_ids=("te_1",),
    )
    exported = sample_invoice_exported(
        workspace_id=WS, invoice_id="inv_1", client_id="cl_1", entry_ids=("te_1",), lines=(line,)
    )
    await handlers.invoice_exported(Envelope.for_event(exported, producer="t"), exported)
    paid = sample_invoice_status_changed(workspace_id=WS, invoice_id="inv_1", status="paid")
    await handlers.invoice_status_changed(Envelope.for_event(paid, producer="t"), paid)
    trail = [
        json.loads(r.body) for r in store.state.audit if "te_1" in json.loads(r.body)["entry_ids"]
    ]
    assert [r["kind"] for r in trail] == [
        "time_entry.logged",
        "invoice.exported",
        "invoice.status_changed",
    ]
    assert {tuple(r["client_ids"]) for r in trail} == {("cl_1",)}
    assert trail[0]["contract_ids"] == [made.contract_id]
    # the line that billed it: its rate and where the rate came from (Timebridge or a tracker)
    assert trail[1]["data"]["lines"][0]["unit_price"] == "90"
    assert trail[1]["data"]["lines"][0]["rate_source"] == "tracker:int_1"
    # and the rounding policy version that made its quantity
    assert trail[1]["data"]["lines"][0]["rounding"] == {
        "policy_id": "client:cl_1",
        "version": 3,
        "increment_minutes": 15,
        "applies_to": "per_entry",
    }
    assert trail[1]["data"]["lines"][0]["entry_ids"] == ["te_1"]
    assert trail[2]["data"]["status"] == "paid"
    assert verify(store.state.audit)[1] is None


async def test_usage_is_the_current_periods_consumption(store: MemoryStore) -> None:
    contracts, _ = await contract_with_budget(store, hours="8")
    await deliver(EventHandlers(store, clock), logged("te_1", 3 * 3600))
    assert await contracts.usage(WS, "b_1") == {
        "period": "total",
        "spent_hours": "3.0000",
        "spent_amount": None,
        "percent": "37.5",
    }
    assert await contracts.usage(WS, "nope") == {}


def payment(state: str, applied: str, balance: str, status: str, **fields: Any) -> PaymentRecorded:
    values: dict[str, Any] = {
        "workspace_id": WS,
        "invoice_id": "inv_1",
        "connection_id": "acc_1",
        "provider": "xero",
        "provider_invoice_id": "x_inv_1",
        "provider_payment_id": "x_pay_1",
        "state": state,
        "paid_on": dt.date(2026, 12, 2),
        "currency": "EUR",
        "payment_amount": applied,
        "applied_amount": applied,
        "invoice_balance": balance,
        "invoice_status": status,
        "revision": 1,
        "changed_at": NOW,
    }
    return PaymentRecorded.model_validate(values | fields)


async def test_payments_and_a_voided_one_are_on_the_entrys_trail(store: MemoryStore) -> None:
    handlers = EventHandlers(store, clock)
    exported = sample_invoice_exported(workspace_id=WS, invoice_id="inv_1", entry_ids=("te_1",))
    await handlers.invoice_exported(Envelope.for_event(exported, producer="t"), exported)
    first = payment("recorded", "80", "100", "partially_paid")
    second = payment("recorded", "100", "0", "paid", provider_payment_id="x_pay_2")
    voided = payment("voided", "0", "100", "partially_paid", provider_payment_id="x_pay_2",
                     revision=2)  # fmt: skip
    for event in (first, second, voided):
        envelope = Envelope.for_event(event, producer="t")
        await handlers.payment_recorded(envelope, event)
        await handlers.payment_recorded(envelope, event)  # redelivered: recorded once
    trail = [
        json.loads(r.body) for r in store.state.audit if "te_1" in json.loads(r.body)["entry_ids"]
    ]
    assert [(r["kind"], r["data"].get("invoice_status")) for r in trail] == [
        ("invoice.exported", None),
        ("payment.recorded", "partially_paid"),
        ("payment.recorded", "paid"),
        ("payment.voided", "partially_paid"),
    ]
    assert {r["invoice_id"] for r in trail} == {"inv_1"}
    assert trail[3]["data"]["provider_payment_id"] == "x_pay_2"
    assert verify(store.state.audit)[1] is None
