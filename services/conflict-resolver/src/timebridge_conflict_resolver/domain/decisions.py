"""The decisions of the write path: echo, conflict, policy, and what to do with one record.

A target record is compared three ways (a three-way merge): ``current`` (what the target holds
now), ``baseline`` (what Timebridge last confirmed there) and ``desired`` (what it should hold
after this change). The target changed since the last sync when ``current`` differs from
``baseline``; the source changed when the mapped entry differs from what was last written for it.
Both at once is a conflict, settled by the integration's policy or by a person.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from timebridge_providers.kit.profile import Profile

from timebridge_common.events import EntryMapped, TimeEntryFields
from timebridge_conflict_resolver.domain.records import Operation, same
from timebridge_conflict_resolver.domain.state import Lease

Policy = Literal["prefer_core", "prefer_tracker", "manual_review"]
Side = Literal["source", "target"]
Verdict = Literal["write", "keep"]
"""How a conflict on one record is settled: write the new state, or keep the record's."""


@dataclass(frozen=True, slots=True)
class Decision:
    action: Literal["write", "in_sync", "keep", "conflict"]
    operation: Operation = "none"
    reason: str | None = None
    settled: bool = False
    """The action settles a conflict (by the policy, or because a person chose)."""


def winner(policy: Policy, source: Profile) -> Side | None:
    """The side the policy prefers for a change from ``source`` (the home system or the
    tracker); ``None`` under manual review: a person decides."""
    if policy == "manual_review":
        return None
    source_is_preferred = (source.kind == "home") == (policy == "prefer_core")
    return "source" if source_is_preferred else "target"


def decide(
    system: Profile,
    *,
    current: TimeEntryFields | None,
    baseline: TimeEntryFields | None,
    desired: TimeEntryFields | None,
    source_changed: bool,
    on_conflict: Verdict | None,
    forced: bool = False,
) -> Decision:
    """What to do with one target record of ``system``.

    ``on_conflict`` settles a conflict (from the policy; ``None``: a person must), and with
    ``forced`` (a person chose) it applies even where no conflict is seen, e.g. to keep a locked
    record as it is. A record that already holds the desired state is never written again: that
    is what lets a redelivery after a crash (write done, outcome not yet recorded) finish without
    a second write.
    """
    if same(system, current, desired):
        return Decision("in_sync")
    operation: Operation = (
        "create" if current is None else "delete" if desired is None else "update"
    )
    target_changed = not same(system, current, baseline)
    if not forced and not target_changed:
        return Decision("write", operation)
    if not forced and not source_changed:
        reason = f"changed in {system.name} since the last sync, nothing new"
        return Decision("keep", reason=reason)
    if on_conflict is None:
        reason = f"changed in {system.name} and in the source since the last sync"
        return Decision("conflict", reason=reason)
    if on_conflict == "keep":
        return Decision("keep", reason=f"{system.name}'s version kept", settled=True)
    reason = f"{system.name}'s version overwritten" if target_changed else "written again"
    return Decision("write", operation, reason, settled=True)


def source_changed(
    target: Profile,
    event: EntryMapped,
    written: TimeEntryFields | None,
    active: bool,
) -> bool:
    """Whether the event brings something not yet written for this source entry."""
    if event.operation == "delete":
        return active
    return not active or not same(target, written, event.entry)


def is_echo(
    source: Profile,
    event: EntryMapped,
    confirmed: TimeEntryFields | None,
    confirmed_at: dt.datetime | None,
) -> bool:
    """The event reports a record Timebridge wrote, as Timebridge wrote it (or earlier).

    ``confirmed`` is the record as Timebridge last confirmed it in ``source``, the event's. An
    observation not newer than that confirmation is an echo of an earlier write, even when the
    fields differ (it arrived late), so it must not undo the newer state.
    """
    observed = None if event.operation == "delete" else event.source_entry
    if same(source, observed, confirmed):
        return True
    return confirmed_at is not None and event.source_updated_at <= confirmed_at


def in_flight(leases: Sequence[Lease], record_id: str, observed: TimeEntryFields | None) -> bool:
    """Whether an observed record may be one another attempt is writing right now.

    ``leases`` are the other owners' live write leases in the record's system (see
    ``SyncStore.writing``). Until that attempt commits its outcome, Timebridge does not know the
    record as its own (its id and confirmed state are committed with the outcome), so the
    observation would pass for someone's new entry or edit. That holds for a lease on this very
    record, and for a create not yet answered with an id when it is for the same person (the
    record may already exist in the system before its id reached Timebridge).
    """
    for lease in leases:
        if lease.target_id == record_id:
            return True
        unanswered = lease.target_id is None and lease.operation == "create"
        person = lease.planned.user.external_id if lease.planned else None
        if unanswered and (observed is None or person in {None, observed.user.external_id}):
            return True
    return False
