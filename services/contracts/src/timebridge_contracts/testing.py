# ruff: noqa: ARG002 - the fake ignores what only the database needs (locks, timestamps)
"""An in-memory :class:`~timebridge_contracts.handlers.ports.Store` for the handlers' unit tests.

It keeps the same rules the Postgres adapter does (inbox per consumer, last write wins per
key, the audit chain hashed by the domain's functions); a transaction that raises rolls back
(the state is copied at the start and restored).
"""

import copy
import dataclasses
import datetime as dt
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from timebridge_common.events import Envelope, Event
from timebridge_contracts.domain.audit import GENESIS, StoredRecord, canonical, chain_hash
from timebridge_contracts.domain.budgets import Budget, Contribution
from timebridge_contracts.handlers.ports import (
    AuditFacts,
    BudgetTarget,
    ContractRecord,
    MilestoneRecord,
    ScopeRecord,
    StoredEntry,
    targets_of,
)


@dataclass
class MemoryState:
    inbox: set[tuple[str, str]] = field(default_factory=set)
    clients: dict[tuple[str, str], str] = field(default_factory=dict)
    contracts: dict[tuple[str, str], ContractRecord] = field(default_factory=dict)
    scopes: dict[tuple[str, str], ScopeRecord] = field(default_factory=dict)
    budgets: dict[tuple[str, str], Budget] = field(default_factory=dict)
    revisions: list[Budget] = field(default_factory=list)
    announced: dict[tuple[str, str], int] = field(default_factory=dict)
    fired: set[tuple[str, str, int, str, int]] = field(default_factory=set)
    crossings: dict[tuple[str, str, int, str, int], int] = field(default_factory=dict)
    entries: dict[tuple[str, str], StoredEntry] = field(default_factory=dict)
    milestones: dict[tuple[str, str, str], MilestoneRecord] = field(default_factory=dict)
    invoices: dict[tuple[str, str], tuple[list[str], str]] = field(default_factory=dict)
    published: list[tuple[Event, Envelope]] = field(default_factory=list)
    audit: list[StoredRecord] = field(default_factory=list)


class MemoryTx:
    def __init__(self, state: MemoryState) -> None:
        self.s = state

    async def put_client(
        self,
        workspace_id: str,
        client_id: str,
        *,
        name: str,
        provider: str,
        status: str,
        revision: int,
    ) -> None:
        self.s.clients[(workspace_id, client_id)] = name

    async def client_name(self, workspace_id: str, client_id: str) -> str | None:
        return self.s.clients.get((workspace_id, client_id))

    async def get_contract(
        self, workspace_id: str, contract_id: str, *, lock: bool = False
    ) -> ContractRecord | None:
        return self.s.contracts.get((workspace_id, contract_id))

    async def put_contract(self, contract: ContractRecord) -> None:
        self.s.contracts[(contract.workspace_id, contract.contract_id)] = contract

    async def scopes(self, workspace_id: str, contract_id: str) -> list[ScopeRecord]:
        return [
            s
            for (ws, _), s in self.s.scopes.items()
            if ws == workspace_id and s.contract_id == contract_id
        ]

    async def get_scope(self, workspace_id: str, scope_id: str) -> ScopeRecord | None:
        return self.s.scopes.get((workspace_id, scope_id))

    async def put_scope(self, scope: ScopeRecord) -> None:
        self.s.scopes[(scope.workspace_id, scope.scope_id)] = scope

    async def get_budget(
        self, workspace_id: str, budget_id: str, *, lock: bool = False
    ) -> Budget | None:
        return self.s.budgets.get((workspace_id, budget_id))

    async def put_budget(self, budget: Budget, at: dt.datetime, by: str | None) -> None:
        self.s.budgets[(budget.workspace_id, budget.budget_id)] = budget
        self.s.revisions.append(budget)

    async def budget_targets(self, workspace_id: str) -> list[BudgetTarget]:
        scopes = [s for (ws, _), s in self.s.scopes.items() if ws == workspace_id]
        cards = {
            c.contract_id: c.rate_card
            for (ws, _), c in self.s.contracts.items()
            if ws == workspace_id
        }
        return [
            targets_of(b, scopes, cards)
            for (ws, _), b in sorted(self.s.budgets.items())
            if ws == workspace_id
        ]

    async def fired(self, budget: Budget, period_key: str) -> frozenset[int]:
        key = (budget.workspace_id, budget.budget_id, budget.revision, period_key)
        return frozenset(f[4] for f in self.s.fired if f[:4] == key)

    async def set_fired(
        self,
        budget: Budget,
        period_key: str,
        add: Sequence[int],
        remove: Sequence[int],
        at: dt.datetime,
    ) -> dict[int, int]:
        key = (budget.workspace_id, budget.budget_id, budget.revision, period_key)
        for threshold in remove:
            self.s.fired.discard((*key, threshold))
        for threshold in add:
            self.s.fired.add((*key, threshold))
            self.s.crossings[(*key, threshold)] = self.s.crossings.get((*key, threshold), 0) + 1
        return {t: self.s.crossings[(*key, t)] for t in add}

    async def mark_announced(self, budget: Budget) -> None:
        self.s.announced[(budget.workspace_id, budget.budget_id)] = budget.revision

    async def unannounced_workspaces(self) -> list[str]:
        return sorted({ws for ws, _ in self._unannounced()})

    async def claim_unannounced(self, workspace_id: str) -> list[str]:
        return [budget_id for ws, budget_id in self._unannounced() if ws == workspace_id]

    def _unannounced(self) -> list[tuple[str, str]]:
        return [
            k for k, b in sorted(self.s.budgets.items()) if self.s.announced.get(k) != b.revision
        ]

    async def lock_workspace(self, workspace_id: str) -> None:
        return None

    async def get_entry(self, workspace_id: str, entry_id: str) -> StoredEntry | None:
        return self.s.entries.get((workspace_id, entry_id))

    async def put_entry(self, workspace_id: str, entry: StoredEntry) -> None:
        self.s.entries[(workspace_id, entry.contribution.entry_id)] = entry

    async def entries_for(
        self, workspace_id: str, project_ids: Sequence[str]
    ) -> list[Contribution]:
        return [
            e.contribution
            for (ws, _), e in self.s.entries.items()
            if ws == workspace_id and not e.deleted and e.contribution.project_id in project_ids
        ]

    async def get_milestone(
        self, workspace_id: str, project_id: str, milestone_id: str, *, lock: bool = False
    ) -> MilestoneRecord | None:
        return self.s.milestones.get((workspace_id, project_id, milestone_id))

    async def put_milestone(self, milestone: MilestoneRecord) -> None:
        key = (milestone.workspace_id, milestone.project_id, milestone.milestone_id)
        self.s.milestones[key] = milestone

    async def put_invoice_entries(
        self, workspace_id: str, invoice_id: str, entry_ids: Sequence[str], client_id: str
    ) -> None:
        self.s.invoices[(workspace_id, invoice_id)] = (list(entry_ids), client_id)

    async def invoice_entries(
        self, workspace_id: str, invoice_id: str
    ) -> tuple[list[str], str | None]:
        found = self.s.invoices.get((workspace_id, invoice_id))
        return (list(found[0]), found[1]) if found else ([], None)

    async def publish(self, events: Sequence[tuple[Event, Envelope]]) -> None:
        self.s.published.extend(events)

    async def audit(self, workspace_id: str, facts: AuditFacts, at: dt.datetime) -> None:
        chain = [r for r in self.s.audit if r.columns["workspace_id"] == workspace_id]
        seq = len(chain) + 1
        prev = chain[-1].hash if chain else GENESIS
        body: dict[str, Any] = {
            "workspace_id": workspace_id,
            "seq": seq,
            "kind": facts.kind,
            "recorded_at": at.astimezone(dt.UTC).isoformat(),
            "entry_ids": list(facts.entry_ids),
            "contract_ids": list(facts.contract_ids),
            "client_ids": sorted(
                set(facts.client_ids)
                | {
                    c.client_id
                    for (ws, cid), c in self.s.contracts.items()
                    if ws == workspace_id and cid in facts.contract_ids and c.client_id
                }
            ),
            "invoice_id": facts.invoice_id,
            "event_id": facts.event_id,
            "data": facts.data,
        }
        text = canonical(body)
        columns = {k: body[k] for k in ("workspace_id", "seq", "kind", "entry_ids", "client_ids")}
        self.s.audit.append(StoredRecord(seq, text, prev, chain_hash(prev, text), columns))


class MemoryStore:
    def __init__(self) -> None:
        self.state = MemoryState()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[MemoryTx]:
        saved = copy.deepcopy(self.state)
        try:
            yield MemoryTx(self.state)
        except BaseException:
            self.state = saved
            raise

    @asynccontextmanager
    async def once(self, consumer: str, envelope: Envelope) -> AsyncIterator[MemoryTx | None]:
        key = (consumer, str(envelope.event_id))
        if key in self.state.inbox:
            yield None
            return
        async with self.transaction() as tx:
            tx.s.inbox.add(key)
            yield tx

    def published(self, kind: type[Event]) -> list[Any]:
        return [e for e, _ in self.state.published if isinstance(e, kind)]

    def audit_kinds(self) -> list[str]:
        return [json.loads(r.body)["kind"] for r in self.state.audit]


def replace(record: Any, **changes: Any) -> Any:
    return dataclasses.replace(record, **changes)
