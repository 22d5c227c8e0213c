"""The conflict-resolver's write path on real Kafka and Postgres, against the provider sandboxes.

The Everhour and Core sandboxes answer the clients over httpx's ASGI transport on fake time (a
``Retry-After`` costs nothing), except where a lost answer needs a real timeout (a socket for
Everhour, :class:`TimeoutTransport` for Core). Most scenarios call the ``EntryMapped`` handler
directly; the first and the dead-letter ones go through Kafka end to end (consumer, inbox,
outbox relay, dead-letter topic).
"""

import datetime as dt
from typing import Any

import pytest

from timebridge_common.connections import CONNECTION_TOPICS
from timebridge_common.errors import InvalidMessageError, TransientError
from timebridge_common.events import (
    ConnectionChanged,
    EntrySynced,
    Envelope,
    TimeEntryFields,
    UserRef,
)
from timebridge_common.kafka.lag import group_has_read_to_end
from timebridge_common.kafka.publisher import EventPublisher
from timebridge_common.testing import (
    end_offsets,
    read_topic,
    sample_time_entry_logged,
    wait_for,
)
from timebridge_conflict_resolver.handlers.observations import on_time_entry_logged
from timebridge_conflict_resolver.handlers.sync import DEAD_LETTERS
from timebridge_sandboxes.everhour import create_everhour_sandbox
from timebridge_sandboxes.faults import Faults
from timebridge_sandboxes.testing import serve

from .conftest import KAFKA, unique
from .resolver_world import (
    DAY,
    EVERHOUR_KEY,
    EVERHOUR_URL,
    FOREIGN,
    World,
    history,
    later,
    outcomes_for,
    setup,
    world,
)

__all__ = ["world"]  # the module's fixture: one resolver for the three modules (leased)


async def test_a_core_entry_becomes_one_everhour_record_through_kafka(world: World) -> None:
    s = await setup(world)
    first = s.core_entry("te_1", 5400, "Fixing the login page")
    changed = first.model_copy(
        update={
            "entry": first.entry.model_copy(update={"duration_seconds": 6000}),
            "source_updated_at": later(),
        }
    )
    before = await end_offsets(KAFKA, EntrySynced.topic())
    publisher = EventPublisher(
        world.resolver.runtime.broker, world.resolver.runtime.tracer, "mapping"
    )
    envelope = Envelope.for_event(first, producer="mapping")
    for _ in range(3):  # redelivered: one write, one outcome
        await publisher.publish(first, envelope)
    await publisher.publish(changed, Envelope.for_event(changed, producer="mapping"))

    def ours(records: list[Any]) -> list[EntrySynced]:
        return outcomes_for(records, f"{s.workspace}:core:te_1".encode())

    records = await read_topic(KAFKA, before, until=lambda rs: len(ours(rs)) >= 2)
    outcomes = ours(records)
    record = await s.record()
    assert [(o.status, o.operation) for o in outcomes] == [
        ("synced", "create"),
        ("synced", "update"),
    ]
    assert outcomes[0].target_external_id == str(record.id)
    assert outcomes[0].entry == first.entry
    assert (record.user, record.task.id, record.date) == (world.ann, s.task, DAY)
    assert (record.time, record.comment) == (6000, "Fixing the login page")
    assert history(record) == ["ADD", "EDIT"]


async def test_entries_of_one_user_task_and_day_are_one_record_with_the_sum(world: World) -> None:
    s = await setup(world)
    one = await s.sync(s.core_entry("te_1", 3600, "Login page"))
    two = await s.sync(s.core_entry("te_2", 1800, "Review"))
    record = await s.record()
    assert (record.time, record.comment) == (5400, "Login page; Review")
    assert [(o.status, o.operation) for o in (one, two)] == [
        ("synced", "create"),
        ("synced", "update"),
    ]
    assert one.target_external_id == two.target_external_id == str(record.id)
    assert two.entry is not None
    assert two.entry.duration_seconds == 1800  # each entry reports its own hours, not the sum
    moved = s.core_entry("te_2", 1800, "Review", date=DAY + dt.timedelta(days=1))
    assert (await s.sync(moved)).status == "synced"
    assert (await s.record()).time == 3600
    assert (await s.record(DAY + dt.timedelta(days=1))).time == 1800


async def test_the_same_change_delivered_again_or_after_a_crash_is_written_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = await setup(world)
    event = s.core_entry("te_1", 2700, "Pairing")
    envelope = Envelope.for_event(event, producer="mapping")

    async def crash(*_: Any) -> bool:
        raise ConnectionError("the process died before recording the outcome")

    monkeypatch.setattr(world.resolver.syncer.store, "complete", crash)
    with pytest.raises(ConnectionError):
        await s.sync(event, envelope)
    monkeypatch.undo()
    assert history(await s.record()) == ["ADD"]

    resumed = await s.sync(event, envelope)
    assert (resumed.status, resumed.operation) == ("synced", "create")
    for _ in range(3):
        assert await world.resolver.syncer.on_entry_mapped(envelope, event) is None
    replayed = await s.sync(event)  # the same change under another event id
    assert (replayed.status, replayed.operation) == ("synced", "none")
    record = await s.record()
    assert (record.time, history(record)) == (2700, ["ADD"])


async def test_a_429_storm_is_waited_out_honouring_retry_after(world: World) -> None:
    s = await setup(world)
    world.time.sleeps.clear()
    world.faults.rate_limit_storm(requests=2, retry_after_s=7)
    outcome = await s.sync(s.core_entry("te_1", 3600))
    assert outcome.status == "synced"
    assert world.time.sleeps.count(7) == 2

    event = s.core_entry("te_2", 600)
    envelope = Envelope.for_event(event, producer="mapping")
    world.faults.rate_limit_storm(requests=5, retry_after_s=9)
    with pytest.raises(TransientError) as storm:  # longer than the client's attempts: the
        await s.sync(event, envelope)  # consumer retries the message with this wait
    assert storm.value.retry_after == 9
    world.faults.rate_limit_storm()
    assert (await s.sync(event, envelope)).status == "synced"
    record = await s.record()
    assert (record.time, history(record)) == (4200, ["ADD", "EDIT"])


async def test_a_lost_answer_is_looked_up_not_written_twice(world: World) -> None:
    faults = Faults()
    async with serve(create_everhour_sandbox(world.everhour, faults)) as url:
        s = await setup(world, url=url)
        faults.lose_next_responses(1, delay_s=2.5)
        outcome = await s.sync(s.core_entry("te_1", 1500, "Lost answer"))
    assert (outcome.status, outcome.operation) == ("synced", "create")
    record = await s.record()
    assert (record.time, history(record)) == (1500, ["ADD"])


async def test_a_locked_record_is_a_conflict_with_the_reason(world: World) -> None:
    s = await setup(world)
    await s.sync(s.core_entry("te_1", 3600))
    world.everhour.lock_time((await s.record()).id, invoiced=False)
    outcome = await s.sync(s.core_entry("te_1", 4500))
    assert (outcome.status, outcome.operation) == ("conflict", "none")
    assert outcome.reason is not None
    assert "locked" in outcome.reason
    assert outcome.provider_response is not None
    assert "locked" in outcome.provider_response
    assert (await s.record()).time == 3600
    async with world.api() as api:
        listed = await api.get(
            f"/v1/workspaces/{s.workspace}/integrations/{s.integration}/conflicts",
            headers=s.review(),
        )
    assert [c["kind"] for c in listed.json()] == ["locked"]


async def test_a_manual_review_conflict_is_listed_and_resolved_through_the_api(
    world: World,
) -> None:
    s = await setup(world)
    await s.sync(s.core_entry("te_1", 3600, "Login page"))
    await s.edit_in_everhour(4000)
    outcome = await s.sync(s.core_entry("te_1", 5400, "Login page"))
    assert outcome.status == "conflict"
    assert (await s.record()).time == 4000
    conflicts = f"/v1/workspaces/{s.workspace}/integrations/{s.integration}/conflicts"
    async with world.api() as api:
        assert (await api.get(conflicts)).status_code == 401
        assert (await api.get(conflicts, headers=s.review(s.member_token))).status_code == 403
        listed = (await api.get(conflicts, headers=s.review())).json()
        assert len(listed) == 1
        item = listed[0]
        assert (item["kind"], item["source_external_id"]) == ("changed", "te_1")
        assert item["source_version"]["duration_seconds"] == 5400
        assert item["target_version"]["duration_seconds"] == 4000
        resolution = f"/v1/workspaces/{s.workspace}/conflicts/{item['conflict_id']}/resolution"
        bad = await api.post(resolution, json={"keep": "harvest"}, headers=s.review())
        assert bad.status_code == 422
        answer = await api.post(resolution, json={"keep": "core"}, headers=s.review())
        assert answer.status_code == 200, answer.text
        assert (answer.json()["status"], answer.json()["operation"]) == ("synced", "update")
        again = await api.post(resolution, json={"keep": "core"}, headers=s.review())
        assert again.status_code == 409
        assert (await api.get(conflicts, headers=s.review())).json() == []
    assert (await s.record()).time == 5400


async def test_the_conflict_policy_settles_without_review(world: World) -> None:
    s = await setup(world, policy="prefer_tracker")
    await s.sync(s.core_entry("te_1", 3600))
    await s.edit_in_everhour(4000)
    kept = await s.sync(s.core_entry("te_1", 5400))
    assert (kept.status, (await s.record()).time) == ("skipped", 4000)
    assert kept.reason is not None
    assert "prefer_tracker" in kept.reason
    await s.policy("prefer_core")
    await s.edit_in_everhour(4100)
    written = await s.sync(s.core_entry("te_1", 6000))
    assert (written.status, (await s.record()).time) == ("synced", 6000)
    assert written.reason is not None
    assert "prefer_core" in written.reason


async def test_an_echo_of_timebridge_s_own_write_is_recognised(world: World) -> None:
    s = await setup(world)
    await s.sync(s.core_entry("te_1", 3600, "Login page"))
    record = await s.record()
    echo = await s.sync(s.everhour_record(record.id, 3600, "Login page"))
    assert (echo.status, echo.operation, echo.target_external_id) == ("skipped", "none", "te_1")
    assert echo.reason is not None
    assert "echo of Timebridge's own write" in echo.reason
    assert echo.entry is None  # the hours are reported once, by the Core entry
    assert not [e for e in world.core.entries.values() if e.workspace_id == s.workspace]


async def test_the_same_work_already_in_the_target_is_linked_not_duplicated(
    world: World,
) -> None:
    s = await setup(world)
    async with world.everhour_client(EVERHOUR_URL, EVERHOUR_KEY) as everhour:
        logged = await everhour.add_time(s.task, seconds=3600, date=DAY, comment="by hand")
    seen = sample_time_entry_logged(
        workspace_id=s.workspace,
        integration_id=s.integration,
        source="everhour",
        external_id=str(logged.id),
        entry=TimeEntryFields(
            user=UserRef(external_id=str(world.ann), email="Ann@acme.test"),
            task_external_id=s.task,
            date=DAY,
            duration_seconds=3600,
            billable=True,
        ),
    )
    await on_time_entry_logged(
        world.resolver.syncer.observations,  # type: ignore[arg-type]
        Envelope.for_event(seen, producer="ingest"),
        seen,
    )
    outcome = await s.sync(s.core_entry("te_1", 3600, "Login page"))
    assert (outcome.status, outcome.operation) == ("synced", "none")
    assert outcome.target_external_id == str(logged.id)
    assert outcome.reason is not None
    assert "linked to existing entry" in outcome.reason
    record = await s.record()
    assert (record.time, history(record)) == (3600, ["ADD"])
    echo = await s.sync(s.everhour_record(logged.id, 3600, "by hand"))
    assert echo.status == "skipped"  # the other side of the pair, never copied to Core


async def test_deletes_propagate(world: World) -> None:
    s = await setup(world)
    one, two = s.core_entry("te_1", 3600, "a"), s.core_entry("te_2", 1800, "b")
    await s.sync(one)
    await s.sync(two)
    gone = await s.sync(
        two.model_copy(update={"operation": "delete", "source_updated_at": later()})
    )
    assert (gone.status, gone.operation) == ("synced", "delete")
    assert ((await s.record()).time, (await s.record()).comment) == (3600, "a")
    last = await s.sync(
        one.model_copy(update={"operation": "delete", "source_updated_at": later()})
    )
    assert (last.status, last.operation) == ("synced", "delete")
    assert await s.record() is None
    never = s.core_entry("te_3", 60).model_copy(update={"operation": "delete"})
    assert (await s.sync(never)).status == "skipped"


async def test_an_everhour_record_becomes_one_core_entry_and_follows_it(world: World) -> None:
    s = await setup(world)
    created = await s.sync(s.everhour_record(4711, 5400, "From Everhour"))
    assert (created.status, created.operation) == ("synced", "create")
    entry = world.core.entries[created.target_external_id or ""]
    assert entry.external_ref == {"system": "everhour", "id": "4711"}
    assert (entry.user_id, entry.ticket_id, entry.project_id) == (
        s.core_user,
        s.ticket,
        s.core_project,
    )
    assert (entry.date, entry.duration_seconds, entry.notes) == (DAY, 5400, "From Everhour")
    keys = [key for (workspace, key) in world.core.idempotency if workspace == s.workspace]
    assert len(keys) == 1
    assert keys[0].startswith(f"timebridge:{s.integration}:everhour:4711:")

    as_core_has_it = s.everhour_record(4711, 5400, "From Everhour").entry
    echo = s.core_entry(entry.id, 5400, "From Everhour").model_copy(
        update={"source_entry": as_core_has_it}
    )
    assert (await s.sync(echo)).status == "skipped"

    updated = await s.sync(s.everhour_record(4711, 6000, "From Everhour"))
    assert (updated.status, updated.operation, entry.duration_seconds) == ("synced", "update", 6000)
    assert entry.version == 2
    world.core.entries[entry.id].locked = True
    locked = await s.sync(s.everhour_record(4711, 6600, "From Everhour"))
    assert locked.status == "conflict"
    world.core.entries[entry.id].locked = False
    deleted = await s.sync(s.everhour_record(4711, 6600).model_copy(update={"operation": "delete"}))
    assert (deleted.status, deleted.operation) == ("synced", "delete")
    assert entry.deleted_at is not None


async def test_an_entry_deleted_in_core_comes_back_when_the_tracker_wins(world: World) -> None:
    s = await setup(world, policy="prefer_tracker")
    first = await s.sync(s.everhour_record(4712, 1800, "Standup"))
    world.core.entries[first.target_external_id or ""].deleted_at = dt.datetime.now(dt.UTC)
    again = await s.sync(s.everhour_record(4712, 2400, "Standup"))
    assert (again.status, again.operation) == ("synced", "create")
    assert again.target_external_id != first.target_external_id
    live = [
        e
        for e in world.core.entries.values()
        if e.workspace_id == s.workspace and e.deleted_at is None
    ]
    assert [(e.id, e.duration_seconds, e.external_ref) for e in live] == [
        (again.target_external_id, 2400, {"system": "everhour", "id": "4712"})
    ]


async def test_a_changed_copy_is_reviewed_or_restored_by_the_policy_under_one_way(
    world: World,
) -> None:
    """Under ``core_to_tracker`` Everhour is only a target: an edit there is not carried to
    Core (mapping would not even publish it), so reaching the resolver it is reviewed."""
    s = await setup(world)
    await s.policy("manual_review", direction="core_to_tracker")
    await s.sync(s.core_entry("te_1", 3600, "Login page"))
    record = await s.record()
    await s.edit_in_everhour(4000)
    edited = await s.sync(s.everhour_record(record.id, 4000, "Login page"))
    assert (edited.status, edited.target_external_id) == ("conflict", "te_1")
    assert edited.entry is None
    await s.policy("prefer_core", direction="core_to_tracker")
    restored = await s.sync(s.everhour_record(record.id, 4000, "Login page"))
    assert (restored.status, restored.operation) == ("skipped", "update")
    assert restored.reason is not None
    assert "restored" in restored.reason
    assert (await s.record()).time == 3600
    assert not [e for e in world.core.entries.values() if e.workspace_id == s.workspace]


async def test_an_unknown_integration_is_invalid_once_the_copies_are_read_to_the_end(
    world: World,
) -> None:
    """Was: retried forever (a stalled partition). The resolver reads the connections topic
    from the start; once its group has committed the topic's end, an integration it still
    lacks will never come, so the change is dead-lettered and shows as an error."""
    s = await setup(world)
    stranger = s.core_entry("te_1", 60).model_copy(update={"integration_id": unique("int_unknown")})
    key = f"{stranger.workspace_id}:core:te_1".encode()
    group = next(c for c in world.resolver.runtime.consumers if c.model is ConnectionChanged)

    async def copies_read() -> bool:  # v2 and the deprecated v1 topic
        read = [await group_has_read_to_end(KAFKA, group.group_id, t) for t in CONNECTION_TOPICS]
        return all(read)

    await wait_for(copies_read, timeout_s=60)
    with pytest.raises(InvalidMessageError, match="read to its end"):
        await s.sync(stranger)
    synced_from = await end_offsets(KAFKA, EntrySynced.topic())
    publisher = EventPublisher(
        world.resolver.runtime.broker, world.resolver.runtime.tracer, "mapping"
    )
    envelope = Envelope.for_event(stranger, producer="mapping")
    await publisher.publish(stranger, envelope)
    # Every resolver on the shared topic (other runs' too) says the same of this change.
    records = await read_topic(
        KAFKA,
        synced_from,
        until=lambda rs: bool(outcomes_for(rs, key, foreign=True)),
        timeout_s=60,
    )
    errors = outcomes_for(records, key, foreign=True)
    assert errors
    assert all(e.status == "error" and FOREIGN in (e.reason or "") for e in errors)
    # ... and this one published its own: the dead letter's inbox claim is in its database.
    store = world.resolver.syncer.store
    await wait_for(lambda: store.processed(DEAD_LETTERS, envelope.event_id), timeout_s=60)


async def test_a_disconnected_integration_is_skipped(world: World) -> None:
    s = await setup(world)
    await s.connect(
        s.integration,
        "everhour",
        EVERHOUR_URL,
        EVERHOUR_KEY,
        status="disconnected",
    )
    skipped = await s.sync(s.core_entry("te_1", 60))
    assert (skipped.status, skipped.reason) == ("skipped", "the integration is disconnected")
