"""The pure decisions of the write path: sums, three-way comparisons, policies, echoes."""

import datetime as dt

import pytest
from timebridge_providers.installed import registry
from timebridge_providers.kit.profile import Profile

from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_common.testing import sample_entry_mapped, sample_time_entry_logged
from timebridge_conflict_resolver.domain.decisions import (
    Decision,
    decide,
    is_echo,
    source_changed,
    winner,
)
from timebridge_conflict_resolver.domain.matching import candidate, matches, observe
from timebridge_conflict_resolver.domain.records import (
    Contribution,
    aggregate,
    desired,
    merged_fields,
    record_key,
    wanted_state,
)

CORE = registry().home().profile
EVERHOUR = registry().get("everhour").profile
MAPPED = sample_entry_mapped()
ENTRY = MAPPED.entry  # Everhour ids: user 1001, task ev:7000000001, 3600 s
KEY = "ev:7000000001|1001|2026-11-21"


def entry(seconds: int, notes: str = "", **changes: object) -> TimeEntryFields:
    return ENTRY.model_copy(update={"duration_seconds": seconds, "notes": notes, **changes})


def test_entries_of_one_user_task_and_day_land_in_one_record() -> None:
    assert record_key(ENTRY) == KEY
    assert record_key(entry(60, date=dt.date(2026, 11, 22))) != KEY
    assert record_key(entry(60, task_external_id=None)) is None


def test_the_record_is_the_sum_of_its_entries_and_their_notes() -> None:
    record = aggregate(
        KEY, [entry(3600, "Login page"), entry(1800, "Review"), entry(900, "Review")]
    )
    assert record is not None
    assert (record.duration_seconds, record.notes) == (6300, "Login page; Review")
    assert (record.task_external_id, record.user.external_id) == ("ev:7000000001", "1001")
    assert record.started_at is None


def test_nothing_left_in_a_record_means_deleting_it() -> None:
    assert aggregate(KEY, []) is None
    assert aggregate(KEY, [entry(0)]) is None


def test_the_wanted_state_does_not_depend_on_arrival_order() -> None:
    a = Contribution(CORE.name, "te_2", entry(1800, "b"))
    b = Contribution(CORE.name, "te_1", entry(3600, "a"))
    assert wanted_state(EVERHOUR, KEY, [a, b]) == wanted_state(EVERHOUR, KEY, [b, a])
    core_entry = entry(60)
    assert wanted_state(CORE, "everhour:42", [Contribution(EVERHOUR.name, "42", core_entry)]) == (
        core_entry
    )
    assert wanted_state(CORE, "everhour:42", []) is None


def test_an_update_from_everhour_keeps_what_everhour_does_not_have() -> None:
    core_now = MAPPED.source_entry  # has a start time and Europe/Berlin
    from_everhour = core_now.model_copy(
        update={"started_at": None, "timezone": "UTC", "duration_seconds": 4000}
    )
    result = desired(from_everhour, core_now, merged_fields(EVERHOUR))
    assert result is not None
    assert (result.duration_seconds, result.started_at, result.timezone) == (
        4000,
        core_now.started_at,
        "Europe/Berlin",
    )
    assert desired(from_everhour, None, merged_fields(EVERHOUR)) == from_everhour
    assert desired(from_everhour, core_now, merged_fields(CORE)) == from_everhour


def three_way(
    current: int | None,
    baseline: int | None,
    wanted: int | None,
    *,
    source_changed: bool = True,
    on_conflict: str | None = None,
    forced: bool = False,
) -> Decision:
    def state(seconds: int | None) -> TimeEntryFields | None:
        return None if seconds is None else entry(seconds)

    return decide(
        EVERHOUR,
        current=state(current),
        baseline=state(baseline),
        desired=state(wanted),
        source_changed=source_changed,
        on_conflict=on_conflict,  # type: ignore[arg-type]
        forced=forced,
    )


def test_a_record_already_as_wanted_is_not_written_again() -> None:
    assert three_way(5400, 3600, 5400).action == "in_sync"
    assert three_way(None, 3600, None).action == "in_sync"


def test_only_the_source_changed_means_writing() -> None:
    assert three_way(None, None, 3600) == Decision("write", "create")
    assert three_way(3600, 3600, 5400) == Decision("write", "update")
    assert three_way(3600, 3600, None) == Decision("write", "delete")


def test_only_the_target_changed_keeps_it() -> None:
    decision = three_way(4000, 3600, 5400, source_changed=False)
    assert (decision.action, decision.settled) == ("keep", False)


def test_both_changed_is_a_conflict_unless_a_verdict_settles_it() -> None:
    assert three_way(4000, 3600, 5400).action == "conflict"
    assert three_way(4000, None, 3600).action == "conflict"  # a record Timebridge did not write
    assert three_way(4000, 3600, 5400, on_conflict="write") == Decision(
        "write", "update", "everhour's version overwritten", settled=True
    )
    assert three_way(4000, 3600, 5400, on_conflict="keep").action == "keep"


def test_a_person_s_choice_applies_even_without_a_visible_conflict() -> None:
    assert three_way(3600, 3600, 5400, on_conflict="keep", forced=True).action == "keep"
    assert three_way(3600, 3600, 5400, on_conflict="write", forced=True).action == "write"
    assert three_way(5400, 3600, 5400, on_conflict="keep", forced=True).action == "in_sync"


@pytest.mark.parametrize(
    ("policy", "source", "expected"),
    [
        ("prefer_core", CORE, "source"),
        ("prefer_core", EVERHOUR, "target"),
        ("prefer_tracker", CORE, "target"),
        ("prefer_tracker", EVERHOUR, "source"),
        ("manual_review", CORE, None),
        ("manual_review", EVERHOUR, None),
    ],
)
def test_the_policy_names_the_authoritative_side(
    policy: str, source: Profile, expected: str | None
) -> None:
    assert winner(policy, source) == expected  # type: ignore[arg-type]


def test_the_source_changed_when_its_kept_fields_differ_from_what_was_written() -> None:
    assert source_changed(EVERHOUR, MAPPED, None, active=False)
    assert not source_changed(EVERHOUR, MAPPED, ENTRY, active=True)
    assert source_changed(EVERHOUR, MAPPED, entry(60), active=True)
    # Everhour keeps no start time: a change of it alone is nothing to write there
    moved_start = MAPPED.model_copy(update={"entry": ENTRY.model_copy(update={"started_at": None})})
    assert not source_changed(EVERHOUR, moved_start, ENTRY, active=True)
    deleted = MAPPED.model_copy(update={"operation": "delete"})
    assert source_changed(EVERHOUR, deleted, ENTRY, active=True)
    assert not source_changed(EVERHOUR, deleted, ENTRY, active=False)


def test_an_echo_is_the_record_as_timebridge_wrote_it_or_an_older_sighting() -> None:
    written = entry(5400, "Login page")
    at = dt.datetime(2026, 11, 21, 10, 5, tzinfo=dt.UTC)
    echo = sample_entry_mapped(
        source=EVERHOUR.name,
        source_external_id="42",
        target=CORE.name,
        source_entry=written.model_copy(update={"user": UserRef(external_id="1001")}),
        source_updated_at=at + dt.timedelta(minutes=1),
    )
    assert is_echo(EVERHOUR, echo, written, at)
    edited = echo.model_copy(update={"source_entry": entry(6000)})
    assert not is_echo(EVERHOUR, edited, written, at)
    late = edited.model_copy(update={"source_updated_at": at - dt.timedelta(minutes=1)})
    assert is_echo(EVERHOUR, late, written, at)
    gone = echo.model_copy(update={"operation": "delete"})
    assert is_echo(EVERHOUR, gone, None, at)
    assert not is_echo(EVERHOUR, gone, written, at)


def test_match_by_timestamp_looks_for_the_mapped_entry_as_its_source_has_it() -> None:
    logged_in_everhour = observe(
        sample_time_entry_logged(
            source=EVERHOUR.name,
            external_id="42",
            entry=ENTRY.model_copy(update={"started_at": None, "ended_at": None}),
        )
    )
    me = candidate(MAPPED)
    assert (me.source, me.external_id, me.person) == (CORE.name, "te_1", "ann@acme.test")
    assert matches(me, [logged_in_everhour]) == [logged_in_everhour]
    assert logged_in_everhour.task_external_id == "ev:7000000001"
    assert logged_in_everhour.user_external_id == "1001"
