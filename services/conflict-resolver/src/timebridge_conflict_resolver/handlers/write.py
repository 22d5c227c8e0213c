"""The write path: take the leases, read, decide, write, read back, commit.

The first request's budget grant is taken before the leases (``kit.writes.prepaid``), and where
the provider lists its records the reads are answered by listings a batch's writers share
(``kit.writes.ReadGroup``, joined in ``handlers/lanes.py``): nothing here changes for either.

Thin by design: every decision is a pure function of ``domain/`` (plans, three-way decisions,
outcomes); this module only does the I/O between them, through the ports. See
``handlers/sync.py`` for the delivery guarantees it keeps.
"""

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace

import structlog
from timebridge_providers.kit.connection_access import ConnectionAccess
from timebridge_providers.kit.credentials import CredentialSource
from timebridge_providers.kit.ports.entries import (
    EntryLockedError,
    EntryStore,
    UnwritableEntryError,
)
from timebridge_providers.kit.writes import prepaid

from timebridge_common.events import ConnectionChanged, EntrySynced, Envelope
from timebridge_common.outbound.http import ProviderError
from timebridge_conflict_resolver.domain import outcomes
from timebridge_conflict_resolver.domain.decisions import Decision, Verdict, decide
from timebridge_conflict_resolver.domain.outcomes import Finish
from timebridge_conflict_resolver.domain.plans import (
    Applied,
    Job,
    Plan,
    SlotPlan,
    idempotency_key,
    names,
    origin_there,
    record_of,
    restore_plan,
    single,
    verdict,
)
from timebridge_conflict_resolver.domain.records import Observed, Write, desired, same
from timebridge_conflict_resolver.domain.state import Completion, Lease, Leases
from timebridge_conflict_resolver.handlers.ports import (
    ConflictClosedError,
    Connections,
    EntryStores,
    SyncStore,
)

PRODUCER = "conflict-resolver"

log = structlog.get_logger(__name__)


@dataclass
class WritePath:
    store: SyncStore
    connections: Connections
    entries: EntryStores
    clock: Callable[[], dt.datetime]
    lease_s: float = 60.0
    owner: CredentialSource | None = None
    """The credential owner, every access's only source (required; a default for ordering)."""
    _access: ConnectionAccess = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.owner is None:
            raise ValueError("the credential owner is required: connections carry no secret")
        self._access = ConnectionAccess(self.owner)

    async def apply(
        self, job: Job, integration: ConnectionChanged, plan: Plan
    ) -> EntrySynced | None:
        event = job.event
        slots = [s.slot for s in plan.slots]
        async with self.target(plan.system, integration) as target:
            # The look-up's budget grant first: a lease is never held while the provider's
            # budget is waited for (other changes of the record would wait on the lease).
            async with prepaid(target):
                before = await self.store.take_leases(
                    job.owner, event.integration_id, slots, self.lease_s
                )
                plan = _never_written(plan, before)
                try:
                    reads = [await target.read(s.slot) for s in plan.slots]
                except ProviderError as exc:
                    refused = outcomes.refused(job, self.clock(), plan, exc)
                    return await self.finish(job, Finish(refused, leases=len(slots)))
                except UnwritableEntryError as exc:
                    result = outcomes.outcome(job, self.clock(), "error", str(exc))
                    return await self.finish(job, Finish(result, leases=len(slots)))
                except BaseException:
                    await self.store.release(job.owner)
                    raise
            if plan.kind == "back" and not origin_there(plan, reads[0]):
                reason = (
                    f"changed in {event.source} after Timebridge copied {names(plan.origins)}"
                    f" there, which no longer exists in {plan.system}: nothing to apply it to"
                )
                result = outcomes.outcome(
                    job,
                    self.clock(),
                    "skipped",
                    reason,
                    target_id=single(plan.origins),
                    with_entry=False,
                )
                return await self.finish(job, Finish(result, leases=len(slots)))
            settle = verdict(job, plan)
            decisions = [
                _decide(job, plan, s, r, lease=before.get(s.slot.key), verdict=settle)
                for s, r in zip(plan.slots, reads, strict=True)
            ]
            if plan.kind == "back" and decisions[0].action == "keep":
                # The origin's side won a conflict: the copy is restored from it instead.
                await self.store.release(job.owner)
                assert plan.copy is not None
                restore = restore_plan(job.pair, plan.copy, plan.origins)
                return await self.apply(job, integration, restore)
            conflicted = next((i for i, d in enumerate(decisions) if d.action == "conflict"), None)
            if conflicted is not None:
                finish = outcomes.conflict(
                    job,
                    self.clock(),
                    plan,
                    "copy_changed" if plan.kind == "restore" else "changed",
                    reason=outcomes.conflict_reason(job, plan, decisions[conflicted]),
                    read=reads[conflicted],
                    leases=len(slots),
                )
                return await self.finish(job, finish)
            return await self._write(job, target, plan, reads, decisions=decisions, before=before)

    async def _write(
        self,
        job: Job,
        target: EntryStore,
        plan: Plan,
        reads: list[Observed | None],
        *,
        decisions: list[Decision],
        before: dict[str, Lease],
    ) -> EntrySynced | None:
        event = job.event
        leases = len(plan.slots)
        done = Applied([], {}, {})
        system = job.pair.of(plan.system)
        for slot, read, decision in zip(plan.slots, reads, decisions, strict=True):
            key = slot.slot.key
            if decision.action != "write":
                if decision.action == "in_sync" or slot.origin is not None:
                    done.targets.append(record_of(slot.slot, read, slot.origin or "written"))
                lease = before.get(key)
                if decision.action == "in_sync" and lease and lease.owner == job.owner:
                    done.operations[key] = lease.operation or "none"  # finishing our own write
                done.records[key] = read
                continue
            want = desired(slot.wanted, read.fields if read else None, slot.merge)
            write = Write(decision.operation, want, read, idempotency_key(event, key))
            await self.store.plan_write(job.owner, event.integration_id, slot.slot, write)
            try:
                made = await target.write(slot.slot, write)
                if made:  # known as being written by Timebridge from now on (``in_flight``)
                    await self.store.created(job.owner, event.integration_id, slot.slot, made)
                back = await target.read(replace(slot.slot, target_id=made or slot.slot.target_id))
            except EntryLockedError as exc:
                reason = (
                    f"{plan.system} refused the {decision.operation}: the record is locked"
                    " or invoiced"
                )
                finish = outcomes.conflict(
                    job,
                    self.clock(),
                    plan,
                    "locked",
                    reason=reason,
                    read=read,
                    leases=leases,
                    applied=done,
                    refusal=exc,
                )
                return await self.finish(job, finish)
            except ProviderError as exc:
                refused = outcomes.refused(job, self.clock(), plan, exc)
                return await self.finish(job, Finish(refused, leases, targets=tuple(done.targets)))
            if not same(system, back.fields if back else None, want):
                differs = outcomes.read_back_differs(
                    job, self.clock(), plan, decision.operation, back
                )
                return await self.finish(job, Finish(differs, leases, targets=tuple(done.targets)))
            done.targets.append(record_of(slot.slot, back, slot.origin or "written"))
            done.operations[key] = decision.operation
            done.records[key] = back
        return await self.finish(job, outcomes.settled(job, self.clock(), plan, decisions, done))

    async def finish(self, job: Job, finish: Finish) -> EntrySynced | None:
        """Commit the decision, its outcome (outbox) and the inbox claim in one transaction."""
        event, outcome = job.event, finish.outcome
        staged = None
        if outcome is not None:
            staged = (outcome, Envelope.for_event(outcome, producer=PRODUCER, cause=job.cause))
        completion = Completion(
            owner=job.owner,
            event=event,
            claim=job.claim,
            leases=finish.leases,
            link=finish.link,
            targets=finish.targets,
            conflict=finish.conflict,
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
    async def target(
        self, system: str, integration: ConnectionChanged
    ) -> AsyncIterator[EntryStore]:
        """``system``'s records through the connection that reaches it: the integration's own,
        or the workspace's connection to the home system."""
        connection = integration
        if system != integration.provider:
            homes = await self.connections.connected(integration.workspace_id, system)
            if not homes:
                raise await self.connections.missing(
                    f"the {system} connection of workspace {integration.workspace_id!r}"
                )
            connection = homes[0]
        # The owner's credential, base URL and connection fields; a 401 is reported to it.
        access = await self._access(connection)
        async with self.entries.open(system, access) as target:
            yield self._access.reporting(connection, target)


def _never_written(plan: Plan, leases: Leases) -> Plan:
    """``plan`` with ``Slot.never_written`` on each slot without an id that this attempt leased
    first ever: no create of it can have been sent (a retry, a redelivery or another replica
    finds the slot attempted and looks it up as before)."""
    if not leases.first:
        return plan
    slots = tuple(
        replace(s, slot=replace(s.slot, never_written=True))
        if s.slot.target_id is None and s.slot.key in leases.first
        else s
        for s in plan.slots
    )
    return replace(plan, slots=slots)


def _decide(
    job: Job,
    plan: Plan,
    slot: SlotPlan,
    read: Observed | None,
    *,
    lease: Lease | None,
    verdict: Verdict | None,
) -> Decision:
    system = job.pair.of(plan.system)
    current = read.fields if read else None
    baseline = slot.baseline
    if lease and lease.owner != job.owner and same(system, current, lease.planned):
        baseline = current  # an abandoned attempt's write: Timebridge's own, not a change
    return decide(
        system,
        current=current,
        baseline=baseline,
        desired=desired(slot.wanted, current, slot.merge),
        source_changed=plan.source_changed,
        on_conflict=verdict,
        forced=job.forced is not None,
    )
