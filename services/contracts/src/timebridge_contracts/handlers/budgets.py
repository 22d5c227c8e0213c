"""Budget consumption and threshold crossings, from Core time entries and budget revisions.

An entry's contribution is its latest version: a newer version replaces the stored one (an edit
moves hours, a delete removes them), an older one is ignored, a redelivered record is dropped
by the inbox. After each change every budget that covered the entry's old or new version is
re-evaluated in the same transaction that stores the entry; crossings are published through
the outbox, so a threshold fires once however often the entry is seen.
"""

import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import structlog
from pydantic import ValidationError
from timebridge_providers.installed import registry

from timebridge_common.events import Envelope, TimeEntryLogged
from timebridge_common.events.budgets import BudgetChanged, BudgetItem
from timebridge_common.events.contracts import BudgetThresholdCrossed
from timebridge_contracts.domain.budgets import (
    Budget,
    Contribution,
    consumption,
    decide,
    period_key,
)
from timebridge_contracts.handlers.ports import (
    AuditFacts,
    BudgetTarget,
    Store,
    StoredEntry,
    Tx,
)

log = structlog.get_logger(__name__)

PRODUCER = "contracts"
HOME = registry().home().name
"""The home system (Core), whose entries budgets count."""
Clock = Callable[[], dt.datetime]
_ANNOUNCED = uuid.UUID("5d0a3c1e-6b7f-4e2a-9c1d-b0d6e7a8f231")
"""Namespace of the ids of late announcements (:func:`pending_event_id`)."""


def entry_key(source: str, external_id: str) -> str:
    """Core entries are known by their id; other systems' records as ``<system>:<id>``."""
    return external_id if source == HOME else f"{source}:{external_id}"


async def evaluate(
    tx: Tx,
    target: BudgetTarget,
    key: str,
    at: dt.datetime,
    *,
    project_hint: str | None = None,
    cause: Envelope | None = None,
) -> list[int]:
    """Re-evaluate one budget in one period: publish new crossings, re-arm what fell below."""
    budget = target.budget
    project_ids = sorted({item.project_id for item in target.items})
    covered = [
        e
        for e in await tx.entries_for(budget.workspace_id, project_ids)
        if target.covers(e.project_id, e.ticket_id)
    ]
    used = consumption(key, covered, target.rate_card)
    decision = decide(
        budget.thresholds, budget.amount, used.of(budget.unit), await tx.fired(budget, key)
    )
    if not decision.crossed and not decision.rearmed:
        return []
    crossings = await tx.set_fired(budget, key, decision.crossed, decision.rearmed, at)
    project_id = project_hint or (project_ids[0] if project_ids else budget.target_id)
    hours = budget.unit == "hours"
    events = []
    for threshold in decision.crossed:
        event = BudgetThresholdCrossed(
            workspace_id=budget.workspace_id,
            contract_id=budget.contract_id,
            project_id=project_id,
            threshold_percent=threshold,
            budget_revision=budget.revision,
            budget_hours=budget.amount if hours else None,
            budget_amount=None if hours else budget.amount,
            currency=None if hours else budget.currency,
            spent_hours=used.hours,
            spent_amount=None if hours else used.amount,
            crossed_at=at,
            budget_id=budget.budget_id,
            period=key,
            crossing=crossings[threshold],
        )
        events.append((event, Envelope.for_event(event, producer=PRODUCER, cause=cause)))
    await tx.publish(events)
    facts: dict[str, Any] = {
        "budget_id": budget.budget_id,
        "revision": budget.revision,
        "period": key,
        "unit": budget.unit,
        "budget": str(budget.amount),
        "spent_hours": str(used.hours),
        "spent_amount": str(used.amount),
    }
    for threshold in decision.crossed:
        await tx.audit(
            budget.workspace_id,
            AuditFacts(
                "budget.threshold_crossed",
                facts | {"threshold": threshold, "crossing": crossings[threshold]},
                contract_ids=_ids(budget.contract_id),
            ),
            at,
        )
    for threshold in decision.rearmed:
        await tx.audit(
            budget.workspace_id,
            AuditFacts(
                "budget.threshold_rearmed",
                facts | {"threshold": threshold},
                contract_ids=_ids(budget.contract_id),
            ),
            at,
        )
    return list(decision.crossed)


async def announce(
    tx: Tx, target: BudgetTarget, at: dt.datetime, *, event_id: uuid.UUID | None = None
) -> None:
    """Publish the budget's terms and what it covers now (``BudgetChanged``), in the transaction
    that changed them, so reporting shows projects against the budget the contracts hold; the
    revision is marked announced in the same transaction (see :func:`announce_pending`)."""
    budget = target.budget
    event = BudgetChanged(
        workspace_id=budget.workspace_id,
        budget_id=budget.budget_id,
        revision=budget.revision,
        target_kind=budget.target_kind,
        target_id=budget.target_id,
        contract_id=budget.contract_id,
        items=tuple(
            BudgetItem(project_id=i.project_id, ticket_id=i.ticket_id) for i in target.items
        ),
        unit=budget.unit,
        amount=budget.amount,
        currency=budget.currency,
        period=budget.period,
        thresholds=budget.thresholds,
        changed_at=at,
    )
    await tx.publish([(event, Envelope.for_event(event, producer=PRODUCER, event_id=event_id))])
    await tx.mark_announced(budget)


def pending_event_id(budget: Budget) -> uuid.UUID:
    """The id of a late announcement: one per budget and revision, so announcing it again (a
    lost marker) is dropped by the outbox and by consumers' inboxes."""
    return uuid.uuid5(_ANNOUNCED, f"{budget.workspace_id}:{budget.budget_id}:{budget.revision}")


async def announce_pending(store: Store, clock: Clock) -> int:
    """Announce, once, every budget whose current revision never was (budgets stored before
    contracts published ``BudgetChanged``); return how many.

    One transaction per workspace under the workspace lock that every budget change takes, so a
    concurrent revision or scope is announced after this one, with what it covers then; a
    replica starting at the same time waits and then finds nothing left to announce.
    """
    async with store.transaction() as tx:
        workspaces = await tx.unannounced_workspaces()
    announced = 0
    for ws in workspaces:
        async with store.transaction() as tx:
            await tx.lock_workspace(ws)
            pending = set(await tx.claim_unannounced(ws))
            now = clock()
            for target in await tx.budget_targets(ws) if pending else []:
                budget = target.budget
                if budget.budget_id not in pending:
                    continue
                try:
                    await announce(tx, target, now, event_id=pending_event_id(budget))
                except ValidationError as exc:  # raised before anything is written
                    log.error("budget not announceable", budget=budget.budget_id, error=str(exc))
                    continue
                announced += 1
    return announced


async def usage(tx: Tx, workspace_id: str, budget_id: str, at: dt.datetime) -> dict[str, Any]:
    """What a budget has consumed in its current period (the month of ``at`` if monthly)."""
    for target in await tx.budget_targets(workspace_id):
        budget = target.budget
        if budget.budget_id != budget_id:
            continue
        key = period_key(budget, at.date())
        project_ids = sorted({item.project_id for item in target.items})
        covered = [
            e
            for e in await tx.entries_for(workspace_id, project_ids)
            if target.covers(e.project_id, e.ticket_id)
        ]
        used = consumption(key, covered, target.rate_card)
        spent = used.of(budget.unit)
        percent = (spent * 100 / budget.amount).quantize(Decimal("0.1")) if budget.amount else None
        return {
            "period": key,
            "spent_hours": str(used.hours),
            "spent_amount": str(used.amount) if budget.unit == "money" else None,
            "percent": None if percent is None else str(percent),
        }
    return {}


def contribution_of(event: TimeEntryLogged) -> Contribution:
    entry = event.entry
    return Contribution(
        entry_id=entry_key(event.source, event.external_id),
        project_id=entry.project_external_id,
        ticket_id=entry.task_external_id,
        user_id=entry.user.external_id,
        day=entry.date,
        seconds=0 if event.deleted else entry.duration_seconds,
        billable=entry.billable,
    )


async def apply_entry(
    tx: Tx, envelope: Envelope, event: TimeEntryLogged, at: dt.datetime
) -> list[int]:
    """Store a Core entry's version and re-evaluate the budgets it counts (or counted) against.

    Returns the thresholds crossed. Records from other systems are audited only: the synced
    copy of a Core entry would otherwise count twice.
    """
    ws = event.workspace_id
    new = contribution_of(event)
    facts: dict[str, Any] = {
        "source": event.source,
        "external_id": event.external_id,
        "project_id": new.project_id,
        "ticket_id": new.ticket_id,
        "user_id": new.user_id,
        "date": new.day.isoformat(),
        "duration_seconds": event.entry.duration_seconds,
        "billable": new.billable,
        "deleted": event.deleted,
        "updated_at": event.updated_at.isoformat(),
        "observed_via": event.observed_via,
        "integration_id": event.integration_id,
    }
    if event.source != HOME:
        await tx.audit(
            ws,
            AuditFacts(
                "time_entry.observed",
                facts,
                entry_ids=[new.entry_id],
                event_id=str(envelope.event_id),
            ),
            at,
        )
        return []
    await tx.lock_workspace(ws)
    previous = await tx.get_entry(ws, new.entry_id)
    if previous is not None and previous.updated_at > event.updated_at:
        await tx.audit(
            ws,
            AuditFacts(
                "time_entry.stale_version_ignored",
                facts,
                entry_ids=[new.entry_id],
                event_id=str(envelope.event_id),
            ),
            at,
        )
        return []
    await tx.put_entry(ws, StoredEntry(new, event.updated_at, event.deleted))
    old = previous.contribution if previous is not None else None
    crossed: list[int] = []
    counted_against: list[dict[str, Any]] = []
    for target in await tx.budget_targets(ws):
        now_covered = target.covers(new.project_id, new.ticket_id)
        was_covered = old is not None and target.covers(old.project_id, old.ticket_id)
        if not (now_covered or was_covered):
            continue
        if now_covered and not event.deleted:
            counted_against.append(_target_ref(target.budget))
        keys = {period_key(target.budget, new.day)}
        if old is not None:
            keys.add(period_key(target.budget, old.day))
        for key in sorted(keys):
            crossed += await evaluate(
                tx, target, key, at, project_hint=new.project_id, cause=envelope
            )
    contract_ids = sorted({c["contract_id"] for c in counted_against if c["contract_id"]})
    await tx.audit(
        ws,
        AuditFacts(
            "time_entry.deleted" if event.deleted else "time_entry.logged",
            facts | {"counts_against": counted_against},
            entry_ids=[new.entry_id],
            contract_ids=contract_ids,
            event_id=str(envelope.event_id),
        ),
        at,
    )
    return crossed


def _ids(contract_id: str | None) -> list[str]:
    return [contract_id] if contract_id else []


def _target_ref(budget: Budget) -> dict[str, Any]:
    return {
        "budget_id": budget.budget_id,
        "target": f"{budget.target_kind}:{budget.target_id}",
        "contract_id": budget.contract_id,
        "revision": budget.revision,
    }
