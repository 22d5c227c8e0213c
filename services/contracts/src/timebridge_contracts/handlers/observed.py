"""Contracts and milestones announced by the home work system (``ContractObserved``,
``MilestoneObserved``), applied like an admin's commands, in the inbox's transaction.

A source's contract is always the same contract here (its id derives from the source and its
id there), so a redelivery or a repeated announcement changes nothing: signing publishes
``ContractSigned`` once, reaching a milestone ``MilestoneReached`` once. A draft's terms follow
the source; after signing they are frozen here too, and only the status moves on. An
announcement older than the last one applied (by the source's ``updated_at``: a retried
delivery arriving after a newer one) is ignored. The projects a new contract covers become one
scope, ``<contract id>:projects``.
"""

import dataclasses
import datetime as dt
import hashlib
import re

from timebridge_common.events import Envelope
from timebridge_common.events.contracts import (
    ContractObserved,
    MilestoneObserved,
    MilestoneReached,
)
from timebridge_contracts.domain import contracts as lifecycle
from timebridge_contracts.domain.budgets import ScopeItem
from timebridge_contracts.handlers.budgets import PRODUCER
from timebridge_contracts.handlers.contracts import contract_view, move, scope_view
from timebridge_contracts.handlers.ports import (
    AuditFacts,
    ContractRecord,
    MilestoneRecord,
    ScopeRecord,
    Tx,
)

ORDER = ("draft", "signed", "active", "ended")
_ADDRESSABLE = re.compile(r"^[A-Za-z0-9_.:-]{1,200}$")


def observed_contract_id(source: str, external_id: str) -> str:
    """``<source>:<id>``; hashed when the source's id would not fit the API's id pattern."""
    wanted = f"{source}:{external_id}"
    if _ADDRESSABLE.match(wanted):
        return wanted
    return f"{source}:h{hashlib.sha256(external_id.encode()).hexdigest()[:32]}"


def _facts(kind: str, contract: ContractRecord, event: ContractObserved, cause: str) -> AuditFacts:
    data = contract_view(contract) | {
        "by": f"{event.source} ({event.observed_via})",
        "source_external_id": event.external_id,
        "source_version": event.source_version,
    }
    return AuditFacts(kind, data, contract_ids=[contract.contract_id], event_id=cause)


def _with_terms(
    record: ContractRecord, event: ContractObserved, at: dt.datetime | None
) -> ContractRecord:
    return dataclasses.replace(
        record,
        title=event.title,
        client_name=event.client_name,
        currency=event.currency,
        start_date=event.start_date,
        end_date=event.end_date,
        updated_at=at,
    )


async def apply_contract(
    tx: Tx, envelope: Envelope, event: ContractObserved, now: dt.datetime
) -> ContractRecord:
    ws, cause = event.workspace_id, str(envelope.event_id)
    contract_id = observed_contract_id(event.source, event.external_id)
    current = await tx.get_contract(ws, contract_id, lock=True)
    known = current.source_updated_at if current else None
    if current is not None and known is not None and event.updated_at <= known:
        return current  # an announcement older than (or as old as) the one applied
    if current is None:
        blank = ContractRecord(ws, contract_id, "", None, "", "draft", "", created_at=now)
        current = _with_terms(blank, event, now)
        await tx.put_contract(current)
        await tx.audit(ws, _facts("contract.created", current, event, cause), now)
        if event.project_ids:
            items = tuple(ScopeItem(p, None) for p in dict.fromkeys(event.project_ids))
            scope = ScopeRecord(ws, f"{contract_id}:projects", contract_id, "Projects", items)
            await tx.put_scope(scope)
            facts = scope_view(scope) | {"by": event.source}
            await tx.audit(
                ws,
                AuditFacts("scope.added", facts, contract_ids=[contract_id], event_id=cause),
                now,
            )
    elif lifecycle.terms_editable(current.status) and event.status == "draft":
        changed = _with_terms(current, event, current.updated_at)
        if changed != current:
            current = dataclasses.replace(changed, revision=current.revision + 1, updated_at=now)
            await tx.put_contract(current)
            await tx.audit(ws, _facts("contract.changed", current, event, cause), now)
    by = f"{event.source} ({event.observed_via})"
    while ORDER.index(current.status) < ORDER.index(event.status):
        step = (
            event.status
            if lifecycle.can_move(current.status, event.status)
            else ORDER[ORDER.index(current.status) + 1]
        )
        at = (event.signed_at or event.updated_at) if step == "signed" else event.updated_at
        current = await move(tx, current, step, at=at, by=by, now=now)
    current = dataclasses.replace(current, source_updated_at=event.updated_at)
    await tx.put_contract(current)
    return current


async def apply_milestone(
    tx: Tx, envelope: Envelope, event: MilestoneObserved, now: dt.datetime
) -> MilestoneRecord:
    ws, cause = event.workspace_id, str(envelope.event_id)
    current = await tx.get_milestone(ws, event.project_id, event.external_id, lock=True)
    milestone = MilestoneRecord(
        ws,
        event.project_id,
        event.external_id,
        event.title,
        current.contract_id if current else None,
        event.due_date,
        current.reached_at if current else None,
    )
    facts = {
        "project_id": event.project_id,
        "milestone_id": event.external_id,
        "title": event.title,
        "by": f"{event.source} ({event.observed_via})",
        "source_version": event.source_version,
    }
    if milestone != current:
        await tx.put_milestone(milestone)
        await tx.audit(ws, AuditFacts("milestone.defined", facts, event_id=cause), now)
    if event.reached_at is None or milestone.reached_at is not None:
        return milestone
    reached = dataclasses.replace(milestone, reached_at=event.reached_at)
    await tx.put_milestone(reached)
    published = MilestoneReached(
        workspace_id=ws,
        contract_id=reached.contract_id,
        project_id=reached.project_id,
        milestone_id=reached.milestone_id,
        title=reached.title,
        reached_at=event.reached_at,
    )
    await tx.publish([(published, Envelope.for_event(published, producer=PRODUCER))])
    facts |= {"reached_at": event.reached_at.isoformat()}
    await tx.audit(ws, AuditFacts("milestone.reached", facts, event_id=cause), now)
    return reached
