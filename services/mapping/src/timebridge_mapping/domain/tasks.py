"""Project and task mapping: where an entry's time goes on the other side.

Core to tracker, the guide's order, first that applies: a stored **link** of the entry's ticket
(set manually, or by an earlier title match or task creation); otherwise the entry's Core project
must be **mapped** to a tracker project, in which the ticket's task is found by **title**
(compared ignoring case and runs of white space; a task linked to another ticket does not count),
or else the project's **rule** gives a default task, or else the task is **created**, titled like
the ticket and described with its details. A deletion never creates a task: there is no time
left to put on it.

Tracker to Core: the task's linked ticket, if any (a task without one maps to no ticket), and
the Core project the tracker project is mapped to.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from timebridge_providers.kit.ports.directory import DirectoryTask

from timebridge_mapping.domain.mappings import TaskLink
from timebridge_mapping.domain.outcomes import NotMapped, Placement


@dataclass(frozen=True, slots=True)
class TrackerTask:
    id: str
    name: str
    closed: bool = False


@dataclass(frozen=True, slots=True)
class CreateTask:
    """Create the ticket's task in ``project_id``, then link it to the ticket."""

    project_id: str
    ticket_id: str
    name: str
    description: str


def same_title(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def find_by_title(tasks: Sequence[TrackerTask], title: str) -> TrackerTask | None:
    """The task named ``title``: an open one before a closed one, then in the listing's order."""
    named = [t for t in tasks if same_title(t.name, title)]
    return min(named, key=lambda t: t.closed, default=None)


def task_description(ticket: DirectoryTask) -> str:
    """What a created task says about its ticket, so a tracker user can find it in Core."""
    lines = [f"Core ticket {ticket.external_id}"]
    if ticket.url:
        lines.append(ticket.url)
    if ticket.status:
        lines.append(f"Status: {ticket.status}")
    if ticket.description:
        lines += ["", ticket.description]
    return "\n".join(lines)


def place_in_tracker(
    *,
    ticket_id: str | None,
    ticket: DirectoryTask | None,
    link: TaskLink | None,
    core_project_id: str | None,
    tracker_project_id: str | None,
    tasks: Sequence[TrackerTask],
    rule: str | None,
    deleted: bool,
    tracker: str,
) -> Placement | CreateTask | NotMapped:
    """Where a Core entry on ``ticket_id`` goes in the tracker.

    ``ticket`` is the ticket as Core has it (None if Core does not know it), ``tasks`` the mapped
    project's tasks that no other ticket is linked to, ``rule`` the project's default task.
    """
    if link is not None:
        return Placement(link.tracker_project_id, link.tracker_task_id, "link")
    if tracker_project_id is None:
        return _without_project(core_project_id, deleted=deleted, tracker=tracker)
    named = find_by_title(tasks, ticket.name) if ticket is not None else None
    if named is not None:
        return Placement(tracker_project_id, named.id, "title")
    if rule is not None:
        return Placement(tracker_project_id, rule, "rule")
    return _new_task(tracker_project_id, core_project_id, ticket_id, ticket, deleted=deleted)


def _without_project(
    core_project_id: str | None, *, deleted: bool, tracker: str
) -> Placement | NotMapped:
    if deleted:
        return Placement(None, None, "none")
    if core_project_id is None:
        return NotMapped("skipped", "the entry has no Core project, so no project mapping")
    return NotMapped(
        "skipped", f"Core project {core_project_id} is not mapped to any {tracker} project"
    )


def _new_task(
    tracker_project_id: str,
    core_project_id: str | None,
    ticket_id: str | None,
    ticket: DirectoryTask | None,
    *,
    deleted: bool,
) -> Placement | CreateTask | NotMapped:
    if deleted:
        return Placement(tracker_project_id, None, "none")
    if ticket_id is None:
        return NotMapped(
            "skipped", f"the entry has no ticket and Core project {core_project_id} no rule"
        )
    if ticket is None:
        return NotMapped("skipped", f"Core ticket {ticket_id} was not found and no rule applies")
    return CreateTask(tracker_project_id, ticket_id, ticket.name, task_description(ticket))


def place_in_core(link: TaskLink | None, core_project_id: str | None) -> Placement:
    """Where a tracker entry goes in Core: its task's linked ticket and the mapped project."""
    if link is None:
        return Placement(core_project_id, None, "none")
    return Placement(core_project_id, link.core_ticket_id, "link")
