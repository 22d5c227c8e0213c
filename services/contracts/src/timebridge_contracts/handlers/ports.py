"""What the handlers need from storage: one unit of work (a transaction) with small verbs.

The Postgres adapter implements them over one connection in one transaction (state, inbox
claim, outbox rows and audit records commit together); :mod:`timebridge_contracts.testing`
implements them in memory for the handlers' unit tests.
"""

import datetime as dt
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from timebridge_common.events import Envelope, Event
from timebridge_contracts.domain.budgets import Budget, Contribution, RateRule, ScopeItem


@dataclass(frozen=True, slots=True)
class ContractRecord:
    workspace_id: str
    contract_id: str
    title: str
    client_id: str | None
    client_name: str
    status: str
    currency: str
    rate_card: tuple[RateRule, ...] = ()
    rounding_policy: str | None = None
    signed_at: dt.datetime | None = None
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    revision: int = 1
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    source_updated_at: dt.datetime | None = None
    """A contract from the home system: its ``updated_at`` there when last applied."""


@dataclass(frozen=True, slots=True)
class ScopeRecord:
    workspace_id: str
    scope_id: str
    contract_id: str
    name: str
    items: tuple[ScopeItem, ...]


@dataclass(frozen=True, slots=True)
class BudgetTarget:
    """A budget with what it covers (its scope items) and the rate card that prices money."""

    budget: Budget
    items: tuple[ScopeItem, ...]
    rate_card: tuple[RateRule, ...] = ()

    def covers(self, project_id: str | None, ticket_id: str | None) -> bool:
        return any(item.covers(project_id, ticket_id) for item in self.items)


@dataclass(frozen=True, slots=True)
class MilestoneRecord:
    workspace_id: str
    project_id: str
    milestone_id: str
    title: str
    contract_id: str | None = None
    due_date: dt.date | None = None
    reached_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredEntry:
    contribution: Contribution
    updated_at: dt.datetime
    deleted: bool


@dataclass
class AuditFacts:
    """One audit record's content; ``data`` is JSON-ready (strings, numbers, lists, dicts)."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    entry_ids: Sequence[str] = ()
    contract_ids: Sequence[str] = ()
    client_ids: Sequence[str] = ()
    """Clients besides those of ``contract_ids`` (which the store adds itself)."""
    invoice_id: str | None = None
    event_id: str | None = None


class Tx(Protocol):
    """One transaction."""

    # clients mirrored from the accounting tools
    async def put_client(
        self,
        workspace_id: str,
        client_id: str,
        *,
        name: str,
        provider: str,
        status: str,
        revision: int,
    ) -> None: ...
    async def client_name(self, workspace_id: str, client_id: str) -> str | None: ...

    # contracts and scopes
    async def get_contract(
        self, workspace_id: str, contract_id: str, *, lock: bool = False
    ) -> ContractRecord | None: ...
    async def put_contract(self, contract: ContractRecord) -> None: ...
    async def scopes(self, workspace_id: str, contract_id: str) -> list[ScopeRecord]: ...
    async def get_scope(self, workspace_id: str, scope_id: str) -> ScopeRecord | None: ...
    async def put_scope(self, scope: ScopeRecord) -> None: ...

    # budgets
    async def get_budget(
        self, workspace_id: str, budget_id: str, *, lock: bool = False
    ) -> Budget | None: ...
    async def put_budget(self, budget: Budget, at: dt.datetime, by: str | None) -> None: ...
    async def budget_targets(self, workspace_id: str) -> list[BudgetTarget]: ...
    async def fired(self, budget: Budget, period_key: str) -> frozenset[int]: ...
    async def set_fired(
        self,
        budget: Budget,
        period_key: str,
        add: Sequence[int],
        remove: Sequence[int],
        at: dt.datetime,
    ) -> dict[int, int]:
        """Fire ``add`` and re-arm ``remove``; the crossing number of each threshold fired."""
        ...

    async def mark_announced(self, budget: Budget) -> None:
        """Record that this revision of the budget was announced (``BudgetChanged``)."""
        ...

    async def unannounced_workspaces(self) -> list[str]: ...
    async def claim_unannounced(self, workspace_id: str) -> list[str]:
        """The workspace's budgets whose revision was never announced, locked for this
        transaction (rows another transaction holds are skipped)."""
        ...

    # entries
    async def lock_workspace(self, workspace_id: str) -> None: ...
    async def get_entry(self, workspace_id: str, entry_id: str) -> StoredEntry | None: ...
    async def put_entry(self, workspace_id: str, entry: StoredEntry) -> None: ...
    async def entries_for(
        self, workspace_id: str, project_ids: Sequence[str]
    ) -> list[Contribution]:
        """The live (not deleted) time on these projects; rows may be sums of several entries
        of one project, ticket, user, month and billable flag."""
        ...

    # milestones
    async def get_milestone(
        self, workspace_id: str, project_id: str, milestone_id: str, *, lock: bool = False
    ) -> MilestoneRecord | None: ...
    async def put_milestone(self, milestone: MilestoneRecord) -> None: ...

    # invoices
    async def put_invoice_entries(
        self, workspace_id: str, invoice_id: str, entry_ids: Sequence[str], client_id: str
    ) -> None: ...
    async def invoice_entries(
        self, workspace_id: str, invoice_id: str
    ) -> tuple[list[str], str | None]:
        """The invoice's entries and client (empty and None when its export was not seen)."""
        ...

    # side effects committed with the state
    async def publish(self, events: Sequence[tuple[Event, Envelope]]) -> None: ...
    async def audit(self, workspace_id: str, facts: AuditFacts, at: dt.datetime) -> None: ...


class Store(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Tx]: ...
    def once(self, consumer: str, envelope: Envelope) -> AbstractAsyncContextManager[Tx | None]: ...


def targets_of(
    budget: Budget, scopes: Sequence[ScopeRecord], cards: dict[str, tuple[RateRule, ...]]
) -> BudgetTarget:
    """What a budget covers: its project, its scope's items, or every scope of its contract."""
    if budget.target_kind == "project":
        items: tuple[ScopeItem, ...] = (ScopeItem(budget.target_id),)
    elif budget.target_kind == "scope":
        items = tuple(i for s in scopes if s.scope_id == budget.target_id for i in s.items)
    else:
        items = tuple(
            dict.fromkeys(i for s in scopes if s.contract_id == budget.target_id for i in s.items)
        )
    card = cards.get(budget.contract_id, ()) if budget.contract_id else ()
    return BudgetTarget(budget, items, card)
