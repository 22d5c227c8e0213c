"""Budgets stored before contracts published BudgetChanged (or whose last revision was never
announced) are announced once by ``announce_pending``: with what they cover now and an id per
budget and revision; a second pass announces nothing, nor does it repeat announced budgets."""

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal

from timebridge_common.events.budgets import BudgetChanged, BudgetItem
from timebridge_contracts.entrypoints.announcements import PendingAnnouncements
from timebridge_contracts.handlers.budgets import announce_pending, pending_event_id
from timebridge_contracts.handlers.commands import BudgetIn, ContractIn, ScopeIn
from timebridge_contracts.handlers.contracts import Contracts
from timebridge_contracts.testing import MemoryStore, MemoryTx, replace

WS = "acme"
T0 = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)
LATER = T0 + dt.timedelta(days=3)
HOURS = BudgetIn(target_kind="project", target_id="p_1", unit="hours", amount=Decimal(40))


def before_budgets_were_announced(store: MemoryStore) -> None:
    """What the store held before the upgrade: the budgets, no announcement of them."""
    store.state.published.clear()
    store.state.announced.clear()


async def test_budgets_never_announced_are_announced_once_with_what_they_cover_now() -> None:
    store = MemoryStore()
    contracts = Contracts(store, lambda: T0)
    made = await contracts.create(WS, ContractIn(title="T", client_name="A", currency="EUR"), "u")
    whole = BudgetIn(target_kind="contract", target_id=made.contract_id, unit="money",
                     amount=Decimal(9000), currency="EUR", period="monthly")  # fmt: skip
    await contracts.put_budget(WS, "b_c", whole, "u")
    await contracts.put_budget("other", "b_p", HOURS, "u")
    await contracts.add_scope(
        WS, made.contract_id, ScopeIn(name="S", items=[{"project_id": "p_7"}]), "u"
    )
    before_budgets_were_announced(store)

    assert await announce_pending(store, lambda: LATER) == 2
    by_id = {
        e.budget_id: (e, env) for e, env in store.state.published if isinstance(e, BudgetChanged)
    }
    assert sorted(by_id) == ["b_c", "b_p"]
    event, envelope = by_id["b_c"]
    assert (event.revision, event.unit, event.amount, event.period, event.changed_at) == (
        1,
        "money",
        Decimal(9000),
        "monthly",
        LATER,
    )
    assert event.items == (BudgetItem(project_id="p_7"),)
    assert envelope.event_id == pending_event_id(store.state.budgets[(WS, "b_c")])
    assert by_id["b_p"][0].workspace_id == "other"

    assert await announce_pending(store, lambda: LATER) == 0  # a restart: nothing again
    assert len(store.published(BudgetChanged)) == 2


async def test_only_a_revision_never_announced_is_announced() -> None:
    store = MemoryStore()
    contracts = Contracts(store, lambda: T0)
    await contracts.put_budget(WS, "b_1", HOURS, "u")
    await contracts.put_budget(WS, "b_2", HOURS.model_copy(update={"target_id": "p_2"}), "u")
    # b_2's second revision stored by a version that did not announce it
    async with store.transaction() as tx:
        revised = replace(store.state.budgets[(WS, "b_2")], amount=Decimal(50), revision=2)
        await tx.put_budget(revised, T0, "u")
    store.state.published.clear()

    assert await announce_pending(store, lambda: LATER) == 1
    [again] = store.published(BudgetChanged)
    assert (again.budget_id, again.revision, again.amount) == ("b_2", 2, Decimal(50))
    assert await announce_pending(store, lambda: LATER) == 0


async def test_a_budget_that_cannot_be_announced_does_not_hold_up_the_others() -> None:
    store = MemoryStore()
    contracts = Contracts(store, lambda: T0)
    await contracts.put_budget(WS, "b_1", HOURS, "u")
    await contracts.put_budget(WS, "b_2", HOURS, "u")
    odd = replace(store.state.budgets[(WS, "b_1")], thresholds=tuple(range(1, 30)))
    store.state.budgets[(WS, "b_1")] = odd  # more thresholds than BudgetChanged carries
    before_budgets_were_announced(store)

    assert await announce_pending(store, lambda: LATER) == 1
    assert [e.budget_id for e in store.published(BudgetChanged)] == ["b_2"]
    async with store.transaction() as tx:
        assert await tx.claim_unannounced(WS) == ["b_1"]


class FailingFirst(MemoryStore):
    """A store whose database is unreachable for the first ``failures`` transactions."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[MemoryTx]:
        if self.failures:
            self.failures -= 1
            raise ConnectionRefusedError("database down")
        async with super().transaction() as tx:
            yield tx


async def test_start_up_retries_until_the_database_answers() -> None:
    store = FailingFirst(failures=0)
    await Contracts(store, lambda: T0).put_budget(WS, "b_1", HOURS, "u")
    before_budgets_were_announced(store)
    store.failures = 3
    announcements = PendingAnnouncements(store, lambda: LATER, max_delay_s=0.01)

    await asyncio.wait_for(announcements.run(), timeout=5)
    assert announcements.done.is_set()
    assert store.failures == 0
    assert [e.budget_id for e in store.published(BudgetChanged)] == ["b_1"]
