"""Contracts announce each budget's terms and coverage (BudgetChanged) for reporting: once per
revision, again when a contract-wide budget covers a new scope, never for a repeated request."""

import datetime as dt
from decimal import Decimal

from timebridge_common.events.budgets import BudgetChanged, BudgetItem
from timebridge_contracts.handlers.commands import BudgetIn, ContractIn, ScopeIn
from timebridge_contracts.handlers.contracts import Contracts
from timebridge_contracts.testing import MemoryStore

WS = "acme"
NOW = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)


def clock() -> dt.datetime:
    return NOW


async def test_each_revision_is_announced_once_with_what_it_covers() -> None:
    store = MemoryStore()
    contracts = Contracts(store, clock)
    made = await contracts.create(WS, ContractIn(title="T", client_name="A", currency="EUR"), "u")
    scope = await contracts.add_scope(
        WS,
        made.contract_id,
        ScopeIn(name="S", items=[{"project_id": "p_1"}, {"project_id": "p_2", "ticket_id": "t"}]),
        "u",
    )
    money = BudgetIn(target_kind="scope", target_id=scope.scope_id, unit="money",
                     amount=Decimal("5000"), currency="EUR", period="monthly")  # fmt: skip
    await contracts.put_budget(WS, "b_1", money, "u")
    await contracts.put_budget(WS, "b_1", money, "u")  # the same terms: nothing new
    await contracts.put_budget(WS, "b_1", money.model_copy(update={"amount": Decimal(6000)}), "u")
    [first, second] = store.published(BudgetChanged)
    assert (first.budget_id, first.revision, first.amount) == ("b_1", 1, Decimal(5000))
    assert (second.revision, second.amount) == (2, Decimal(6000))
    assert first.items == (
        BudgetItem(project_id="p_1"),
        BudgetItem(project_id="p_2", ticket_id="t"),
    )
    assert (first.unit, first.currency, first.period) == ("money", "EUR", "monthly")
    assert (first.contract_id, first.target_kind, first.changed_at) == (
        made.contract_id,
        "scope",
        NOW,
    )


async def test_a_contract_budget_is_announced_again_when_a_scope_is_added() -> None:
    store = MemoryStore()
    contracts = Contracts(store, clock)
    made = await contracts.create(WS, ContractIn(title="T", client_name="A", currency="USD"), "u")
    hours = BudgetIn(target_kind="contract", target_id=made.contract_id, unit="hours",
                     amount=Decimal(20))  # fmt: skip
    await contracts.put_budget(WS, "b_c", hours, "u")
    await contracts.add_scope(
        WS, made.contract_id, ScopeIn(name="S", items=[{"project_id": "p_9"}]), "u"
    )
    [before, after] = store.published(BudgetChanged)
    assert (before.items, before.revision) == ((), 1)
    assert (after.items, after.revision) == ((BudgetItem(project_id="p_9"),), 1)
