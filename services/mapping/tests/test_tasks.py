"""Task resolution, in the guide's order: link > title > project rule > create."""

import dataclasses
import datetime as dt
from typing import Any

import pytest
from timebridge_providers.kit.ports.directory import DirectoryTask

from timebridge_mapping.domain.mappings import TaskLink
from timebridge_mapping.domain.outcomes import NotMapped, Placement
from timebridge_mapping.domain.tasks import (
    CreateTask,
    TrackerTask,
    find_by_title,
    place_in_core,
    place_in_tracker,
    task_description,
)

TICKET = DirectoryTask(
    "T-42",
    "Fix the  Login page",
    project_ids=("p_1",),
    description="Users cannot log in with SSO.",
    status="in_progress",
    url="https://core.example/tickets/T-42",
    updated_at=dt.datetime(2026, 11, 20, 9, tzinfo=dt.UTC),
)
LINK = TaskLink("T-42", "ev:linked", "ev:other-project", "manual")
TASKS = (TrackerTask("ev:1", "Design"), TrackerTask("ev:2", "fix the login PAGE"))


def place(**changes: Any) -> Placement | CreateTask | NotMapped:
    facts: dict[str, Any] = {
        "ticket_id": "T-42",
        "ticket": TICKET,
        "link": LINK,
        "core_project_id": "p_1",
        "tracker_project_id": "ev:project",
        "tasks": TASKS,
        "rule": "ev:default",
        "deleted": False,
        "tracker": "everhour",
    }
    return place_in_tracker(**(facts | changes))


def test_the_order_is_link_then_title_then_rule_then_create() -> None:
    assert place() == Placement("ev:other-project", "ev:linked", "link")
    assert place(link=None) == Placement("ev:project", "ev:2", "title")
    assert place(link=None, tasks=()) == Placement("ev:project", "ev:default", "rule")
    assert place(link=None, tasks=(), rule=None) == CreateTask(
        "ev:project", "T-42", "Fix the  Login page", task_description(TICKET)
    )


def test_a_link_needs_no_project_mapping() -> None:
    assert place(tracker_project_id=None) == Placement("ev:other-project", "ev:linked", "link")


def test_without_a_project_mapping_the_entry_is_skipped() -> None:
    assert place(link=None, tracker_project_id=None) == NotMapped(
        "skipped", "Core project p_1 is not mapped to any everhour project"
    )
    assert place(link=None, tracker_project_id=None, core_project_id=None) == NotMapped(
        "skipped", "the entry has no Core project, so no project mapping"
    )


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"ticket_id": None, "ticket": None},
            "the entry has no ticket and Core project p_1 no rule",
        ),
        ({"ticket": None}, "Core ticket T-42 was not found and no rule applies"),
    ],
)
def test_without_a_ticket_only_a_rule_helps(changes: dict[str, Any], reason: str) -> None:
    assert place(link=None, rule=None, **changes) == NotMapped("skipped", reason)
    assert place(link=None, **changes) == Placement("ev:project", "ev:default", "rule")


def test_a_deletion_never_creates_a_task_nor_is_skipped_for_the_project() -> None:
    assert place(link=None, tasks=(), rule=None, deleted=True) == Placement(
        "ev:project", None, "none"
    )
    assert place(link=None, tracker_project_id=None, deleted=True) == Placement(None, None, "none")


def test_titles_match_ignoring_case_and_runs_of_space_an_open_task_first() -> None:
    tasks = [
        TrackerTask("ev:closed", "Fix the login page", closed=True),
        TrackerTask("ev:open", " fix THE login\tpage "),
        TrackerTask("ev:later", "Fix the login page"),
    ]
    assert find_by_title(tasks, "Fix the  Login page") == tasks[1]
    assert find_by_title(tasks[:1], "Fix the login page") == tasks[0]
    assert find_by_title(tasks, "Fix the login") is None


def test_a_created_task_describes_its_ticket() -> None:
    assert task_description(TICKET) == (
        "Core ticket T-42\nhttps://core.example/tickets/T-42\nStatus: in_progress\n\n"
        "Users cannot log in with SSO."
    )
    bare = dataclasses.replace(TICKET, url=None, status=None, description="")
    assert task_description(bare) == "Core ticket T-42"


def test_a_tracker_task_maps_to_its_linked_ticket_or_to_none() -> None:
    assert place_in_core(LINK, "p_1") == Placement("p_1", "T-42", "link")
    assert place_in_core(None, "p_1") == Placement("p_1", None, "none")
    assert place_in_core(None, None) == Placement(None, None, "none")
