"""The records one change touches, and when writing them is what the winning side wants.

Pure: the handlers fetch what Timebridge knows (links, managed records) and read the targets;
these functions turn that into plans, slots and keys.
"""

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from timebridge_providers.kit.ports.entries import day_key, entry_key
from timebridge_providers.kit.profile import Profile

from timebridge_common.events import EntryMapped, Envelope, TimeEntryFields
from timebridge_conflict_resolver.domain.convergence import Carry, Direction
from timebridge_conflict_resolver.domain.decisions import Policy, Side, Verdict, winner
from timebridge_conflict_resolver.domain.decisions import source_changed as changed_since
from timebridge_conflict_resolver.domain.matching import Observation
from timebridge_conflict_resolver.domain.records import (
    Contribution,
    Observed,
    Operation,
    Slot,
    Systems,
    merged_fields,
    no_slot_reason,
    record_key,
    slot_key,
    wanted_state,
)
from timebridge_conflict_resolver.domain.state import Link, Origin, TargetRecord

PlanKind = Literal["forward", "restore", "back"]


@dataclass(frozen=True, slots=True)
class Job:
    """One attempt at one change: from Kafka (with its inbox claim) or a person's resolution."""

    event: EntryMapped
    owner: uuid.UUID
    cause: Envelope
    claim: tuple[str, Envelope] | None = None
    forced: Side | None = None
    resolving: tuple[uuid.UUID, str] | None = None
    policy: Policy = "manual_review"
    direction: Direction = "two_way"
    systems: Systems | None = None
    """The integration's two systems, once its connection is known."""

    @property
    def pair(self) -> Systems:
        assert self.systems is not None, "the integration's systems are not known yet"
        return self.systems


@dataclass(frozen=True, slots=True)
class SlotPlan:
    slot: Slot
    baseline: TimeEntryFields | None
    wanted: TimeEntryFields | None
    merge: frozenset[str] | None
    origin: Origin | None
    """How Timebridge came to manage the record; ``None``: it does not yet."""


@dataclass(frozen=True, slots=True)
class Plan:
    """The records a change touches and when writing them is what the winning side wants.

    A *forward* plan writes the change into its target (a win of the source means writing). The
    two others answer a change made to a copy Timebridge manages. A *restore* plan writes the
    copy back from the entries it copies (a win of the target, where those entries live, means
    writing). A *back* plan carries the edit to the one entry the copy is made of (a win of the
    source, the copy's system, means writing; a win of the origin's system means restoring).
    """

    system: str
    slots: tuple[SlotPlan, ...]
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
class Applied:
    """What the write path did, slot by slot, for the completion."""

    targets: list[TargetRecord]
    operations: dict[str, Operation]
    records: dict[str, Observed | None]


def names(links: Sequence[Link]) -> str:
    return ", ".join(f"{link.source} {link.source_id}" for link in links) or "a deleted entry"


def single(links: Sequence[Link]) -> str | None:
    return links[0].source_id if len(links) == 1 else None


def verdict(job: Job, plan: Plan) -> Verdict | None:
    """How the policy (or a person) settles a conflict on ``plan``'s records."""
    side = job.forced or winner(job.policy, job.pair.of(job.event.source))
    if side is None:
        return None
    return "write" if side == plan.writes_on else "keep"


def why(job: Job) -> str:
    if job.forced is not None:
        kept = job.event.source if job.forced == "source" else job.event.target
        return f"conflict resolved by keeping {kept}'s version"
    return f"conflict policy {job.policy}"


def match_slot(target: Profile, event: EntryMapped, match: Observation) -> Slot | None:
    """Where the matching entry is in the target (a task, user and day record by those)."""
    if target.granularity != "task_user_day":
        key = entry_key(event.source, event.source_external_id)
        return Slot(event.target, key, match.external_id)
    if match.task_external_id is None or match.user_external_id is None:
        return None
    key = day_key(match.task_external_id, match.user_external_id, match.date)
    return Slot(event.target, key, match.external_id)


def idempotency_key(event: EntryMapped, key: str) -> str:
    """The same for every attempt at one version of one change (integration, record, source
    revision), so a system answers a repeated create with the first result instead of a copy."""
    return f"timebridge:{event.integration_id}:{key}:{event.source_updated_at.isoformat()}"


def link_of(event: EntryMapped, key: str) -> Link:
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


def record_of(slot: Slot, observed: Observed | None, origin: Origin) -> TargetRecord:
    return TargetRecord(
        system=slot.system,
        key=slot.key,
        target_id=observed.target_id if observed else slot.target_id,
        confirmed=observed.fields if observed else None,
        confirmed_at=observed.changed_at if observed else None,
        origin=origin,
    )


def forward_keys(
    target: Profile, event: EntryMapped, link: Link | None
) -> tuple[str | None, str | None] | str:
    """The record the source entry was in (``old``) and lands in now (``new``), or why it
    cannot land anywhere."""
    me = (event.source, event.source_external_id)
    new_key = None
    if event.operation == "upsert":
        new_key = slot_key(target, *me, event.entry)
        if new_key is None:
            return no_slot_reason(target)
    old_key = link.target_key if link and link.active else None
    if link and old_key and new_key == slot_key(target, *me, link.written):
        new_key = old_key  # not moved: it stays where it landed (a linked record may differ)
    return old_key, new_key


def forward_plan(
    systems: Systems,
    event: EntryMapped,
    link: Link | None,
    keys: tuple[str | None, str | None],
    *,
    rows: Mapping[str, TargetRecord | None],
    contributions: Mapping[str, Sequence[Link]],
) -> Plan:
    """The records a change of a source entry touches: ``rows`` and ``contributions`` are what
    Timebridge knows of each key of ``keys`` (from :func:`forward_keys`)."""
    target = systems.of(event.target)
    me = (event.source, event.source_external_id)
    old_key, new_key = keys
    slots = []
    for key in dict.fromkeys(k for k in (old_key, new_key) if k):
        row = rows.get(key)
        parts = [
            Contribution(c.source, c.source_id, c.written)
            for c in contributions.get(key, ())
            if (c.source, c.source_id) != me
        ]
        if key == new_key:
            parts.append(Contribution(*me, event.entry))
        slots.append(
            SlotPlan(
                Slot(target.name, key, row.target_id if row else None),
                row.confirmed if row else None,
                wanted_state(target, key, parts),
                merged_fields(systems.of(event.source)),
                row.origin if row else None,
            )
        )
    changed = changed_since(
        target, event, link.written if link else None, bool(link and link.active)
    )
    return Plan(target.name, tuple(slots), "source", changed, home=new_key or old_key)


def restore_plan(systems: Systems, copy: TargetRecord, origins: Sequence[Link]) -> Plan:
    """The copy written back from the entries it copies."""
    parts = [Contribution(o.source, o.source_id, o.written) for o in origins]
    slot = SlotPlan(
        Slot(copy.system, copy.key, copy.target_id),
        copy.confirmed,
        wanted_state(systems.of(copy.system), copy.key, parts),
        merged_fields(systems.of(origins[0].source)) if origins else None,
        copy.origin,
    )
    return Plan(
        copy.system,
        (slot,),
        "target",
        source_changed=True,
        kind="restore",
        origins=tuple(origins),
    )


def back_plan(
    systems: Systems, event: EntryMapped, copy: TargetRecord, origin: Link, carry: Carry
) -> Plan:
    """The origin of ``copy`` with the carried fields of the edit (``event.entry``, in the
    origin's ids) merged onto it; baseline: the origin as Timebridge last knew it."""
    assert origin.source_entry is not None
    key = entry_key(origin.source, origin.source_id)
    if systems.of(origin.source).granularity == "task_user_day":
        key = record_key(origin.source_entry) or key
    slot = SlotPlan(
        Slot(origin.source, key, origin.source_id),
        origin.source_entry,
        None if carry.delete else event.entry,
        carry.fields,
        None,
    )
    return Plan(
        origin.source,
        (slot,),
        "source",
        source_changed=True,
        kind="back",
        origins=(origin,),
        copy=copy,
        carry=carry,
    )


def shared_origin(systems: Systems, back: Plan, others: Sequence[Link]) -> str | None:
    """Why the origin cannot take the edit: a record summing entries that also holds the time of
    entries Timebridge wrote into it (writing the copy's duration would erase theirs)."""
    slot = back.slots[0].slot
    if systems.of(slot.system).granularity != "task_user_day" or not others:
        return None
    return (
        f"{names(back.origins)} also holds the time of {names(others)}: an edit of its"
        f" copy cannot be carried to it; change it in {slot.system}, or keep its version"
    )


def origin_there(plan: Plan, read: Observed | None) -> bool:
    """The origin still exists (the very record: a record of the same task, user and day made
    anew is someone else's) or the edit was a deletion that needs nothing more."""
    assert plan.carry is not None
    if read is None:
        return plan.carry.delete
    return read.target_id == plan.slots[0].slot.target_id
