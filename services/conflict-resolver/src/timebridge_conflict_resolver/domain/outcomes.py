"""What a decided change publishes and commits: its ``EntrySynced`` and the state it leaves.

Pure: each function answers a :class:`Finish` (or an outcome) from what the write path did;
the handlers commit it in one transaction with the inbox claim.
"""

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from timebridge_common.events import EntrySynced
from timebridge_common.events.catalog import SyncStatus
from timebridge_common.outbound.http import AuthenticationError, ProviderError
from timebridge_conflict_resolver.domain.convergence import describe, rewritten
from timebridge_conflict_resolver.domain.decisions import Decision
from timebridge_conflict_resolver.domain.plans import (
    Applied,
    Job,
    Plan,
    link_of,
    names,
    single,
    why,
)
from timebridge_conflict_resolver.domain.records import (
    Observed,
    Operation,
    billable_note,
    record_key,
)
from timebridge_conflict_resolver.domain.state import (
    ConflictItem,
    ConflictKind,
    Link,
    TargetRecord,
)

ECHO = "echo of Timebridge's own write"
REASON_LIMIT = 2_000
RESPONSE_LIMIT = 4_000


@dataclass(frozen=True, slots=True)
class Finish:
    """A decision to commit: its outcome (``None``: nothing to publish) and the state it sets."""

    outcome: EntrySynced | None
    leases: int = 0
    link: Link | None = None
    targets: tuple[TargetRecord, ...] = ()
    conflict: ConflictItem | None = None


def outcome(
    job: Job,
    now: dt.datetime,
    status: SyncStatus,
    reason: str | None,
    *,
    operation: Operation = "none",
    target_id: str | None = None,
    with_entry: bool = True,
    response: str | None = None,
) -> EntrySynced:
    """The ``EntrySynced`` of ``job``.

    ``with_entry`` is False for outcomes about a copy Timebridge made: the hours of a pair
    are carried once, by the entry they come from (the invoice ledger counts ``entry``).
    """
    event = job.event
    return EntrySynced(
        workspace_id=event.workspace_id,
        integration_id=event.integration_id,
        source=event.source,
        source_external_id=event.source_external_id,
        target=event.target,
        target_external_id=target_id,
        status=status,
        operation=operation,
        reason=None if reason is None else reason[:REASON_LIMIT],
        provider_response=None if response is None else response[:RESPONSE_LIMIT],
        entry=event.entry if with_entry else None,
        source_updated_at=event.source_updated_at,
        synced_at=now,
    )


def dead_letter_reason(event_id: uuid.UUID, error_class: str, attempts: int, why: str) -> str:
    if error_class == "invalid":
        what = f"it cannot be synced: {why}"
    else:
        what = f"it kept failing ({attempts} attempts): {why}"
    return (
        f"dead-lettered, {what}; replay it (timebridge-dlt replay --event-id {event_id}) once"
        " the cause is fixed"
    )


def echo_reason(copy: TargetRecord, origins: Sequence[Link]) -> str:
    if copy.origin == "written":
        return f"{ECHO} (the copy of {names(origins)})"
    return f"same work as {names(origins)}, already linked"


def refused(job: Job, now: dt.datetime, plan: Plan, exc: ProviderError) -> EntrySynced:
    if isinstance(exc, AuthenticationError):
        reason = (
            f"{exc.provider} refused the connection's credentials ({exc.status}):"
            " test and reconnect the integration"
        )
    else:
        reason = f"{exc.provider} refused {exc.method} {exc.path} ({exc.status})"
    return outcome(job, now, "error", reason, response=exc.body, with_entry=plan.kind == "forward")


def conflict_reason(job: Job, plan: Plan, decision: Decision) -> str:
    if plan.kind == "back":
        return (
            f"changed in {plan.system} since the last sync, and its copy in"
            f" {job.pair.other(plan.system).name} was changed too: choose which version to keep"
        )
    if plan.kind == "restore":
        return (
            f"changed in {plan.system} after Timebridge copied {names(plan.origins)} there:"
            " choose which version to keep"
        )
    return f"{decision.reason}: choose which version to keep"


def conflict(
    job: Job,
    now: dt.datetime,
    plan: Plan,
    kind: ConflictKind,
    *,
    reason: str,
    read: Observed | None,
    leases: int,
    applied: Applied | None = None,
    refusal: ProviderError | None = None,
) -> Finish:
    """Into the review queue with both versions, unless settled by the policy later."""
    event = job.event
    target_id = read.target_id if read else None
    if plan.kind != "forward":
        target_id = single(plan.origins)
    item = ConflictItem(
        conflict_id=uuid.uuid4(),
        workspace_id=event.workspace_id,
        integration_id=event.integration_id,
        kind=kind,
        reason=reason[:REASON_LIMIT],
        event=event,
        cause=job.cause,
        source_version=None if event.operation == "delete" else event.source_entry,
        target_version=read.fields if read else None,
        target_external_id=target_id,
    )
    result = outcome(
        job,
        now,
        "conflict",
        reason,
        target_id=target_id,
        response=refusal.body if refusal else None,
        with_entry=plan.kind == "forward",
    )
    targets = tuple(applied.targets) if applied else ()
    return Finish(result, leases=leases, targets=targets, conflict=item)


def read_back_differs(
    job: Job, now: dt.datetime, plan: Plan, operation: Operation, back: Observed | None
) -> EntrySynced:
    return outcome(
        job,
        now,
        "error",
        f"the {operation} was confirmed but reading the record back shows"
        " something else: not counted as synced",
        target_id=back.target_id if back else None,
        response=dump(back),
        with_entry=plan.kind == "forward",
    )


def settled(
    job: Job, now: dt.datetime, plan: Plan, decisions: Sequence[Decision], done: Applied
) -> Finish:
    """The outcome once every record of the plan is written, in sync or kept."""
    if plan.kind == "back":
        return carried(job, now, plan, decisions[0], done)
    event = job.event
    home = plan.home or plan.slots[0].slot.key
    index = next(i for i, s in enumerate(plan.slots) if s.slot.key == home)
    record = done.records.get(home)
    target_id = record.target_id if record else plan.slots[index].slot.target_id
    operation = done.operations.get(home, "none")
    because = f" ({why(job)})"
    notes = [f"{d.reason}{because if d.settled else ''}" for d in decisions if d.reason]
    targets = tuple(done.targets)
    if plan.kind == "restore":
        copied = f"changed in {plan.system} after Timebridge copied {names(plan.origins)} there"
        reason = {
            "in_sync": f"{ECHO} (the copy of {names(plan.origins)})",
            "keep": f"{copied}; {plan.system}'s version kept{because}",
        }.get(decisions[0].action, f"{copied}; restored from {event.target}{because}")
        result = outcome(
            job,
            now,
            "skipped",
            reason,
            operation=operation,
            target_id=single(plan.origins),
            with_entry=False,
        )
        return Finish(result, leases=len(decisions), targets=targets)
    if decisions[index].action == "keep":
        result = outcome(job, now, "skipped", "; ".join(notes), target_id=target_id)
        return Finish(result, leases=len(decisions), targets=targets)
    if event.operation == "delete":
        operation = "delete"
    if operation == "none" and not notes and all(d.action == "in_sync" for d in decisions):
        notes = [f"{event.target} already holds this version: nothing written"]
    if record is not None and event.operation == "upsert":
        target = job.pair.of(event.target)
        billable = billable_note(event.source, event.entry.billable, target, record)
        notes += [billable] if billable else []
    result = outcome(
        job, now, "synced", "; ".join(notes) or None, operation=operation, target_id=target_id
    )
    return Finish(result, leases=len(decisions), link=link_of(event, home), targets=targets)


def carried(job: Job, now: dt.datetime, plan: Plan, decision: Decision, done: Applied) -> Finish:
    """The outcome of carrying an edit of a copy back to its origin, and the new baseline.

    The copy is confirmed as the person left it, and the origin's link says that this is
    what the origin now contributes (and what the origin now is): when the origin's own
    sighting of the carried edit comes back, it finds both systems already equal.
    """
    event = job.event
    slot, origin, copy, carry = plan.slots[0], plan.origins[0], plan.copy, plan.carry
    assert copy is not None
    assert carry is not None
    key = slot.slot.key
    now_there = done.records.get(key)
    operation = done.operations.get(key, "none")
    origins = names(plan.origins)
    changed = f"changed in {event.source} after Timebridge copied {origins} there"
    notes = list(carry.notes)
    if now_there is not None and event.operation == "upsert":
        says = event.source_entry.billable
        mismatch = billable_note(event.source, says, job.pair.of(plan.system), now_there)
        notes += [mismatch] if mismatch else []
    if decision.settled and decision.reason:
        notes.append(f"{decision.reason} ({why(job)})")
    status: SyncStatus = "synced"
    if operation != "none":
        what = "deleted" if operation == "delete" else f"applied ({describe(carry.fields)})"
        reason = f"{changed}: {what} to {origins}"
    elif carry.fields or carry.delete:
        reason = f"{changed}: {origins} already holds it, nothing written"
    else:
        status = "skipped"
        reason = f"{changed}: nothing {plan.system} keeps was changed"
    edited = None if event.operation == "delete" else event.source_entry
    written = rewritten(origin.written, edited, carry)
    moved_to = copy.key  # where the record now is: a day record's task, user and day
    if job.pair.of(copy.system).granularity == "task_user_day" and edited is not None:
        moved_to = record_key(edited) or copy.key
    link = replace(
        origin,
        target_key=moved_to,
        written=written,
        source_entry=now_there.fields if now_there else None,
    )
    targets = [
        TargetRecord(
            copy.system, moved_to, copy.target_id, edited, event.source_updated_at, copy.origin
        )
    ]
    if moved_to != copy.key:  # the record is no longer where it was
        targets.append(TargetRecord(copy.system, copy.key, None, None, None, copy.origin))
    result = outcome(
        job,
        now,
        status,
        "; ".join([reason, *notes]),
        operation=operation,
        target_id=origin.source_id,
        with_entry=False,
    )
    return Finish(result, leases=1, link=link, targets=tuple(targets))


def dump(observed: Observed | None) -> str:
    if observed is None:
        return "no record"
    body: dict[str, Any] = {"id": observed.target_id, **observed.fields.model_dump(mode="json")}
    return json.dumps(body)
