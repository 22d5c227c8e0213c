"""Carrying an edit of a copy back to its origin: which edits flow, and what of them is carried."""

import datetime as dt

import pytest
from timebridge_providers.installed import registry
from timebridge_providers.kit.ports.entries import Observed
from timebridge_providers.kit.profile import Profile

from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_conflict_resolver.domain.convergence import (
    Carry,
    Uncarried,
    carry_back,
    describe,
    flows_back,
    rewritten,
    when_uncarried,
)
from timebridge_conflict_resolver.domain.records import billable_note, desired

CORE = registry().home().profile
EVERHOUR = registry().get("everhour").profile

DAY = dt.date(2026, 11, 21)
IN_EVERHOUR = TimeEntryFields(
    user=UserRef(external_id="1001"),
    project_external_id="ev:9000000001",
    task_external_id="ev:7000000001",
    date=DAY,
    duration_seconds=3600,
    notes="Login page",
    billable=True,
)
IN_CORE = TimeEntryFields(
    user=UserRef(external_id="u_1", email="ann@acme.test"),
    project_external_id="p_1",
    task_external_id="T-1",
    date=DAY,
    started_at=dt.datetime(2026, 11, 21, 8, tzinfo=dt.UTC),
    timezone="Europe/Berlin",
    duration_seconds=3600,
    notes="Login page",
    billable=True,
)


def everhour_edit(**changes: object) -> TimeEntryFields:
    return IN_EVERHOUR.model_copy(update=changes)


def core_edit(**changes: object) -> TimeEntryFields:
    return IN_CORE.model_copy(update=changes)


def from_everhour(edited: TimeEntryFields | None, as_core: TimeEntryFields | None = None) -> object:
    return carry_back(
        EVERHOUR,
        CORE,
        edited=edited,
        confirmed=IN_EVERHOUR,
        edited_as_origin=as_core or IN_CORE,
        origins=["core te_1"],
        copy_name="everhour 42",
    )


def from_core(edited: TimeEntryFields | None) -> object:
    return carry_back(
        CORE,
        EVERHOUR,
        edited=edited,
        confirmed=IN_CORE,
        edited_as_origin=IN_EVERHOUR,
        origins=["everhour 42"],
        copy_name="core te_9",
    )


@pytest.mark.parametrize(
    ("direction", "edited_in", "flows"),
    [
        ("two_way", EVERHOUR, True),
        ("two_way", CORE, True),
        ("tracker_to_core", EVERHOUR, True),
        ("tracker_to_core", CORE, False),
        ("core_to_tracker", CORE, True),
        ("core_to_tracker", EVERHOUR, False),
    ],
)
def test_an_edit_flows_back_where_the_direction_takes_its_system(
    direction: str, edited_in: Profile, flows: bool
) -> None:
    assert flows_back(direction, edited_in) is flows  # type: ignore[arg-type]


def test_only_what_changed_in_everhour_is_carried_to_the_core_entry() -> None:
    carry = from_everhour(everhour_edit(duration_seconds=4000))
    assert carry == Carry(frozenset({"duration_seconds"}), frozenset({"duration_seconds"}))
    assert isinstance(carry, Carry)
    edited_core = IN_CORE.model_copy(update={"duration_seconds": 4000, "started_at": None})
    core_after = desired(edited_core, IN_CORE, carry.fields)
    assert core_after is not None
    # Core keeps what Everhour does not have (its start time) and what did not change there
    assert (core_after.duration_seconds, core_after.started_at) == (4000, IN_CORE.started_at)
    assert (core_after.task_external_id, core_after.timezone) == ("T-1", "Europe/Berlin")


def test_a_task_change_is_carried_as_its_linked_ticket_with_project_and_billable() -> None:
    moved = everhour_edit(task_external_id="ev:7000000002", notes="Other")
    carry = from_everhour(moved, IN_CORE.model_copy(update={"task_external_id": "T-2"}))
    assert isinstance(carry, Carry)
    assert carry.fields == {"task_external_id", "project_external_id", "billable", "notes"}
    assert carry.copied == {"task_external_id", "notes"}
    unlinked = from_everhour(moved, IN_CORE.model_copy(update={"task_external_id": None}))
    assert isinstance(unlinked, Uncarried)
    assert "linked to no Core ticket" in unlinked.reason


def test_a_record_summing_several_core_entries_cannot_be_split() -> None:
    result = carry_back(
        EVERHOUR,
        CORE,
        edited=everhour_edit(duration_seconds=9000),
        confirmed=IN_EVERHOUR,
        edited_as_origin=IN_CORE,
        origins=["core te_1", "core te_2"],
        copy_name="everhour 42",
    )
    assert isinstance(result, Uncarried)
    assert "sum of 2 core entries (core te_1, core te_2)" in result.reason
    assert "cannot be split" in result.reason


def test_a_deleted_copy_deletes_its_single_origin() -> None:
    assert from_everhour(None) == Carry(frozenset(), frozenset(), delete=True)
    assert from_core(None) == Carry(frozenset(), frozenset(), delete=True)


def test_a_core_edit_reaches_everhour_as_duration_and_notes_only() -> None:
    carry = from_core(core_edit(duration_seconds=5400, notes="Done", timezone="UTC"))
    assert isinstance(carry, Carry)
    assert carry.fields == carry.copied == {"duration_seconds", "notes"}
    assert carry.notes == ("Everhour keeps no time zone: not carried",)
    nothing = from_core(core_edit(billable=False))  # a task property in Everhour
    assert nothing == Carry(frozenset(), frozenset())


@pytest.mark.parametrize(
    "move",
    [
        {"date": DAY + dt.timedelta(days=1)},
        {"task_external_id": "T-2"},
        {"user": UserRef(external_id="u_2")},
    ],
)
def test_moving_an_everhour_record_s_copy_in_core_cannot_be_carried(move: object) -> None:
    result = from_core(core_edit(**move))  # type: ignore[arg-type]
    assert isinstance(result, Uncarried)
    assert "Everhour keeps one record per task, user and day" in result.reason


def test_the_origin_s_contribution_takes_the_carried_values() -> None:
    carry = from_everhour(everhour_edit(duration_seconds=4000, notes="x"))
    assert isinstance(carry, Carry)
    edited = everhour_edit(duration_seconds=4000, notes="x")
    after = rewritten(IN_EVERHOUR.model_copy(update={"billable": False}), edited, carry)
    assert (after.duration_seconds, after.notes, after.billable) == (4000, "x", False)
    assert rewritten(IN_EVERHOUR, None, carry) == IN_EVERHOUR


def test_reasons_name_fields_in_the_product_s_words() -> None:
    assert describe(frozenset({"duration_seconds", "task_external_id"})) == "duration, ticket"
    assert describe(frozenset()) == "nothing"


def record(billable: bool, by: str = "task") -> Observed:
    return Observed("42", IN_EVERHOUR.model_copy(update={"billable": billable}), billable_by=by)


def test_billable_can_only_be_reported_for_everhour() -> None:
    assert billable_note(CORE.name, True, EVERHOUR, record(True)) is None
    note = billable_note(CORE.name, True, EVERHOUR, record(False))
    assert note is not None
    assert note.startswith("billable differs: core says billable, the Everhour task is unbillable")
    other = billable_note(CORE.name, False, EVERHOUR, record(True))
    assert other is not None
    assert "core says not billable, the Everhour task is billable" in other
    # a non-billable project decides, whatever the task says
    project = billable_note(CORE.name, True, EVERHOUR, record(False, "project"))
    assert project is not None
    assert "the Everhour project is not billable" in project
    # where billable is per entry it is written, never reported
    assert billable_note(EVERHOUR.name, True, CORE, record(False)) is None


def test_an_edit_that_cannot_be_carried_is_restored_refused_or_reviewed() -> None:
    assert when_uncarried("target", forced=False) == "restore"  # e.g. prefer_core, from Everhour
    assert when_uncarried("target", forced=True) == "restore"  # a person kept the origin's
    assert when_uncarried("source", forced=True) == "refuse"  # a person kept the copy's
    assert when_uncarried("source", forced=False) == "review"  # the policy prefers the copy's
    assert when_uncarried(None, forced=False) == "review"  # manual review
