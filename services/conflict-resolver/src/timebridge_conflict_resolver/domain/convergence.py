"""Two-way convergence: an edit made to a copy Timebridge wrote is carried back to its origin.

Timebridge copies an entry of one system (its *origin*) into the other (the *copy*). When a
person edits the copy, that edit is a change of the same work: under a direction that takes the
copy's system as a source, leaving the origin as it was would let the two systems drift apart
for good (and restoring the copy would throw the person's edit away). So the edit is applied to
the origin, and the origin's next sighting is then already in sync: no echo, no second write.

Which edits flow back is the integration's direction, the same rule mapping applies to new
entries: an edit made in a system flows to the other one iff the integration takes that system
as a source (``two_way``: both ways; ``core_to_tracker``: edits in Core; ``tracker_to_core``:
edits in the tracker). An edit on the target side of a one-way integration is not a source:
it stays reviewed by the conflict policy, as before.

What is carried is only what the copy's system keeps *and* what changed there since Timebridge
last confirmed the copy (a per-field three-way comparison), in the origin's terms. Both follow
from the two systems' profiles:

- a copy of an entry of a system keeping one record per entry (the home system): whatever the
  copy's system keeps, except the person; a change of task as the origin's task it is linked to
  (with that task's project, and billable where the copy's system keeps billable on the task).
  A task linked to no task of the origin cannot be carried. A record summing several entries
  (``task_user_day``) cannot split an edit of the sum among them, so it is not carried;
- a copy of a record of a system keeping one record per task, user and day: what that system can
  write besides the record's key (duration and notes). Moving the entry to another day, task or
  person cannot be carried (it would be another record); what the origin's system does not carry
  (a start time, a time zone) is reported as not carried, and billable, which such a system keeps
  on the task, only reported.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from timebridge_providers.kit.profile import ALL_FIELDS, Profile

from timebridge_common.events import TimeEntryFields
from timebridge_conflict_resolver.domain.decisions import Side

Direction = Literal["core_to_tracker", "tracker_to_core", "two_way"]

DAY_KEY_FIELDS = ("date", "task_external_id")
"""What names a task, user and day record besides its person: changing it moves the time."""

_WORDS = {
    "task_external_id": "ticket",
    "project_external_id": "project",
    "duration_seconds": "duration",
    "date": "date",
    "notes": "notes",
    "billable": "billable",
    "started_at": "start time",
    "timezone": "time zone",
}


@dataclass(frozen=True, slots=True)
class Carry:
    """What an edit of a copy changes in its origin."""

    fields: frozenset[str]
    """The origin's fields to take from the edit (given in the origin's ids); empty: none."""
    copied: frozenset[str]
    """The same fields on the copy's side: what Timebridge now counts as written there."""
    delete: bool = False
    """The copy was deleted: so is its origin."""
    notes: tuple[str, ...] = ()
    """What the edit changed that cannot be carried, for the sync log."""


@dataclass(frozen=True, slots=True)
class Uncarried:
    """The edit cannot be applied to the origin at all; ``reason`` says why, for review."""

    reason: str


def flows_back(direction: Direction, edited_in: Profile) -> bool:
    """Whether an edit made in ``edited_in`` reaches the other system under ``direction``."""
    if edited_in.kind == "home":
        return direction in {"core_to_tracker", "two_way"}
    return direction in {"tracker_to_core", "two_way"}


def when_uncarried(winner: Side | None, *, forced: bool) -> Literal["restore", "refuse", "review"]:
    """What to do with an edit of a copy that cannot reach its origin.

    Restoring the copy from its origin is the only thing Timebridge can carry out, so it does
    that where the origin's side wins (``"target"``: the edit's event goes from the copy to the
    origin). A person who chose the copy's side is refused; otherwise a person decides.
    """
    if winner == "target":
        return "restore"
    return "refuse" if forced else "review"


def describe(fields: frozenset[str]) -> str:
    """The fields in the product's words, for a reason: ``duration, notes``."""
    return ", ".join(sorted(_WORDS.get(f, f) for f in fields)) or "nothing"


def carry_back(
    copy_system: Profile,
    origin_system: Profile,
    *,
    edited: TimeEntryFields | None,
    confirmed: TimeEntryFields | None,
    edited_as_origin: TimeEntryFields | None,
    origins: Sequence[str],
    copy_name: str,
) -> Carry | Uncarried:
    """What of an edit of a copy in ``copy_system`` can be applied to its origin.

    ``edited`` is the copy as its system has it now (``None``: deleted) and ``confirmed`` as
    Timebridge last confirmed it, both in the copy's ids; ``edited_as_origin`` is ``edited`` in
    the origin's ids (mapping's translation: a task as its linked ticket, if any). ``origins``
    names the entries the copy is made of, ``copy_name`` the copy, both for the reasons.
    """
    names = ", ".join(origins) or "no entry"
    other = origin_system.name
    if len(origins) != 1:
        return Uncarried(
            f"{copy_name} was changed in {copy_system.name}, but it is the sum of {len(origins)}"
            f" {other} entries ({names}): a change of the sum cannot be split among"
            f" them; change the {other} entries, or keep {other}'s version"
        )
    if edited is None:
        return Carry(frozenset(), frozenset(), delete=True)
    assert edited_as_origin is not None
    if origin_system.granularity == "task_user_day":
        return _to_day_record(
            copy_system,
            origin_system,
            edited=edited,
            confirmed=confirmed,
            origin=names,
            copy_name=copy_name,
        )
    return _to_entry(
        copy_system,
        origin_system,
        edited=edited,
        confirmed=confirmed,
        as_origin=edited_as_origin,
        origin=names,
        copy_name=copy_name,
    )


def _to_entry(
    copy_system: Profile,
    origin_system: Profile,
    *,
    edited: TimeEntryFields,
    confirmed: TimeEntryFields | None,
    as_origin: TimeEntryFields,
    origin: str,
    copy_name: str,
) -> Carry | Uncarried:
    """The origin keeps one record per entry: it can take any change the copy's system keeps."""
    editable = sorted(copy_system.kept_fields - {"user"})
    changed = [f for f in editable if _differs(f, edited, confirmed)]
    fields: set[str] = set()
    for name in changed:
        if name != "task_external_id":
            fields.add(name)
            continue
        if as_origin.task_external_id is None:
            return Uncarried(
                f"{copy_name} was moved to {copy_system.title} task {edited.task_external_id},"
                f" which is linked to no {origin_system.title} ticket: the move cannot be carried"
                f" to {origin}; link the task to a ticket, or keep {origin_system.name}'s version"
            )
        fields.add("task_external_id")
        if copy_system.billable in {"task", "project"}:
            fields.add("billable")  # the copy's billable comes with its task
        if as_origin.project_external_id is not None:
            fields.add("project_external_id")
    return Carry(frozenset(fields), frozenset(changed))


def _to_day_record(
    copy_system: Profile,
    origin_system: Profile,
    *,
    edited: TimeEntryFields,
    confirmed: TimeEntryFields | None,
    origin: str,
    copy_name: str,
) -> Carry | Uncarried:
    """The origin is one record per task, user and day: only what is not its key can change."""
    moved = [f for f in DAY_KEY_FIELDS if _differs(f, edited, confirmed)]
    if confirmed is not None and edited.user.external_id != confirmed.user.external_id:
        moved.append("user")
    title = origin_system.title
    if moved:
        what = ", ".join(sorted(_WORDS.get(f, "person") for f in moved))
        return Uncarried(
            f"{copy_name} was given another {what} in {copy_system.name}, but {title} keeps one"
            f" record per task, user and day: the move cannot be carried to {origin}; move the"
            f" time in {title}, or keep {origin_system.name}'s version"
        )
    carried = origin_system.writable_fields - {"user", *DAY_KEY_FIELDS}
    fields = frozenset(f for f in carried if _differs(f, edited, confirmed))
    not_there = ALL_FIELDS - origin_system.observed_fields
    lost = frozenset(f for f in not_there if _differs(f, edited, confirmed))
    notes = (f"{title} keeps no {describe(lost)}: not carried",) if lost else ()
    return Carry(fields, fields, notes=notes)


def rewritten(
    written: TimeEntryFields, edited: TimeEntryFields | None, carry: Carry
) -> TimeEntryFields:
    """What the origin now contributes to the copy, once the edit was carried back.

    ``written`` is the origin's contribution as Timebridge last wrote it (in the copy's ids);
    the carried fields take the copy's edited values, so the origin's next sighting, translated
    by mapping, equals it: an echo of the carried edit, not a change to write again.
    """
    if edited is None:
        return written
    return written.model_copy(update={f: getattr(edited, f) for f in carry.copied})


def _differs(name: str, a: TimeEntryFields, b: TimeEntryFields | None) -> bool:
    return b is None or getattr(a, name) != getattr(b, name)
