"""The conflict-resolver on real Kafka and Postgres: an edit of a copy, on either side, carried
back to its origin or reviewed (see ``test_conflict_resolver``)."""

import datetime as dt

from .resolver_world import (
    DAY,
    EVERHOUR_KEY,
    EVERHOUR_URL,
    World,
    conflicts_of,
    core_entries,
    history,
    resolve,
    setup,
    world,
)

__all__ = ["world"]  # the module's fixture: one resolver for the three modules (leased)


async def test_an_everhour_edit_of_a_core_entry_s_copy_is_carried_back_to_core(
    world: World,
) -> None:
    s = await setup(world)
    started = dt.datetime(2026, 11, 21, 8, tzinfo=dt.UTC)
    te = s.log_in_core(3600, "Login page", started_at=started, timezone="Europe/Berlin")
    assert (await s.sync(s.core_sighting(te))).status == "synced"
    record = await s.record()
    await s.edit_in_everhour(4500)

    carried = await s.sync(s.everhour_record(record.id, 4500, "Login page"))
    assert (carried.status, carried.operation, carried.target_external_id) == (
        "synced",
        "update",
        te,
    )
    assert carried.reason is not None
    assert f"applied (duration) to core {te}" in carried.reason
    assert carried.entry is None  # the hours are the Core entry's, reported by it
    entry = world.core.entries[te]
    assert (entry.duration_seconds, entry.notes, entry.version) == (4500, "Login page", 2)
    assert (entry.started_at, entry.timezone) == (started, "Europe/Berlin")  # Core's own

    # Core's sighting of that write comes back: both sides already equal, nothing is written.
    echo = await s.sync(s.core_sighting(te))
    assert (echo.status, echo.operation) == ("synced", "none")
    assert echo.reason is not None
    assert "already holds this version" in echo.reason
    assert echo.entry is not None
    assert echo.entry.duration_seconds == 4500
    again = await s.sync(s.everhour_record(record.id, 4500, "Login page"))  # a later poll
    assert (again.status, again.target_external_id) == ("skipped", te)
    record = await s.record()
    assert (record.time, history(record)) == (4500, ["ADD", "EDIT"])
    assert [(e.id, e.version) for e in core_entries(world, s.workspace)] == [(te, 2)]

    # Deleting the copy in Everhour deletes the Core entry it copies.
    async with world.everhour_client(EVERHOUR_URL, EVERHOUR_KEY) as client:
        await client.delete_time(s.task, date=DAY, user_id=world.ann)
    gone = s.everhour_record(record.id, 4500, "Login page").model_copy(
        update={"operation": "delete"}
    )
    deleted = await s.sync(gone)
    assert (deleted.status, deleted.operation, deleted.target_external_id) == (
        "synced",
        "delete",
        te,
    )
    assert world.core.entries[te].deleted_at is not None
    after = await s.sync(s.core_sighting(te))
    assert (after.status, after.operation) == ("synced", "delete")
    assert await s.record() is None


async def test_an_edit_of_a_record_summing_several_core_entries_is_reviewed(
    world: World,
) -> None:
    s = await setup(world)
    await s.sync(s.core_entry("te_1", 3600, "a"))
    await s.sync(s.core_entry("te_2", 1800, "b"))
    record = await s.record()
    await s.edit_in_everhour(6000)
    edited = await s.sync(s.everhour_record(record.id, 6000, "a; b"))
    assert (edited.status, edited.target_external_id, edited.entry) == ("conflict", None, None)
    assert edited.reason is not None
    assert "sum of 2 core entries (core te_1, core te_2)" in edited.reason
    assert "cannot be split" in edited.reason
    [item] = await conflicts_of(s)
    assert (item["kind"], item["source"], item["source_external_id"]) == (
        "copy_changed",
        "everhour",
        str(record.id),
    )
    refused = await resolve(s, item["conflict_id"], "everhour")
    assert refused.status_code == 409
    assert "cannot be split" in refused.text
    kept_core = await resolve(s, item["conflict_id"], "core")
    assert kept_core.status_code == 200, kept_core.text
    assert (kept_core.json()["status"], kept_core.json()["operation"]) == ("skipped", "update")
    assert "restored" in kept_core.json()["reason"]
    assert (await s.record()).time == 5400
    assert not core_entries(world, s.workspace)


async def test_an_everhour_edit_while_core_changed_too_is_decided_by_the_policy(
    world: World,
) -> None:
    s = await setup(world)
    te = s.log_in_core(3600, "Login page")
    await s.sync(s.core_sighting(te))
    record = await s.record()
    await s.edit_in_core(te, notes="Changed in Core")  # not yet seen by Timebridge
    await s.edit_in_everhour(5000)

    reviewed = await s.sync(s.everhour_record(record.id, 5000, "Login page"))
    assert (reviewed.status, reviewed.target_external_id) == ("conflict", te)
    assert reviewed.reason is not None
    assert "choose which version to keep" in reviewed.reason
    [item] = await conflicts_of(s)
    assert item["kind"] == "changed"
    assert item["target_version"]["notes"] == "Changed in Core"
    entry = world.core.entries[te]
    assert (entry.duration_seconds, entry.notes) == (3600, "Changed in Core")

    await s.policy("prefer_tracker")
    won = await s.sync(s.everhour_record(record.id, 5000, "Login page"))
    assert (won.status, won.operation, won.target_external_id) == ("synced", "update", te)
    assert won.reason is not None
    assert "prefer_tracker" in won.reason
    # Only what changed in Everhour is carried: Core's own change of the notes stays.
    assert (entry.duration_seconds, entry.notes) == (5000, "Changed in Core")
    assert await conflicts_of(s) == []  # superseded by the policy's decision

    other = await setup(world, policy="prefer_core")
    te2 = other.log_in_core(1800, "Review")
    await other.sync(other.core_sighting(te2))
    await other.edit_in_core(te2, duration_seconds=2400)
    await other.edit_in_everhour(3000)
    restored = await other.sync(other.everhour_record((await other.record()).id, 3000, "Review"))
    assert (restored.status, restored.operation) == ("skipped", "update")
    assert restored.reason is not None
    assert "restored from core" in restored.reason
    assert (await other.record()).time == 1800  # back to what core te2 last had here
    assert world.core.entries[te2].duration_seconds == 2400  # Core's change wins (and syncs)
    assert (await other.sync(other.core_sighting(te2))).status == "synced"
    assert (await other.record()).time == 2400


async def test_a_core_edit_of_an_everhour_record_s_copy_is_carried_back_to_everhour(
    world: World,
) -> None:
    s = await setup(world)
    async with world.everhour_client(EVERHOUR_URL, EVERHOUR_KEY) as client:
        logged = await client.add_time(s.task, seconds=2700, date=DAY, comment="Code review")
    created = await s.sync(s.everhour_record(logged.id, 2700, "Code review"))
    copy = created.target_external_id
    assert copy is not None
    await s.edit_in_core(copy, duration_seconds=3600, notes="Code review and fixes")

    carried = await s.sync(s.core_sighting(copy))
    assert (carried.status, carried.operation, carried.target_external_id) == (
        "synced",
        "update",
        str(logged.id),
    )
    assert carried.reason is not None
    assert f"applied (duration, notes) to everhour {logged.id}" in carried.reason
    assert carried.entry is None
    record = await s.record()
    assert (record.time, record.comment, history(record)) == (
        3600,
        "Code review and fixes",
        ["ADD", "EDIT"],
    )
    # Everhour's sighting of that write comes back: Core already holds it.
    echo = await s.sync(s.everhour_record(logged.id, 3600, "Code review and fixes"))
    assert (echo.status, echo.operation) == ("synced", "none")
    assert echo.entry is not None
    assert echo.entry.duration_seconds == 3600  # the hours, reported once, by the record
    assert [(e.id, e.version) for e in core_entries(world, s.workspace)] == [(copy, 2)]
    assert history(await s.record()) == ["ADD", "EDIT"]

    # Another day, or another ticket, would be another Everhour record: reviewed, never moved.
    await s.edit_in_core(copy, date=(DAY + dt.timedelta(days=1)).isoformat())
    moved = await s.sync(s.core_sighting(copy))
    assert (moved.status, moved.target_external_id) == ("conflict", str(logged.id))
    assert moved.reason is not None
    assert "Everhour keeps one record per task, user and day" in moved.reason
    await s.policy("prefer_tracker")
    back = await s.sync(s.core_sighting(copy))
    assert (back.status, back.operation) == ("skipped", "update")
    assert world.core.entries[copy].date == DAY  # restored from Everhour
    assert (await s.record()).time == 3600


async def test_billable_is_derived_from_everhour_and_only_reported_towards_it(
    world: World,
) -> None:
    s = await setup(world)
    unbillable = world.everhour.add_task(
        world.project, f"Meetings of {s.workspace}", unbillable=True
    )
    to_everhour = s.core_entry("te_1", 1800, "Standup").model_copy(
        update={
            "entry": s.core_entry("te_1", 1800, "Standup").entry.model_copy(
                update={"task_external_id": unbillable, "billable": True}
            )
        }
    )
    synced = await s.sync(to_everhour)
    assert synced.status == "synced"  # the time is written; the flag cannot be
    assert synced.reason is not None
    assert "billable differs: core says billable, the Everhour task is unbillable" in synced.reason
    assert "reported, not written" in synced.reason

    # Everhour -> Core: billable is what the task makes it (mapping derives it from the task).
    from_task = s.everhour_record(4801, 900, "Meeting")
    from_task = from_task.model_copy(
        update={"entry": from_task.entry.model_copy(update={"billable": False})}
    )
    created = await s.sync(from_task)
    assert created.status == "synced"
    assert world.core.entries[created.target_external_id or ""].billable is False

    # A Core edit of only the billable flag of an Everhour record's copy cannot reach Everhour.
    async with world.everhour_client(EVERHOUR_URL, EVERHOUR_KEY) as client:
        logged = await client.add_time(s.task, seconds=600, date=DAY, comment="Pairing")
    copy = (await s.sync(s.everhour_record(logged.id, 600, "Pairing"))).target_external_id
    assert copy is not None
    await s.edit_in_core(copy, billable=False)
    reported = await s.sync(s.core_sighting(copy))
    assert (reported.status, reported.operation) == ("skipped", "none")
    assert reported.reason is not None
    assert "core says not billable, the Everhour task is billable" in reported.reason
    assert history(await s.record()) == ["ADD"]


async def test_a_write_read_back_as_something_else_is_an_error_never_synced(
    world: World,
) -> None:
    s = await setup(world)

    def someone_edits() -> None:
        [record] = [r for r in world.everhour.records.values() if r.task == s.task]
        record.time += 60

    world.after_everhour_write = someone_edits
    try:
        outcome = await s.sync(s.core_entry("te_1", 3600, "Login page"))
    finally:
        world.after_everhour_write = None
    assert (outcome.status, outcome.operation) == ("error", "none")
    assert outcome.reason is not None
    assert "confirmed but reading the record back shows something else" in outcome.reason
    assert outcome.provider_response is not None
    assert '"duration_seconds": 3660' in outcome.provider_response
    # Nothing was recorded as Timebridge's: the next change of the entry is reviewed, since
    # the record holds what nobody asked for.
    assert (await s.sync(s.core_entry("te_1", 3600, "Login page"))).status == "conflict"


async def test_an_everhour_record_also_holding_core_entries_takes_no_edit_of_its_copy(
    world: World,
) -> None:
    s = await setup(world, policy="prefer_core")
    async with world.everhour_client(EVERHOUR_URL, EVERHOUR_KEY) as client:
        logged = await client.add_time(s.task, seconds=600, date=DAY, comment="Call")
    copy = (await s.sync(s.everhour_record(logged.id, 600, "Call"))).target_external_id
    assert copy is not None
    # A Core entry of the same task, user and day is written into that very record.
    assert (await s.sync(s.core_entry("te_9", 300, "Notes"))).status == "synced"
    await s.edit_in_core(copy, duration_seconds=900)
    edited = await s.sync(s.core_sighting(copy))
    assert (edited.status, edited.target_external_id) == ("conflict", str(logged.id))
    assert edited.reason is not None
    assert f"everhour {logged.id} also holds the time of core te_9" in edited.reason
    assert (await s.record()).time == 300  # not overwritten with the copy's 900
