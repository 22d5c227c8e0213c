"""Syncing one mapped change to its target: decide, write, read back, publish the outcome.

Delivery guarantees. ``EntryMapped`` arrives at least once. The decision's state (links,
confirmed target states, review queue), the ``EntrySynced`` outcome (outbox) and the inbox claim
commit in one transaction, so once that commit happened a redelivery changes nothing. Provider
calls cannot be part of it, so the write path is built to be repeated from any point:

1. Before reading a target record the handler takes a *write lease* on it (an intent row owned
   by the event id): one writer per record across replicas, even when two entries of different
   Kafka keys land in the same Everhour record.
2. It reads the record, decides against what Timebridge last confirmed there, notes the planned
   write on the lease, writes, and reads the record back.
3. It commits state, outcome and inbox claim, releasing the lease.

A crash or a transient failure anywhere before 3 leaves the offset uncommitted; the redelivery
(same event id, so it re-takes its own lease) starts again from a fresh read. Nothing is written
twice because every write is absolute (Everhour ``PUT`` of the sum, Core ``PATCH`` of fields,
deletes), creates are guarded (Everhour ``POST`` only when the read found no record, and an
unknown outcome is looked up before anything else; Core creates carry an ``Idempotency-Key`` and
are looked up by ``external_ref``), and a record that already holds the desired state is never
written again: the redelivery finishes with the outcome the first attempt would have published.
A lease left by an attempt that never came back (its message dead-lettered) expires after
``lease_s``; whoever takes it over treats the abandoned planned state as Timebridge's own.

Outcomes (the guide's "stricter completion checks"): ``synced`` only when the target confirmed
the write and a read-back equals what was sent (or the record already held it); a refusal is
``error`` with the provider's answer; a locked or invoiced record, or a record changed on both
sides, is a ``conflict`` (review queue, or the integration's policy). Transient failures
(``TransientError``, 429 with ``Retry-After``) propagate: the consumer retries with backoff and
dead-letters after its maximum attempts; :meth:`Syncer.on_dead_letter` then publishes ``error``
with the reason, so the entry's status shows it until a replay succeeds.

Edits of copies (``domain/convergence.py``). A record Timebridge manages that was changed in its
own system is, where the integration's direction takes that system as a source, carried back to
the one entry it copies (a *back* plan: the origin is read, compared with what Timebridge last
knew of it, written, read back); the copy is then confirmed as the person left it and the
origin's link says what it now contributes, so the origin's own sighting of that write finds
both sides equal and writes nothing. If the origin changed too, the policy decides: the copy's
side wins by carrying, the origin's by restoring the copy. An edit that cannot be carried (a
record summing several entries, a move Everhour cannot express) is reviewed, or restored where
the origin's side wins. Under a direction that does not take the copy's system, edits of copies
are reviewed or restored as before.
"""

import contextlib
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

import structlog
from timebridge_providers.core.client import EntryLockedError
from timebridge_providers.everhour.client import TimeRecordLockedError

from timebridge_common.connections import ConnectionCopies
from timebridge_common.crypto import DecryptionError
from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import (
    ConnectionChanged,
    EntryMapped,
    EntrySynced,
    Envelope,
    IntegrationSettings,
    TimeEntryFields,
)
from timebridge_common.events.catalog import SyncStatus
from timebridge_common.kafka.consumer import DeadLettered
from timebridge_common.outbound.http import AuthenticationError, ProviderError
from timebridge_conflict_resolver.domain.convergence import (
    Carry,
    Direction,
    Uncarried,
    carry_back,
    describe,
    flows_back,
    rewritten,
    when_uncarried,
)
from timebridge_conflict_resolver.domain.decisions import (
    Decision,
    Policy,
    Side,
    Verdict,
    decide,
    is_echo,
    source_changed,
    winner,
)
from timebridge_conflict_resolver.domain.matching import Observation, candidate, matches
from timebridge_conflict_resolver.domain.records import (
    CORE,
    EVERHOUR,
    Contribution,
    Observed,
    Operation,
    Slot,
    Write,
    billable_note,
    desired,
    merged_fields,
    record_key,
    same,
    slot_key,
    wanted_state,
)
from timebridge_conflict_resolver.handlers.ports import (
    Completion,
    ConflictClosedError,
    ConflictItem,
    ConflictKind,
    Lease,
    Link,
    ObservationIndex,
    Origin,
    Providers,
    SyncStore,
    TargetRecord,
    TargetSystem,
)

CONSUMER = "conflict-resolver.entry-mapped"
DEAD_LETTERS = "conflict-resolver.entry-mapped.dead-letter"
"""The inbox name of "this change was dead-lettered": its ``error`` is published once."""
PRODUCER = "conflict-resolver"
ECHO = "echo of Timebridge's own write"
REASON_LIMIT = 2_000
RESPONSE_LIMIT = 4_000

log = structlog.get_logger(__name__)


class ReviewRefusedError(Exception):
    """A review request cannot be carried out; ``status`` is the HTTP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True, slots=True)
class _Job:
    """One attempt at one change: from Kafka (with its inbox claim) or a person's resolution."""

    event: EntryMapped
    owner: uuid.UUID
    cause: Envelope
    claim: tuple[str, Envelope] | None = None
    forced: Side | None = None
    resolving: tuple[uuid.UUID, str] | None = None
    policy: Policy = "manual_review"
    direction: Direction = "two_way"


@dataclass(frozen=True, slots=True)
class _SlotPlan:
    slot: Slot
    baseline: TimeEntryFields | None
    wanted: TimeEntryFields | None
    merge: frozenset[str] | None
    origin: Origin | None
    """How Timebridge came to manage the record; ``None``: it does not yet."""


PlanKind = Literal["forward", "restore", "back"]


@dataclass(frozen=True, slots=True)
class _Plan:
    """The records a change touches and when writing them is what the winning side wants.

    A *forward* plan writes the change into its target (a win of the source means writing). The
    two others answer a change made to a copy Timebridge manages. A *restore* plan writes the
    copy back from the entries it copies (a win of the target, where those entries live, means
    writing). A *back* plan carries the edit to the one entry the copy is made of (a win of the
    source, the copy's system, means writing; a win of the origin's system means restoring).
    """

    system: str
    slots: tuple[_SlotPlan, ...]
    writes_on: Side
    source_changed: bool
    kind: PlanKind = "forward"
    home: str | None = None
    """Forward: the record the source entry contributes to afterwards."""
    origins: tuple[Link, ...] = ()
    """Restore and back: the entries the copy is made of."""
    copy: TargetRecord | None = None
    """Back: the edited copy."""
    carry: Carry | None = None
    """Back: what of the edit is applied to the origin."""


@dataclass
class _Applied:
    """What the write path did, slot by slot, for the completion."""

    targets: list[TargetRecord]
    operations: dict[str, Operation]
    records: dict[str, Observed | None]


@dataclass
class Syncer:
    store: SyncStore
    observations: ObservationIndex
    connections: ConnectionCopies
    providers: Providers
    clock: Callable[[], dt.datetime]
    lease_s: float = 60.0

    async def on_entry_mapped(self, envelope: Envelope, event: EntryMapped) -> EntrySynced | None:
        """Sync one mapped change; ``None`` when there is nothing to publish (a duplicate or an
        older version than the one already synced, which must not change the entry's status)."""
        if await self.store.processed(CONSUMER, envelope.event_id):
            log.info("entry change already synced", event_id=str(envelope.event_id))
            return None
        job = _Job(event, envelope.event_id, envelope, claim=(CONSUMER, envelope))
        return await self._sync(job)

    async def on_dead_letter(self, letter: DeadLettered[EntryMapped]) -> EntrySynced | None:
        """A change that was dead-lettered gets ``error``, with the reason, as its status.

        Otherwise the entry would keep showing its previous status (``synced``, even) while its
        newest change sits in the dead-letter topic. Published once per event id (its own inbox
        claim); a replay that then succeeds publishes the new outcome, which is later and so
        becomes the status. ``None``: nothing to publish (undecodable, or already synced).
        """
        envelope, event = letter.envelope, letter.event
        if envelope is None or event is None:
            log.warning("undecodable EntryMapped dead-lettered: no entry to report it on")
            return None
        if await self.store.processed(CONSUMER, envelope.event_id):
            return None
        if letter.error_class == "invalid":
            why = f"it cannot be synced: {letter.reason}"
        else:
            why = f"it kept failing ({letter.attempts} attempts): {letter.reason}"
        reason = (
            f"dead-lettered, {why}; replay it (timebridge-dlt replay --event-id"
            f" {envelope.event_id}) once the cause is fixed"
        )
        job = _Job(event, uuid.uuid4(), envelope, claim=(DEAD_LETTERS, envelope))
        return await self._finish(job, self._outcome(job, "error", reason))

    async def resolve(self, workspace_id: str, conflict_id: uuid.UUID, keep: str) -> EntrySynced:
        """A person settles a conflict by choosing the system whose version is kept."""
        item = await self.store.conflict(conflict_id)
        if item is None or item.workspace_id != workspace_id:
            raise ReviewRefusedError(404, "no such conflict in this workspace")
        if item.status != "open":
            raise ReviewRefusedError(409, f"the conflict is already {item.status}")
        sides: dict[str, Side] = {item.event.source: "source", item.event.target: "target"}
        side = sides.get(keep)
        if side is None:
            raise ReviewRefusedError(422, f"keep must be one of {', '.join(sorted(sides))}")
        resolving = (item.conflict_id, keep)
        job = _Job(item.event, uuid.uuid4(), item.cause, forced=side, resolving=resolving)
        try:
            outcome = await self._sync(job)
        except ConflictClosedError:
            outcome = None
        if outcome is None:
            raise ReviewRefusedError(409, "the conflict was closed meanwhile")
        return outcome

    async def _sync(self, job: _Job) -> EntrySynced | None:
        event = job.event
        integration = await self.connections.get(event.integration_id)
        if integration is None:
            raise await self.connections.missing(f"integration {event.integration_id}")
        if integration.workspace_id != event.workspace_id:
            raise InvalidMessageError(
                f"integration {event.integration_id} is not in workspace {event.workspace_id}"
            )
        if integration.status != "connected":
            outcome = self._outcome(job, "skipped", "the integration is disconnected")
            return await self._finish(job, outcome)
        if integration.provider != EVERHOUR or {event.source, event.target} != {CORE, EVERHOUR}:
            reason = f"Timebridge does not sync {event.source} to {event.target}"
            return await self._finish(job, self._outcome(job, "error", reason))
        settings = integration.settings or IntegrationSettings()
        job = replace(job, policy=settings.conflict_policy, direction=settings.direction)
        return await self._route(job, integration)

    async def _route(self, job: _Job, integration: ConnectionChanged) -> EntrySynced | None:
        """Stale, echo, a changed copy, the same work already there, or a change to write."""
        event = job.event
        link = await self.store.link(event.integration_id, event.source, event.source_external_id)
        if job.forced is None and link and event.source_updated_at < link.source_updated_at:
            log.info("older version than the one synced, ignored", entry=event.source_external_id)
            return await self._finish(job, None)
        copy = await self.store.counterpart(
            event.integration_id, event.source, event.source_external_id
        )
        if copy is not None:
            if job.forced is None and is_echo(event, copy.confirmed, copy.confirmed_at):
                return await self._echo(job, copy)
            if link is None:
                return await self._changed_copy(job, integration, copy)
        if link is None and event.operation == "upsert" and job.forced is None:
            linked = await self._link_same_work(job, integration)
            if linked is not None:
                return linked
        return await self._forward(job, integration, link)

    async def _forward(
        self, job: _Job, integration: ConnectionChanged, link: Link | None
    ) -> EntrySynced | None:
        plan = await self._forward_plan(job.event, link)
        if isinstance(plan, str):
            return await self._finish(job, self._outcome(job, "error", plan))
        if not plan.slots:
            reason = "deleted before it was synced: nothing to remove"
            return await self._finish(job, self._outcome(job, "skipped", reason))
        return await self._apply(job, integration, plan)

    async def _echo(self, job: _Job, copy: TargetRecord) -> EntrySynced | None:
        """The source entry is a record Timebridge manages, as Timebridge left it: no write.

        Published as ``skipped`` under the copy's own key, so the status of the entry it copies
        stays ``synced``, and without ``entry``, so its hours are never counted twice.
        """
        origins = await self.store.contributions(job.event.integration_id, copy.system, copy.key)
        reason = (
            f"{ECHO} (the copy of {_names(origins)})"
            if copy.origin == "written"
            else f"same work as {_names(origins)}, already linked"
        )
        outcome = self._outcome(
            job, "skipped", reason, target_id=_single(origins), with_entry=False
        )
        return await self._finish(job, outcome)

    async def _changed_copy(
        self, job: _Job, integration: ConnectionChanged, copy: TargetRecord
    ) -> EntrySynced | None:
        """A record Timebridge manages was changed in its own system: carry the edit back to
        the entry it copies where the direction lets it flow, else review it (or let the policy
        restore the copy) as an edit on the target side."""
        event = job.event
        origins = await self.store.contributions(event.integration_id, copy.system, copy.key)
        restore = _restore_plan(copy, origins)
        known = bool(origins) and all(o.source_entry is not None for o in origins)
        if not (known and flows_back(job.direction, event.source)):
            return await self._apply(job, integration, restore)
        carry = carry_back(
            copy.system,
            edited=None if event.operation == "delete" else event.source_entry,
            confirmed=copy.confirmed,
            edited_as_origin=None if event.operation == "delete" else event.entry,
            origins=[f"{o.source} {o.source_id}" for o in origins],
            copy_name=f"{copy.system} {event.source_external_id}",
        )
        if isinstance(carry, Uncarried):
            return await self._uncarried(job, integration, restore, carry.reason)
        back = _back_plan(event, copy, origins[0], carry)
        shared = await self._shared_origin(event.integration_id, back)
        if shared is not None:
            return await self._uncarried(job, integration, restore, shared)
        return await self._apply(job, integration, back)

    async def _shared_origin(self, integration_id: str, back: _Plan) -> str | None:
        """Why the origin cannot take the edit: an Everhour record that also holds the time of
        Core entries Timebridge wrote into it (writing the copy's duration would erase theirs)."""
        slot = back.slots[0].slot
        if slot.system != EVERHOUR:
            return None
        others = await self.store.contributions(integration_id, slot.system, slot.key)
        if not others:
            return None
        return (
            f"{_names(back.origins)} also holds the time of {_names(others)}: an edit of its"
            f" copy cannot be carried to it; change it in {slot.system}, or keep its version"
        )

    async def _uncarried(
        self, job: _Job, integration: ConnectionChanged, restore: _Plan, reason: str
    ) -> EntrySynced | None:
        """An edit of a copy that cannot reach its origin (``when_uncarried``)."""
        side = job.forced or winner(job.policy, job.event.source)
        action = when_uncarried(side, forced=job.forced is not None)
        if action == "restore":
            return await self._apply(job, integration, restore)
        if action == "refuse":
            raise ReviewRefusedError(409, f"{reason} (Timebridge cannot carry that out)")
        return await self._conflict(job, restore, "copy_changed", reason, None, leases=0)

    async def _forward_plan(self, event: EntryMapped, link: Link | None) -> _Plan | str:
        """The records a change of a source entry touches, or why it cannot be written."""
        system = event.target
        me = (event.source, event.source_external_id)
        new_key = None
        if event.operation == "upsert":
            new_key = slot_key(system, *me, event.entry)
            if new_key is None:
                return "no Everhour task for this entry: Everhour records time on tasks only"
            if system == EVERHOUR and not event.entry.user.external_id.isdigit():
                return f"{event.entry.user.external_id!r} is not an Everhour user id"
        old_key = link.target_key if link and link.active else None
        if link and old_key and new_key == slot_key(system, *me, link.written):
            new_key = old_key  # not moved: it stays where it landed (a linked record may differ)
        slots = []
        for key in dict.fromkeys(k for k in (old_key, new_key) if k):
            row = await self.store.target(event.integration_id, system, key)
            parts = [
                Contribution(c.source, c.source_id, c.written)
                for c in await self.store.contributions(event.integration_id, system, key)
                if (c.source, c.source_id) != me
            ]
            if key == new_key:
                parts.append(Contribution(*me, event.entry))
            slots.append(
                _SlotPlan(
                    Slot(system, key, row.target_id if row else None),
                    row.confirmed if row else None,
                    wanted_state(system, key, parts),
                    merged_fields(event.source),
                    row.origin if row else None,
                )
            )
        changed = source_changed(
            system, event, link.written if link else None, bool(link and link.active)
        )
        return _Plan(system, tuple(slots), "source", changed, home=new_key or old_key)

    async def _link_same_work(
        self, job: _Job, integration: ConnectionChanged
    ) -> EntrySynced | None:
        """Match by timestamp: if the target already has this work, link to it, write nothing."""
        event = job.event
        me = candidate(event)
        same_day = await self.observations.for_person_day(me.workspace_id, me.person, me.date)
        found = [o for o in matches(me, same_day) if o.source == event.target]
        if not found:
            return None
        async with self._target(event.target, integration) as target:
            for match in found:
                slot = _match_slot(event, match)
                if slot is None or await self.store.linked(
                    event.integration_id, match.source, match.external_id
                ):
                    continue
                if await self.store.target(event.integration_id, slot.system, slot.key):
                    continue  # a record Timebridge writes is not someone's own log
                await self.store.take_leases(job.owner, event.integration_id, [slot], self.lease_s)
                try:
                    record = await target.read(slot)
                except ProviderError:
                    record = None
                except BaseException:
                    await self.store.release(job.owner)
                    raise
                if record is None or record.target_id != match.external_id:
                    await self.store.release(job.owner)
                    continue
                reason = f"linked to existing entry {match.source} {match.external_id} (same work)"
                return await self._finish(
                    job,
                    self._outcome(job, "synced", reason, target_id=record.target_id),
                    leases=1,
                    link=_link(event, slot.key),
                    targets=(_record(slot, record, "linked"),),
                )
        return None

    async def _apply(
        self, job: _Job, integration: ConnectionChanged, plan: _Plan
    ) -> EntrySynced | None:
        event = job.event
        slots = [s.slot for s in plan.slots]
        async with self._target(plan.system, integration) as target:
            before = await self.store.take_leases(
                job.owner, event.integration_id, slots, self.lease_s
            )
            try:
                reads = [await target.read(s.slot) for s in plan.slots]
            except ProviderError as exc:
                outcome = self._refused(job, plan, exc)
                return await self._finish(job, outcome, leases=len(slots))
            except BaseException:
                await self.store.release(job.owner)
                raise
            if plan.kind == "back" and not _origin_there(plan, reads[0]):
                reason = (
                    f"changed in {event.source} after Timebridge copied {_names(plan.origins)}"
                    f" there, which no longer exists in {plan.system}: nothing to apply it to"
                )
                outcome = self._outcome(
                    job, "skipped", reason, target_id=_single(plan.origins), with_entry=False
                )
                return await self._finish(job, outcome, leases=len(slots))
            verdict = self._verdict(job, plan)
            decisions = [
                self._decide(job, plan, s, r, lease=before.get(s.slot.key), verdict=verdict)
                for s, r in zip(plan.slots, reads, strict=True)
            ]
            if plan.kind == "back" and decisions[0].action == "keep":
                # The origin's side won a conflict: the copy is restored from it instead.
                await self.store.release(job.owner)
                assert plan.copy is not None
                restore = _restore_plan(plan.copy, list(plan.origins))
                return await self._apply(job, integration, restore)
            conflicted = next((i for i, d in enumerate(decisions) if d.action == "conflict"), None)
            if conflicted is not None:
                return await self._conflict(
                    job,
                    plan,
                    "copy_changed" if plan.kind == "restore" else "changed",
                    self._conflict_reason(plan, decisions[conflicted]),
                    reads[conflicted],
                    leases=len(slots),
                )
            return await self._write(job, target, plan, reads, decisions=decisions, before=before)

    def _decide(
        self,
        job: _Job,
        plan: _Plan,
        slot: _SlotPlan,
        read: Observed | None,
        *,
        lease: Lease | None,
        verdict: Verdict | None,
    ) -> Decision:
        current = read.fields if read else None
        baseline = slot.baseline
        if lease and lease.owner != job.owner and same(plan.system, current, lease.planned):
            baseline = current  # an abandoned attempt's write: Timebridge's own, not a change
        return decide(
            plan.system,
            current=current,
            baseline=baseline,
            desired=desired(slot.wanted, current, slot.merge),
            source_changed=plan.source_changed,
            on_conflict=verdict,
            forced=job.forced is not None,
        )

    async def _write(
        self,
        job: _Job,
        target: TargetSystem,
        plan: _Plan,
        reads: list[Observed | None],
        *,
        decisions: list[Decision],
        before: dict[str, Lease],
    ) -> EntrySynced | None:
        event = job.event
        leases = len(plan.slots)
        done = _Applied([], {}, {})
        for slot, read, decision in zip(plan.slots, reads, decisions, strict=True):
            key = slot.slot.key
            if decision.action != "write":
                if decision.action == "in_sync" or slot.origin is not None:
                    done.targets.append(_record(slot.slot, read, slot.origin or "written"))
                lease = before.get(key)
                if decision.action == "in_sync" and lease and lease.owner == job.owner:
                    done.operations[key] = lease.operation or "none"  # finishing our own write
                done.records[key] = read
                continue
            want = desired(slot.wanted, read.fields if read else None, slot.merge)
            write = Write(decision.operation, want, read, _idempotency_key(event, key))
            await self.store.plan_write(job.owner, event.integration_id, slot.slot, write)
            try:
                made = await target.write(slot.slot, write)
                back = await target.read(replace(slot.slot, target_id=made or slot.slot.target_id))
            except (TimeRecordLockedError, EntryLockedError) as exc:
                reason = (
                    f"{plan.system} refused the {decision.operation}: the record is locked"
                    " or invoiced"
                )
                return await self._conflict(
                    job, plan, "locked", reason, read, leases=leases, applied=done, refusal=exc
                )
            except ProviderError as exc:
                outcome = self._refused(job, plan, exc)
                return await self._finish(job, outcome, leases=leases, targets=tuple(done.targets))
            if not same(plan.system, back.fields if back else None, want):
                outcome = self._outcome(
                    job,
                    "error",
                    f"the {decision.operation} was confirmed but reading the record back shows"
                    " something else: not counted as synced",
                    target_id=back.target_id if back else None,
                    response=_dump(back),
                    with_entry=plan.kind == "forward",
                )
                return await self._finish(job, outcome, leases=leases, targets=tuple(done.targets))
            done.targets.append(_record(slot.slot, back, slot.origin or "written"))
            done.operations[key] = decision.operation
            done.records[key] = back
        return await self._settled(job, plan, decisions, done)

    async def _settled(
        self, job: _Job, plan: _Plan, decisions: list[Decision], done: _Applied
    ) -> EntrySynced | None:
        """The outcome once every record of the plan is written, in sync or kept."""
        event = job.event
        home = plan.home or plan.slots[0].slot.key
        index = next(i for i, s in enumerate(plan.slots) if s.slot.key == home)
        record = done.records.get(home)
        target_id = record.target_id if record else plan.slots[index].slot.target_id
        operation = done.operations.get(home, "none")
        why = f" ({self._why(job)})"
        notes = [f"{d.reason}{why if d.settled else ''}" for d in decisions if d.reason]
        if plan.kind == "back":
            return await self._carried(job, plan, decisions[0], done)
        if plan.kind == "restore":
            names = _names(plan.origins)
            copied = f"changed in {plan.system} after Timebridge copied {names} there"
            reason = {
                "in_sync": f"{ECHO} (the copy of {names})",
                "keep": f"{copied}; {plan.system}'s version kept{why}",
            }.get(decisions[0].action, f"{copied}; restored from {event.target}{why}")
            outcome = self._outcome(
                job,
                "skipped",
                reason,
                operation=operation,
                target_id=_single(plan.origins),
                with_entry=False,
            )
            return await self._finish(
                job, outcome, leases=len(decisions), targets=tuple(done.targets)
            )
        if decisions[index].action == "keep":
            outcome = self._outcome(job, "skipped", "; ".join(notes), target_id=target_id)
            return await self._finish(
                job, outcome, leases=len(decisions), targets=tuple(done.targets)
            )
        if event.operation == "delete":
            operation = "delete"
        if operation == "none" and not notes and all(d.action == "in_sync" for d in decisions):
            notes = [f"{event.target} already holds this version: nothing written"]
        billable = _billable_note(event, record)
        outcome = self._outcome(
            job,
            "synced",
            "; ".join([*notes, billable] if billable else notes) or None,
            operation=operation,
            target_id=target_id,
        )
        return await self._finish(
            job,
            outcome,
            leases=len(decisions),
            link=_link(event, home),
            targets=tuple(done.targets),
        )

    async def _carried(
        self, job: _Job, plan: _Plan, decision: Decision, done: _Applied
    ) -> EntrySynced | None:
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
        now = done.records.get(key)
        operation = done.operations.get(key, "none")
        names = _names(plan.origins)
        changed = f"changed in {event.source} after Timebridge copied {names} there"
        notes = list(carry.notes)
        if plan.system == EVERHOUR and now is not None and event.operation == "upsert":
            mismatch = billable_note(event.source, event.source_entry.billable, now.fields.billable)
            notes += [mismatch] if mismatch else []
        if decision.settled and decision.reason:
            notes.append(f"{decision.reason} ({self._why(job)})")
        status: SyncStatus = "synced"
        if operation != "none":
            what = "deleted" if operation == "delete" else f"applied ({describe(carry.fields)})"
            reason = f"{changed}: {what} to {names}"
        elif carry.fields or carry.delete:
            reason = f"{changed}: {names} already holds it, nothing written"
        else:
            status = "skipped"
            reason = f"{changed}: nothing {plan.system} keeps was changed"
        edited = None if event.operation == "delete" else event.source_entry
        written = rewritten(origin.written, edited, carry)
        moved_to = copy.key  # where the record now is: an Everhour record's task, user and day
        if copy.system == EVERHOUR and edited is not None:
            moved_to = record_key(edited) or copy.key
        link = replace(
            origin, target_key=moved_to, written=written, source_entry=now.fields if now else None
        )
        targets = [
            TargetRecord(
                copy.system, moved_to, copy.target_id, edited, event.source_updated_at, copy.origin
            )
        ]
        if moved_to != copy.key:  # the record is no longer where it was
            targets.append(TargetRecord(copy.system, copy.key, None, None, None, copy.origin))
        outcome = self._outcome(
            job,
            status,
            "; ".join([reason, *notes]),
            operation=operation,
            target_id=origin.source_id,
            with_entry=False,
        )
        return await self._finish(job, outcome, leases=1, link=link, targets=tuple(targets))

    async def _conflict(
        self,
        job: _Job,
        plan: _Plan,
        kind: ConflictKind,
        reason: str,
        read: Observed | None,
        *,
        leases: int,
        applied: _Applied | None = None,
        refusal: ProviderError | None = None,
    ) -> EntrySynced | None:
        """Into the review queue with both versions, unless settled by the policy later."""
        event = job.event
        target_id = read.target_id if read else None
        if plan.kind != "forward":
            target_id = _single(plan.origins)
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
        outcome = self._outcome(
            job,
            "conflict",
            reason,
            target_id=target_id,
            response=refusal.body if refusal else None,
            with_entry=plan.kind == "forward",
        )
        targets = tuple(applied.targets) if applied else ()
        return await self._finish(job, outcome, leases=leases, targets=targets, conflict=item)

    def _verdict(self, job: _Job, plan: _Plan) -> Verdict | None:
        side = job.forced or winner(job.policy, job.event.source)
        if side is None:
            return None
        return "write" if side == plan.writes_on else "keep"

    def _why(self, job: _Job) -> str:
        if job.forced is not None:
            kept = job.event.source if job.forced == "source" else job.event.target
            return f"conflict resolved by keeping {kept}'s version"
        return f"conflict policy {job.policy}"

    def _conflict_reason(self, plan: _Plan, decision: Decision) -> str:
        if plan.kind == "back":
            return (
                f"changed in {plan.system} since the last sync, and its copy in"
                f" {_other(plan.system)} was changed too: choose which version to keep"
            )
        if plan.kind == "restore":
            return (
                f"changed in {plan.system} after Timebridge copied {_names(plan.origins)} there:"
                " choose which version to keep"
            )
        return f"{decision.reason}: choose which version to keep"

    def _refused(self, job: _Job, plan: _Plan, exc: ProviderError) -> EntrySynced:
        if isinstance(exc, AuthenticationError):
            reason = (
                f"{exc.provider} refused the connection's credentials ({exc.status}):"
                " test and reconnect the integration"
            )
        else:
            reason = f"{exc.provider} refused {exc.method} {exc.path} ({exc.status})"
        return self._outcome(
            job, "error", reason, response=exc.body, with_entry=plan.kind == "forward"
        )

    def _outcome(
        self,
        job: _Job,
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
            synced_at=self.clock(),
        )

    async def _finish(
        self,
        job: _Job,
        outcome: EntrySynced | None,
        *,
        leases: int = 0,
        link: Link | None = None,
        targets: tuple[TargetRecord, ...] = (),
        conflict: ConflictItem | None = None,
    ) -> EntrySynced | None:
        event = job.event
        staged = None
        if outcome is not None:
            staged = (outcome, Envelope.for_event(outcome, producer=PRODUCER, cause=job.cause))
        completion = Completion(
            owner=job.owner,
            event=event,
            claim=job.claim,
            leases=leases,
            link=link,
            targets=targets,
            conflict=conflict,
            resolving=job.resolving,
            outcome=staged,
        )
        try:
            committed = await self.store.complete(completion)
        except ConflictClosedError:
            await self.store.release(job.owner)
            raise
        if not committed:
            await self.store.release(job.owner)
            return None
        if outcome is not None:
            log.info(
                "entry change decided",
                entry=f"{event.source}:{event.source_external_id}",
                target=event.target,
                status=outcome.status,
                operation=outcome.operation,
                reason=outcome.reason,
            )
        return outcome

    @contextlib.asynccontextmanager
    async def _target(
        self, system: str, integration: ConnectionChanged
    ) -> AsyncIterator[TargetSystem]:
        connection = integration
        if system != integration.provider:
            cores = await self.connections.connected(integration.workspace_id, CORE)
            if not cores:
                raise await self.connections.missing(
                    f"the Core connection of workspace {integration.workspace_id!r}"
                )
            connection = cores[0]
        try:
            credential = self.connections.credentials(connection)
        except DecryptionError as exc:  # never decrypts with this key: invalid, not a retry
            raise InvalidMessageError(
                f"the credentials of connection {connection.connection_id} do not decrypt with"
                " this service's key (TB_ENCRYPTION_KEY differs from ingest's?)"
            ) from exc
        async with self.providers.target(system, connection.base_url, credential) as target:
            yield target


def _names(links: tuple[Link, ...] | list[Link]) -> str:
    return ", ".join(f"{link.source} {link.source_id}" for link in links) or "a deleted entry"


def _single(links: tuple[Link, ...] | list[Link]) -> str | None:
    return links[0].source_id if len(links) == 1 else None


def _match_slot(event: EntryMapped, match: Observation) -> Slot | None:
    """Where the matching entry is in the target: an Everhour record by task, user and day."""
    if event.target != EVERHOUR:
        return Slot(event.target, f"{event.source}:{event.source_external_id}", match.external_id)
    if match.task_external_id is None or match.user_external_id is None:
        return None
    key = f"{match.task_external_id}|{match.user_external_id}|{match.date.isoformat()}"
    return Slot(event.target, key, match.external_id)


def _idempotency_key(event: EntryMapped, key: str) -> str:
    """The same for every attempt at one version of one change (integration, record, source
    revision), so Core answers a repeated create with the first result instead of a copy; a Core
    record's key is ``<source>:<source entry id>``."""
    return f"timebridge:{event.integration_id}:{key}:{event.source_updated_at.isoformat()}"


def _link(event: EntryMapped, key: str) -> Link:
    return Link(
        source=event.source,
        source_id=event.source_external_id,
        target=event.target,
        target_key=key,
        written=event.entry,
        source_updated_at=event.source_updated_at,
        active=event.operation == "upsert",
        source_entry=event.source_entry,
    )


def _record(slot: Slot, observed: Observed | None, origin: Origin) -> TargetRecord:
    return TargetRecord(
        system=slot.system,
        key=slot.key,
        target_id=observed.target_id if observed else slot.target_id,
        confirmed=observed.fields if observed else None,
        confirmed_at=observed.changed_at if observed else None,
        origin=origin,
    )


def _billable_note(event: EntryMapped, record: Observed | None) -> str | None:
    """Everhour sets billable per task: a difference can only be reported, not written."""
    if event.target != EVERHOUR or record is None or event.operation == "delete":
        return None
    return billable_note(event.source, event.entry.billable, record.fields.billable)


def _restore_plan(copy: TargetRecord, origins: list[Link]) -> _Plan:
    """The copy written back from the entries it copies."""
    parts = [Contribution(o.source, o.source_id, o.written) for o in origins]
    slot = _SlotPlan(
        Slot(copy.system, copy.key, copy.target_id),
        copy.confirmed,
        wanted_state(copy.system, copy.key, parts),
        merged_fields(origins[0].source) if origins else None,
        copy.origin,
    )
    return _Plan(
        copy.system,
        (slot,),
        "target",
        source_changed=True,
        kind="restore",
        origins=tuple(origins),
    )


def _back_plan(event: EntryMapped, copy: TargetRecord, origin: Link, carry: Carry) -> _Plan:
    """The origin of ``copy`` with the carried fields of the edit (``event.entry``, in the
    origin's ids) merged onto it; baseline: the origin as Timebridge last knew it."""
    assert origin.source_entry is not None
    if origin.source == EVERHOUR:
        key = record_key(origin.source_entry) or f"{EVERHOUR}:{origin.source_id}"
    else:
        key = f"{origin.source}:{origin.source_id}"
    slot = _SlotPlan(
        Slot(origin.source, key, origin.source_id),
        origin.source_entry,
        None if carry.delete else event.entry,
        carry.fields,
        None,
    )
    return _Plan(
        origin.source,
        (slot,),
        "source",
        source_changed=True,
        kind="back",
        origins=(origin,),
        copy=copy,
        carry=carry,
    )


def _origin_there(plan: _Plan, read: Observed | None) -> bool:
    """The origin still exists (the very record: an Everhour record of the same task, user and
    day made anew is someone else's) or the edit was a deletion that needs nothing more."""
    assert plan.carry is not None
    if read is None:
        return plan.carry.delete
    return read.target_id == plan.slots[0].slot.target_id


def _other(system: str) -> str:
    return CORE if system == EVERHOUR else EVERHOUR


def _dump(observed: Observed | None) -> str:
    if observed is None:
        return "no record"
    body: dict[str, Any] = {"id": observed.target_id, **observed.fields.model_dump(mode="json")}
    return json.dumps(body)
