"""Syncing one mapped change to its target: decide, write, read back, publish the outcome.

Delivery guarantees. ``EntryMapped`` arrives at least once. The decision's state (links,
confirmed target states, review queue), the ``EntrySynced`` outcome (outbox) and the inbox claim
commit in one transaction, so once that commit happened a redelivery changes nothing. Provider
calls cannot be part of it, so the write path is built to be repeated from any point:

1. Before reading a target record the handler takes a *write lease* on it (an intent row owned
   by the event id): one writer per record across replicas, even when two entries of different
   Kafka keys land in the same record (a system keeping one record per task, user and day).
2. It reads the record, decides against what Timebridge last confirmed there, notes the planned
   write on the lease, writes, and reads the record back.
3. It commits state, outcome and inbox claim, releasing the lease.

A crash or a transient failure anywhere before 3 leaves the offset uncommitted; the redelivery
(same event id, so it re-takes its own lease) starts again from a fresh read. Nothing is written
twice because every write is absolute (the sum of a day record, an entry's fields, deletes),
creates are guarded (each ``EntryStore`` looks a lost create up before it is retried: a day
record is created only when the read found none; an entry carries an idempotency key and is
found by its external reference), and a record that already holds the desired state is never
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

This module routes a change; ``handlers/write.py`` is the write path; every rule is a pure
function in ``domain/`` that reads the systems' profiles (from the registry), never their names.

Edits of copies (``domain/convergence.py``). A record Timebridge manages that was changed in its
own system is, where the integration's direction takes that system as a source, carried back to
the one entry it copies (a *back* plan: the origin is read, compared with what Timebridge last
knew of it, written, read back); the copy is then confirmed as the person left it and the
origin's link says what it now contributes, so the origin's own sighting of that write finds
both sides equal and writes nothing. If the origin changed too, the policy decides: the copy's
side wins by carrying, the origin's by restoring the copy. An edit that cannot be carried (a
record summing several entries, a move a day record cannot express) is reviewed, or restored where
the origin's side wins. Under a direction that does not take the copy's system, edits of copies
are reviewed or restored as before.
"""

import datetime as dt
import math
import uuid
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field, replace

import structlog
from timebridge_providers.installed import registry
from timebridge_providers.kit.credentials import CredentialSource
from timebridge_providers.kit.ports.entries import UnwritableEntryError
from timebridge_providers.kit.registry import Registry
from timebridge_providers.kit.writes import prepaid

from timebridge_common.errors import InvalidMessageError
from timebridge_common.events import (
    ConnectionChanged,
    EntryMapped,
    EntrySynced,
    Envelope,
    IntegrationSettings,
)
from timebridge_common.kafka.consumer import DeadLettered
from timebridge_common.outbound.http import ProviderError
from timebridge_conflict_resolver.domain import outcomes
from timebridge_conflict_resolver.domain.convergence import (
    Uncarried,
    carry_back,
    flows_back,
    when_uncarried,
)
from timebridge_conflict_resolver.domain.decisions import Side, is_echo, winner
from timebridge_conflict_resolver.domain.matching import Observation, candidate, matches
from timebridge_conflict_resolver.domain.outcomes import Finish
from timebridge_conflict_resolver.domain.plans import (
    Job,
    Plan,
    back_plan,
    forward_keys,
    forward_plan,
    link_of,
    match_slot,
    record_of,
    restore_plan,
    shared_origin,
    single,
)
from timebridge_conflict_resolver.domain.records import Systems, slot_key
from timebridge_conflict_resolver.domain.state import Link, TargetRecord
from timebridge_conflict_resolver.handlers.known import (
    ask,
    batch_connections,
    connection,
    not_being_written,
)
from timebridge_conflict_resolver.handlers.lanes import PerCredential, in_lanes
from timebridge_conflict_resolver.handlers.ports import (
    ConflictClosedError,
    Connections,
    EntryStores,
    Known,
    ObservationIndex,
    SyncStore,
)
from timebridge_conflict_resolver.handlers.write import PRODUCER, WritePath

__all__ = ["CONSUMER", "PRODUCER", "ReviewRefusedError", "Syncer", "systems_of"]

CONSUMER = "conflict-resolver.entry-mapped"
DEAD_LETTERS = "conflict-resolver.entry-mapped.dead-letter"
"""The inbox name of "this change was dead-lettered": its ``error`` is published once."""

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class _Credential:
    integration_id: str
    target: str


class ReviewRefusedError(Exception):
    """A review request cannot be carried out; ``status`` is the HTTP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def systems_of(providers: Registry, provider: str) -> Systems | None:
    """The two systems an integration with ``provider`` syncs: the home system (which must
    write entries) and that tracker, when both are installed and the tracker's entries can be
    written or at least observed (a read-only tracker syncs to the home system only: its
    entries are never written, see the gate in ``Syncer``); ``None``: Timebridge does not sync
    it."""
    if provider not in providers:
        return None
    tracker, home = providers.get(provider), providers.home()
    if tracker.profile.kind != "tracker" or not (
        (tracker.offers("entries") or tracker.offers("observe")) and home.offers("entries")
    ):
        return None
    return Systems(home.profile, tracker.profile)


@dataclass
class Syncer:
    store: SyncStore
    observations: ObservationIndex
    connections: Connections
    entries: EntryStores
    clock: Callable[[], dt.datetime]
    lease_s: float = 60.0
    providers: Registry = field(default_factory=registry)
    owner: CredentialSource | None = None
    """The credential owner every provider access comes from (required)."""
    concurrency: int = 8
    """Changes of a batch handled at once, in lanes (``on_batch``)."""
    request_rate: Callable[[str], float] | None = None
    """Requests per second one credential of a provider allows this service (its budget); by
    default the profile's whole limit."""
    request_latency_s: float = 0.3
    """A provider request's round trip, for the lanes one credential keeps busy."""
    shared_writers: int = 32
    """Lanes of one credential sharing their look-ups and read-backs, where the provider lists
    its records (each holds its write lease until the listing after the last write)."""
    shared_from: int = 8
    """With a limit lifted, a credential's lanes in a batch share their reads from this many."""

    def __post_init__(self) -> None:
        self._path = WritePath(
            self.store, self.connections, self.entries, self.clock, self.lease_s, self.owner
        )

    async def on_entry_mapped(self, envelope: Envelope, event: EntryMapped) -> EntrySynced | None:
        """Sync one mapped change; ``None`` when there is nothing to publish (a duplicate or an
        older version than the one already synced, which must not change the entry's status)."""
        if await self.store.processed(CONSUMER, envelope.event_id):
            log.info("entry change already synced", event_id=str(envelope.event_id))
            return None
        job = Job(event, envelope.event_id, envelope, claim=(CONSUMER, envelope))
        return await self._sync(job)

    async def on_batch(
        self, items: Sequence[tuple[Envelope, EntryMapped]]
    ) -> list[InvalidMessageError | None]:
        """A batch of changes, in concurrent lanes per entry and target record (``lanes``)."""

        async def one(item: tuple[Envelope, EntryMapped]) -> None:
            await self.on_entry_mapped(*item)

        per = PerCredential(self._credential, self._cap, self._shares)
        with batch_connections():
            return await in_lanes(
                items, self._lane_keys, one, concurrency=self.concurrency, credentials=per
            )

    def _credential(self, item: tuple[Envelope, EntryMapped]) -> Hashable:
        """The connection whose budget a change draws on: the integration's, to its target."""
        return _Credential(item[1].integration_id, item[1].target)

    def _rate(self, provider: str) -> float:
        if self.request_rate is not None:
            return self.request_rate(provider)
        limit = self.providers.get(provider).profile.rate_limit
        return limit.requests / limit.window_s

    def _busy(self, target: str) -> int:
        """The lanes one credential's budget keeps busy: rate x latency + 1."""
        return math.ceil(self._rate(target) * self.request_latency_s) + 1

    def _cap(self, credential: Hashable) -> int:
        """Lanes of one credential at once: the lanes sharing their reads where its provider
        lists records, else those its budget keeps busy."""
        assert isinstance(credential, _Credential)
        target = credential.target
        if target not in self.providers:
            return self.concurrency
        if self._shares(credential, self.shared_from):
            return self.shared_writers
        return min(self.concurrency, self._busy(target))

    def _shares(self, credential: Hashable, lanes: int = 0) -> bool:
        """Whether a credential's ``lanes`` in a batch share their reads: where its provider
        lists records, always when its budget is the bound, and with a limit lifted from
        ``shared_from`` lanes on (a backlog). N lanes then cost 2 listings and N writes instead
        of 3N requests: with the budget as the bound that leaves it for writes; with the limit
        lifted it saves the CPU of 2N - 2 requests on both sides. A few lanes with the limit
        lifted go on their own: a listing waits until every member waits, which would only
        add latency at a low rate."""
        assert isinstance(credential, _Credential)
        target = credential.target
        if target not in self.providers or not self.providers.get(target).profile.lists_records:
            return False
        return self._busy(target) < self.concurrency or lanes >= self.shared_from

    def _lane_keys(self, item: tuple[Envelope, EntryMapped]) -> tuple[str, ...]:
        """The changed entry, and the target record it lands in where the event tells."""
        event = item[1]
        keys = [f"{event.integration_id}|{event.source}|{event.source_external_id}"]
        if event.target in self.providers:  # a delete carries the fields it was synced with
            target = self.providers.get(event.target).profile
            slot = slot_key(target, event.source, event.source_external_id, event.entry)
            if slot is not None:
                keys.append(f"{event.integration_id}|{event.target}|{slot}")
        return tuple(keys)

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
        reason = outcomes.dead_letter_reason(
            envelope.event_id, letter.error_class, letter.attempts, letter.reason
        )
        job = Job(event, uuid.uuid4(), envelope, claim=(DEAD_LETTERS, envelope))
        return await self._finish(job, outcomes.outcome(job, self.clock(), "error", reason))

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
        job = Job(item.event, uuid.uuid4(), item.cause, forced=side, resolving=resolving)
        try:
            outcome = await self._sync(job)
        except ConflictClosedError:
            outcome = None
        if outcome is None:
            raise ReviewRefusedError(409, "the conflict was closed meanwhile")
        return outcome

    async def _finish(self, job: Job, outcome: EntrySynced | None) -> EntrySynced | None:
        return await self._path.finish(job, Finish(outcome))

    async def _sync(self, job: Job) -> EntrySynced | None:
        event = job.event
        integration = await connection(self.connections, event.integration_id)
        if integration is None:
            raise await self.connections.missing(f"integration {event.integration_id}")
        if integration.workspace_id != event.workspace_id:
            raise InvalidMessageError(
                f"integration {event.integration_id} is not in workspace {event.workspace_id}"
            )
        if integration.status != "connected":
            reason = "the integration is disconnected"
            return await self._finish(job, outcomes.outcome(job, self.clock(), "skipped", reason))
        systems = systems_of(self.providers, integration.provider)
        if systems is None or {event.source, event.target} != systems.names:
            reason = f"Timebridge does not sync {event.source} to {event.target}"
            return await self._finish(job, outcomes.outcome(job, self.clock(), "error", reason))
        target = self.providers.get(event.target)
        if not target.offers("entries"):
            why = target.profile.not_writable_reason or "its entries cannot be written"
            reason = f"{target.profile.title} is synced one way only: {why}"
            return await self._finish(job, outcomes.outcome(job, self.clock(), "skipped", reason))
        settings = integration.settings or IntegrationSettings()
        job = replace(
            job, policy=settings.conflict_policy, direction=settings.direction, systems=systems
        )
        return await self._route(job, integration)

    async def _route(self, job: Job, integration: ConnectionChanged) -> EntrySynced | None:
        """Stale, echo, a changed copy, the same work already there, or a change to write."""
        event = job.event
        known = await self.store.known(ask(job, self.lease_s))
        if job.claim is not None:
            not_being_written(job, known)
        link = known.link
        if job.forced is None and link and event.source_updated_at < link.source_updated_at:
            log.info("older version than the one synced, ignored", entry=event.source_external_id)
            return await self._finish(job, None)
        copy = known.copy
        if copy is not None:
            source = job.pair.of(event.source)
            if job.forced is None and is_echo(source, event, copy.confirmed, copy.confirmed_at):
                return await self._echo(job, copy, known.copy_origins)
            if link is None:
                return await self._changed_copy(job, integration, copy, known.copy_origins)
        if link is None and event.operation == "upsert" and job.forced is None:
            linked = await self._link_same_work(job, integration, known.same_day)
            if linked is not None:
                return linked
        return await self._forward(job, integration, link, known)

    async def _forward(
        self, job: Job, integration: ConnectionChanged, link: Link | None, known: Known
    ) -> EntrySynced | None:
        event = job.event
        keys = forward_keys(job.pair.of(event.target), event, link)
        if isinstance(keys, str):
            return await self._finish(job, outcomes.outcome(job, self.clock(), "error", keys))
        rows, parts = {}, {}
        for key in dict.fromkeys(k for k in keys if k):
            if key in known.targets:
                rows[key], parts[key] = known.targets[key], known.contributions[key]
                continue
            rows[key] = await self.store.target(event.integration_id, event.target, key)
            parts[key] = await self.store.contributions(event.integration_id, event.target, key)
        plan = forward_plan(job.pair, event, link, keys, rows=rows, contributions=parts)
        if not plan.slots:
            reason = "deleted before it was synced: nothing to remove"
            return await self._finish(job, outcomes.outcome(job, self.clock(), "skipped", reason))
        return await self._path.apply(job, integration, plan)

    async def _echo(self, job: Job, copy: TargetRecord, origins: list[Link]) -> EntrySynced | None:
        """The source entry is a record Timebridge manages, as Timebridge left it: no write.

        Published as ``skipped`` under the copy's own key, so the status of the entry it copies
        stays ``synced``, and without ``entry``, so its hours are never counted twice.
        """
        outcome = outcomes.outcome(
            job,
            self.clock(),
            "skipped",
            outcomes.echo_reason(copy, origins),
            target_id=single(origins),
            with_entry=False,
        )
        return await self._finish(job, outcome)

    async def _changed_copy(
        self, job: Job, integration: ConnectionChanged, copy: TargetRecord, origins: list[Link]
    ) -> EntrySynced | None:
        """A record Timebridge manages was changed in its own system: carry the edit back to
        the entry it copies where the direction lets it flow, else review it (or let the policy
        restore the copy) as an edit on the target side."""
        event = job.event
        restore = restore_plan(job.pair, copy, origins)
        known = bool(origins) and all(o.source_entry is not None for o in origins)
        if not (known and flows_back(job.direction, job.pair.of(event.source))):
            return await self._path.apply(job, integration, restore)
        carry = carry_back(
            job.pair.of(copy.system),
            job.pair.other(copy.system),
            edited=None if event.operation == "delete" else event.source_entry,
            confirmed=copy.confirmed,
            edited_as_origin=None if event.operation == "delete" else event.entry,
            origins=[f"{o.source} {o.source_id}" for o in origins],
            copy_name=f"{copy.system} {event.source_external_id}",
        )
        if isinstance(carry, Uncarried):
            return await self._uncarried(job, integration, restore, carry.reason)
        back = back_plan(job.pair, event, copy, origins[0], carry)
        slot = back.slots[0].slot
        others = await self.store.contributions(event.integration_id, slot.system, slot.key)
        shared = shared_origin(job.pair, back, others)
        if shared is not None:
            return await self._uncarried(job, integration, restore, shared)
        return await self._path.apply(job, integration, back)

    async def _uncarried(
        self, job: Job, integration: ConnectionChanged, restore: Plan, reason: str
    ) -> EntrySynced | None:
        """An edit of a copy that cannot reach its origin (``when_uncarried``)."""
        side = job.forced or winner(job.policy, job.pair.of(job.event.source))
        action = when_uncarried(side, forced=job.forced is not None)
        if action == "restore":
            return await self._path.apply(job, integration, restore)
        if action == "refuse":
            raise ReviewRefusedError(409, f"{reason} (Timebridge cannot carry that out)")
        finish = outcomes.conflict(
            job, self.clock(), restore, "copy_changed", reason=reason, read=None, leases=0
        )
        return await self._path.finish(job, finish)

    async def _link_same_work(
        self, job: Job, integration: ConnectionChanged, same_day: list[Observation] | None
    ) -> EntrySynced | None:
        """Match by timestamp: if the target already has this work, link to it, write nothing
        (``same_day``: the day's observations if the store read them along)."""
        event = job.event
        me = candidate(event)
        if same_day is None:
            same_day = await self.observations.for_person_day(me.workspace_id, me.person, me.date)
        found = [o for o in matches(me, same_day) if o.source == event.target]
        if not found:
            return None
        target_system = job.pair.of(event.target)
        async with self._path.target(event.target, integration) as target:
            for match in found:
                slot = match_slot(target_system, event, match)
                if slot is None or await self.store.linked(
                    event.integration_id, match.source, match.external_id
                ):
                    continue
                if await self.store.target(event.integration_id, slot.system, slot.key):
                    continue  # a record Timebridge writes is not someone's own log
                async with prepaid(target):  # the read's grant before the lease
                    await self.store.take_leases(
                        job.owner, event.integration_id, [slot], self.lease_s
                    )
                    try:
                        record = await target.read(slot)
                    except (ProviderError, UnwritableEntryError):
                        record = None
                    except BaseException:
                        await self.store.release(job.owner)
                        raise
                if record is None or record.target_id != match.external_id:
                    await self.store.release(job.owner)
                    continue
                reason = f"linked to existing entry {match.source} {match.external_id} (same work)"
                outcome = outcomes.outcome(
                    job, self.clock(), "synced", reason, target_id=record.target_id
                )
                finish = Finish(
                    outcome,
                    leases=1,
                    link=link_of(event, slot.key),
                    targets=(record_of(slot, record, "linked"),),
                )
                return await self._path.finish(job, finish)
        return None
