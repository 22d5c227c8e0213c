"""Where a change lands, from the target's profile: day records by task, user and day; entries
by their source entry."""

import datetime as dt

from timebridge_providers.installed import registry
from timebridge_providers.kit.ports.entries import day_key, entry_key
from timebridge_providers.kit.profile import Profile, RateLimit

from timebridge_common.testing import sample_entry_mapped
from timebridge_conflict_resolver.domain.convergence import Carry
from timebridge_conflict_resolver.domain.matching import candidate
from timebridge_conflict_resolver.domain.plans import (
    back_plan,
    forward_keys,
    link_of,
    match_slot,
    shared_origin,
)
from timebridge_conflict_resolver.domain.records import Systems
from timebridge_conflict_resolver.domain.state import TargetRecord

HOME = registry().home().profile
DAYS = registry().get("everhour").profile
ENTRIES = Profile(name="tally", title="Tally", kind="tracker", rate_limit=RateLimit(10, 1))
MAPPED = sample_entry_mapped()
KEY = day_key("ev:7000000001", "1001", MAPPED.entry.date)


def test_a_new_entry_lands_in_its_day_record_or_its_own_entry() -> None:
    assert forward_keys(DAYS, MAPPED, None) == (None, KEY)
    assert forward_keys(ENTRIES, MAPPED, None) == (None, entry_key("core", "te_1"))


def test_an_entry_moved_to_another_day_leaves_its_old_record() -> None:
    link = link_of(MAPPED, KEY)
    moved = MAPPED.model_copy(
        update={"entry": MAPPED.entry.model_copy(update={"date": dt.date(2026, 11, 22)})}
    )

    assert forward_keys(DAYS, moved, link) == (
        KEY,
        day_key("ev:7000000001", "1001", moved.entry.date),
    )
    # not moved: it stays in the record it was linked to, even under another key
    assert forward_keys(DAYS, MAPPED, link_of(MAPPED, "linked-key")) == ("linked-key", "linked-key")


def test_a_day_record_needs_a_task() -> None:
    untasked = MAPPED.model_copy(
        update={"entry": MAPPED.entry.model_copy(update={"task_external_id": None})}
    )
    assert forward_keys(DAYS, untasked, None) == (
        "no Everhour task for this entry: Everhour records time on tasks only"
    )
    assert forward_keys(ENTRIES, untasked, None) == (None, entry_key("core", "te_1"))


def test_the_same_work_is_found_where_the_target_keeps_it() -> None:
    match = candidate(MAPPED)  # stands for the matching entry: its own task, user and day
    found = match_slot(DAYS, MAPPED, match)
    assert found is not None
    assert (found.key, found.target_id) == (day_key("t_1", "u_1", match.date), "te_1")
    entry = match_slot(ENTRIES, MAPPED, match)
    assert entry is not None
    assert (entry.key, entry.target_id) == (entry_key("core", "te_1"), "te_1")


def test_an_edit_carried_back_to_a_day_record_names_that_record() -> None:
    systems = Systems(HOME, DAYS)
    origin = link_of(
        sample_entry_mapped(source="everhour", source_external_id="42", target="core"),
        entry_key("everhour", "42"),
    )
    copy = TargetRecord("core", entry_key("everhour", "42"), "te_9", None, None, "written")
    edit = sample_entry_mapped(source="core", source_external_id="te_9", target="everhour")
    carry = Carry(frozenset({"duration_seconds"}), frozenset({"duration_seconds"}))

    back = back_plan(systems, edit, copy, origin, carry)

    assert back.slots[0].slot.key == day_key("t_1", "u_1", MAPPED.entry.date)
    assert shared_origin(systems, back, []) is None
    assert "also holds the time of core te_5" in (
        shared_origin(
            systems, back, [link_of(MAPPED.model_copy(update={"source_external_id": "te_5"}), "k")]
        )
        or ""
    )
