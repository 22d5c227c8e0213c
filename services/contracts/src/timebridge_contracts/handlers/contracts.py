"""Use cases of the API: contracts and scopes, budgets (versioned), milestones.

Each runs in one transaction: the change, its audit record and the event it causes (through the
outbox) commit together, so an event is published exactly when its change is stored, once.
Repeating a request that changes nothing changes nothing (no new revision, no event).
"""

import dataclasses
import datetime as dt
import uuid
from typing import Any

from timebridge_common.events import Envelope
from timebridge_common.events.contracts import ContractSigned, MilestoneReached
from timebridge_common.refusals import ConflictError, InvalidError, NotFoundError
from timebridge_contracts.domain import contracts as lifecycle
from timebridge_contracts.domain.budgets import (
    Budget,
    RateRule,
    ScopeItem,
    normalise_thresholds,
    period_key,
)
from timebridge_contracts.handlers.budgets import PRODUCER, Clock, announce, evaluate, usage
from timebridge_contracts.handlers.commands import (
    BudgetIn,
    ContractIn,
    MilestoneIn,
    ReachedIn,
    ScopeIn,
    StatusIn,
)
from timebridge_contracts.handlers.ports import (
    AuditFacts,
    ContractRecord,
    MilestoneRecord,
    ScopeRecord,
    Store,
    Tx,
)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


class Contracts:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    # contracts ---------------------------------------------------------------------------
    async def create(self, ws: str, command: ContractIn, by: str) -> ContractRecord:
        now = self._clock()
        async with self._store.transaction() as tx:
            name = await self._client_name(tx, ws, command)
            contract = ContractRecord(
                workspace_id=ws,
                contract_id=new_id("ctr"),
                title=command.title,
                client_id=command.client_id,
                client_name=name,
                status="draft",
                currency=command.currency,
                rate_card=_card(command),
                rounding_policy=command.rounding_policy,
                start_date=command.start_date,
                end_date=command.end_date,
                created_at=now,
                updated_at=now,
            )
            await tx.put_contract(contract)
            await tx.audit(ws, _contract_facts("contract.created", contract, by), now)
            return contract

    async def update(
        self, ws: str, contract_id: str, command: ContractIn, by: str
    ) -> ContractRecord:
        now = self._clock()
        async with self._store.transaction() as tx:
            current = await _contract(tx, ws, contract_id, lock=True)
            if not lifecycle.terms_editable(current.status):
                raise ConflictError(f"the contract is {current.status}: its terms are frozen")
            name = await self._client_name(tx, ws, command)
            changed = dataclasses.replace(
                current,
                title=command.title,
                client_id=command.client_id,
                client_name=name,
                currency=command.currency,
                rate_card=_card(command),
                rounding_policy=command.rounding_policy,
                start_date=command.start_date,
                end_date=command.end_date,
            )
            if changed == current:
                return current
            changed = dataclasses.replace(changed, revision=current.revision + 1, updated_at=now)
            await tx.put_contract(changed)
            await tx.audit(ws, _contract_facts("contract.changed", changed, by), now)
            return changed

    async def set_status(
        self, ws: str, contract_id: str, command: StatusIn, by: str
    ) -> ContractRecord:
        """Sign, activate or end; the same status again is a no-op (no second event)."""
        now = self._clock()
        async with self._store.transaction() as tx:
            current = await _contract(tx, ws, contract_id, lock=True)
            return await move(tx, current, command.status, at=command.at or now, by=by, now=now)

    async def add_scope(self, ws: str, contract_id: str, command: ScopeIn, by: str) -> ScopeRecord:
        now = self._clock()
        async with self._store.transaction() as tx:
            await tx.lock_workspace(ws)
            contract = await _contract(tx, ws, contract_id, lock=True)
            if contract.status == "ended":
                raise ConflictError("the contract has ended: no new scopes")
            items = tuple(
                dict.fromkeys(ScopeItem(i.project_id, i.ticket_id) for i in command.items)
            )
            scope = ScopeRecord(ws, new_id("scp"), contract_id, command.name, items)
            await tx.put_scope(scope)
            facts = {
                "scope_id": scope.scope_id,
                "name": scope.name,
                "by": by,
                "items": [dataclasses.asdict(i) for i in items],
            }
            await tx.audit(ws, AuditFacts("scope.added", facts, contract_ids=[contract_id]), now)
            # a contract-wide budget now covers more: time already logged there counts
            for target in await tx.budget_targets(ws):
                budget = target.budget
                if budget.target_kind == "contract" and budget.target_id == contract_id:
                    await announce(tx, target, now)
                    await evaluate(tx, target, period_key(budget, now.date()), now)
            return scope

    async def _client_name(self, tx: Tx, ws: str, command: ContractIn) -> str:
        if command.client_id is None:
            assert command.client_name is not None
            return command.client_name
        name = await tx.client_name(ws, command.client_id)
        if name is None:
            raise InvalidError(
                f"client {command.client_id!r} is not a mirrored client of this workspace"
                " (connect the accounting tool, or give client_name)"
            )
        return name

    # budgets -----------------------------------------------------------------------------
    async def put_budget(self, ws: str, budget_id: str, command: BudgetIn, by: str) -> Budget:
        """Create or revise a budget. A change is a new revision (kept), with every threshold
        armed again and evaluated at once against what is already consumed."""
        now = self._clock()
        async with self._store.transaction() as tx:
            await tx.lock_workspace(ws)
            contract_id = await self._budget_contract(tx, ws, command)
            current = await tx.get_budget(ws, budget_id, lock=True)
            wanted = Budget(
                workspace_id=ws,
                budget_id=budget_id,
                target_kind=command.target_kind,
                target_id=command.target_id,
                unit=command.unit,
                amount=command.amount,
                period=command.period,
                thresholds=normalise_thresholds(command.thresholds),
                revision=1 if current is None else current.revision,
                currency=command.currency,
                contract_id=contract_id,
            )
            if current is not None and _same_terms(current, wanted):
                return current
            if current is not None:
                wanted = dataclasses.replace(wanted, revision=current.revision + 1)
            await tx.put_budget(wanted, now, by)
            facts = _budget_facts(wanted) | {"by": by}
            await tx.audit(
                ws, AuditFacts("budget.revised", facts, contract_ids=_ids(contract_id)), now
            )
            for target in await tx.budget_targets(ws):
                if target.budget.budget_id == budget_id:
                    await announce(tx, target, now)
                    await evaluate(tx, target, period_key(wanted, now.date()), now)
            return wanted

    async def _budget_contract(self, tx: Tx, ws: str, command: BudgetIn) -> str | None:
        if command.target_kind == "contract":
            await _contract(tx, ws, command.target_id)
            return command.target_id
        if command.target_kind == "scope":
            scope = await tx.get_scope(ws, command.target_id)
            if scope is None:
                raise InvalidError(f"scope {command.target_id!r} does not exist")
            return scope.contract_id
        if command.contract_id is not None:
            await _contract(tx, ws, command.contract_id)
        return command.contract_id

    async def usage(self, ws: str, budget_id: str) -> dict[str, Any]:
        """The budget's consumption in its current period (empty: no such budget)."""
        async with self._store.transaction() as tx:
            return await usage(tx, ws, budget_id, self._clock())

    # milestones --------------------------------------------------------------------------
    async def put_milestone(
        self, ws: str, project_id: str, milestone_id: str, command: MilestoneIn
    ) -> MilestoneRecord:
        now = self._clock()
        async with self._store.transaction() as tx:
            if command.contract_id is not None:
                await _contract(tx, ws, command.contract_id)
            current = await tx.get_milestone(ws, project_id, milestone_id, lock=True)
            milestone = MilestoneRecord(
                ws,
                project_id,
                milestone_id,
                command.title,
                command.contract_id,
                command.due_date,
                current.reached_at if current else None,
            )
            if milestone != current:
                await tx.put_milestone(milestone)
                facts = {
                    "project_id": project_id,
                    "milestone_id": milestone_id,
                    "title": command.title,
                }
                await tx.audit(
                    ws,
                    AuditFacts("milestone.defined", facts, contract_ids=_ids(command.contract_id)),
                    now,
                )
            return milestone

    async def reach(
        self, ws: str, project_id: str, milestone_id: str, command: ReachedIn, by: str
    ) -> tuple[MilestoneRecord, bool]:
        """Mark a milestone reached: ``MilestoneReached`` once; again changes nothing."""
        now = self._clock()
        async with self._store.transaction() as tx:
            current = await tx.get_milestone(ws, project_id, milestone_id, lock=True)
            if current is None:
                raise NotFoundError(f"milestone {milestone_id!r} of project {project_id!r}")
            if current.reached_at is not None:
                return current, False
            reached = dataclasses.replace(current, reached_at=command.reached_at or now)
            await tx.put_milestone(reached)
            assert reached.reached_at is not None
            event = MilestoneReached(
                workspace_id=ws,
                contract_id=current.contract_id,
                project_id=project_id,
                milestone_id=milestone_id,
                title=current.title,
                reached_at=reached.reached_at,
            )
            await tx.publish([(event, Envelope.for_event(event, producer=PRODUCER))])
            facts = {
                "project_id": project_id,
                "milestone_id": milestone_id,
                "by": by,
                "reached_at": reached.reached_at.isoformat(),
            }
            await tx.audit(
                ws,
                AuditFacts("milestone.reached", facts, contract_ids=_ids(current.contract_id)),
                now,
            )
            return reached, True


async def move(
    tx: Tx, current: ContractRecord, status: str, *, at: dt.datetime, by: str, now: dt.datetime
) -> ContractRecord:
    """Move a (locked) contract to ``status``: signing publishes ``ContractSigned`` (through
    the outbox, in this transaction); the same status again changes nothing."""
    if current.status == status:
        return current
    if not lifecycle.can_move(current.status, status):
        raise ConflictError(lifecycle.why_not(current.status, status))
    ws, contract_id = current.workspace_id, current.contract_id
    changed = dataclasses.replace(
        current,
        status=status,
        signed_at=at if status == "signed" else current.signed_at,
        revision=current.revision + 1,
        updated_at=now,
    )
    await tx.put_contract(changed)
    await tx.audit(ws, _contract_facts(f"contract.{status}", changed, by), now)
    if status == "signed":
        scopes = await tx.scopes(ws, contract_id)
        projects = sorted({i.project_id for s in scopes for i in s.items})
        event = ContractSigned(
            workspace_id=ws,
            contract_id=contract_id,
            client_id=current.client_id,
            project_ids=tuple(projects),
            signed_at=at,
        )
        await tx.publish([(event, Envelope.for_event(event, producer=PRODUCER))])
    return changed


async def _contract(tx: Tx, ws: str, contract_id: str, *, lock: bool = False) -> ContractRecord:
    found = await tx.get_contract(ws, contract_id, lock=lock)
    if found is None:
        raise NotFoundError(f"contract {contract_id!r} does not exist")
    return found


def _card(command: ContractIn) -> tuple[RateRule, ...]:
    return tuple(
        RateRule(r.hourly_rate, r.project_id, r.user_id, r.task_type) for r in command.rate_card
    )


def _same_terms(a: Budget, b: Budget) -> bool:
    return dataclasses.replace(a, revision=0) == dataclasses.replace(b, revision=0)


def _ids(contract_id: str | None) -> list[str]:
    return [contract_id] if contract_id else []


def contract_view(c: ContractRecord) -> dict[str, Any]:
    return {
        "contract_id": c.contract_id,
        "title": c.title,
        "client_id": c.client_id,
        "client_name": c.client_name,
        "status": c.status,
        "signed_at": c.signed_at.isoformat() if c.signed_at else None,
        "start_date": c.start_date.isoformat() if c.start_date else None,
        "end_date": c.end_date.isoformat() if c.end_date else None,
        "currency": c.currency,
        "rate_card": [
            {
                "hourly_rate": str(r.hourly_rate),
                "project_id": r.project_id,
                "user_id": r.user_id,
                "task_type": r.task_type,
            }
            for r in c.rate_card
        ],
        "rounding_policy": c.rounding_policy,
        "revision": c.revision,
    }


def _contract_facts(kind: str, c: ContractRecord, by: str) -> AuditFacts:
    return AuditFacts(kind, contract_view(c) | {"by": by}, contract_ids=[c.contract_id])


def _budget_facts(b: Budget) -> dict[str, Any]:
    return {
        "budget_id": b.budget_id,
        "target_kind": b.target_kind,
        "target_id": b.target_id,
        "contract_id": b.contract_id,
        "unit": b.unit,
        "amount": str(b.amount),
        "period": b.period,
        "thresholds": list(b.thresholds),
        "currency": b.currency,
        "revision": b.revision,
    }


budget_view = _budget_facts


def scope_view(s: ScopeRecord) -> dict[str, Any]:
    return {
        "scope_id": s.scope_id,
        "contract_id": s.contract_id,
        "name": s.name,
        "items": [dataclasses.asdict(i) for i in s.items],
    }


def milestone_view(m: MilestoneRecord) -> dict[str, Any]:
    return {
        "project_id": m.project_id,
        "milestone_id": m.milestone_id,
        "title": m.title,
        "contract_id": m.contract_id,
        "due_date": m.due_date.isoformat() if m.due_date else None,
        "reached_at": m.reached_at.isoformat() if m.reached_at else None,
    }
