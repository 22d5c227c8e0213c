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
last confirmed the copy (a per-field three-way comparison), in the origin's terms:

- an Everhour copy of a Core entry: duration, notes, date, and the task as the Core ticket it is
  linked to (with the ticket's project and the task's billable). A task linked to no ticket
  cannot be carried. An Everhour record sums every Core entry of one user, task and day: when it
  covers several, an edit of the sum cannot be split among them, so it is not carried;
- a Core copy of an Everhour record: duration and notes. Everhour keeps one record per task,
  user and day, so moving the entry to another day, ticket or person cannot be carried (it would
  be another record); billable is a property of the Everhour task, so a billable change is only
  reported; Everhour keeps no start time or time zone.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from timebridge_common.events import TimeEntryFields
from timebridge_conflict_resolver.domain.decisions import Side
from timebridge_conflict_resolver.domain.records import CORE, EVERHOUR

Direction = Literal["core_to_tracker", "tracker_to_core", "two_way"]

EDITABLE_IN_EVERHOUR = ("task_external_id", "date", "duration_seconds", "notes")
"""What a person can change in an Everhour record that a Core entry has too."""
CARRIED_TO_EVERHOUR = ("duration_seconds", "notes")
"""What of a Core entry an Everhour record of the same task, user and day can take."""
MOVES_IN_CORE = ("date", "task_external_id")
NOT_IN_EVERHOUR = ("started_at", "timezone")

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


def flows_back(direction: Direction, edited_in: str) -> bool:
    """Whether an edit made in ``edited_in`` reaches the other system under ``direction``."""
    if edited_in == CORE:
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
    copy_system: str,
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
    if len(origins) != 1:
        return Uncarried(
            f"{copy_name} was changed in {copy_system}, but it is the sum of {len(origins)}"
            f" {_other(copy_system)} entries ({names}): a change of the sum cannot be split among"
            f" them; change the {_other(copy_system)} entries, or keep {_other(copy_system)}'s"
            " version"
        )
    if edited is None:
        return Carry(frozenset(), frozenset(), delete=True)
    assert edited_as_origin is not None
    if copy_system == EVERHOUR:
        return _from_everhour(edited, confirmed, edited_as_origin, names, copy_name)
    return _from_core(edited, confirmed, names, copy_name)


def _from_everhour(
    edited: TimeEntryFields,
    confirmed: TimeEntryFields | None,
    as_core: TimeEntryFields,
    origin: str,
    copy_name: str,
) -> Carry | Uncarried:
    changed = [f for f in EDITABLE_IN_EVERHOUR if _differs(f, edited, confirmed)]
    fields: set[str] = set()
    for name in changed:
        if name != "task_external_id":
            fields.add(name)
            continue
        if as_core.task_external_id is None:
            return Uncarried(
                f"{copy_name} was moved to Everhour task {edited.task_external_id}, which is"
                f" linked to no Core ticket: the move cannot be carried to {origin}; link the"
                " task to a ticket, or keep core's version"
            )
        fields |= {"task_external_id", "billable"}
        if as_core.project_external_id is not None:
            fields.add("project_external_id")
    return Carry(frozenset(fields), frozenset(changed))


def _from_core(
    edited: TimeEntryFields,
    confirmed: TimeEntryFields | None,
    origin: str,
    copy_name: str,
) -> Carry | Uncarried:
    moved = [f for f in MOVES_IN_CORE if _differs(f, edited, confirmed)]
    if confirmed is not None and edited.user.external_id != confirmed.user.external_id:
        moved.append("user")
    if moved:
        what = ", ".join(sorted(_WORDS.get(f, "person") for f in moved))
        return Uncarried(
            f"{copy_name} was given another {what} in core, but Everhour keeps one record per"
            f" task, user and day: the move cannot be carried to {origin}; move the time in"
            " Everhour, or keep everhour's version"
        )
    fields = frozenset(f for f in CARRIED_TO_EVERHOUR if _differs(f, edited, confirmed))
    lost = frozenset(f for f in NOT_IN_EVERHOUR if _differs(f, edited, confirmed))
    notes = (f"Everhour keeps no {describe(lost)}: not carried",) if lost else ()
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


def _other(system: str) -> str:
    return CORE if system == EVERHOUR else EVERHOUR
