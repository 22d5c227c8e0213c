"""The conflict-resolver on real Kafka and Postgres: provider failures (429, 5xx, lost answers,
outages) and dead letters (see ``test_conflict_resolver``)."""

import pytest

from timebridge_common.errors import TransientError
from timebridge_common.events import (
    EntryMapped,
    EntrySynced,
    Envelope,
)
from timebridge_common.kafka.dlt import dlt_topic
from timebridge_common.kafka.publisher import EventPublisher
from timebridge_common.kafka.replay import replay
from timebridge_common.testing import (
    end_offsets,
    read_topic,
)

from .conftest import KAFKA, unique
from .resolver_world import (
    World,
    core_entries,
    from_this_run,
    history,
    outcomes_for,
    setup,
    world,
)

__all__ = ["world"]  # the module's fixture: one resolver for the three modules (leased)


async def test_core_429_and_5xx_on_create_make_one_entry(world: World) -> None:
    s = await setup(world)
    world.time.sleeps.clear()
    world.core_faults.rate_limit_storm(requests=2, retry_after_s=7)
    first = await s.sync(s.everhour_record(4901, 1800, "Rate limited"))
    assert (first.status, first.operation) == ("synced", "create")
    assert world.time.sleeps.count(7) == 2  # Core's Retry-After, honoured twice

    world.core_faults.fail_next(1)  # a 503 before anything is applied (the look-up)
    world.core_unanswered_writes = 2  # then the create is applied twice over, answered 503
    second = await s.sync(s.everhour_record(4902, 2700, "Flaky Core"))
    assert (second.status, second.operation) == ("synced", "create")
    assert world.core_unanswered_writes == 0

    world.core_unanswered_writes = 3  # more than the client's attempts: the message is retried
    event = s.everhour_record(4903, 3600, "Very flaky Core")
    envelope = Envelope.for_event(event, producer="mapping")
    with pytest.raises(TransientError):
        await s.sync(event, envelope)
    third = await s.sync(event, envelope)
    assert (third.status, third.operation) == ("synced", "create")

    live = [(e.external_ref["id"], e.duration_seconds) for e in core_entries(world, s.workspace)]
    assert sorted(live) == [("4901", 1800), ("4902", 2700), ("4903", 3600)]
    keys = [key for (workspace, key) in world.core.idempotency if workspace == s.workspace]
    assert len(keys) == 3


async def test_a_lost_core_answer_after_the_create_is_not_a_second_entry(world: World) -> None:
    s = await setup(world)
    world.core_timeout_s = 1.0
    world.core_faults.lose_next_responses(1, delay_s=3.0)
    try:
        outcome = await s.sync(s.everhour_record(4904, 1500, "Lost answer"))
    finally:
        world.core_timeout_s = 30.0
    assert (outcome.status, outcome.operation) == ("synced", "create")
    [entry] = core_entries(world, s.workspace)
    assert (entry.external_ref, entry.duration_seconds, entry.version) == (
        {"system": "everhour", "id": "4904"},
        1500,
        1,
    )
    assert outcome.target_external_id == entry.id


async def test_an_everhour_outage_past_the_retry_budget_is_waited_out_not_dead_lettered(
    world: World,
) -> None:
    """Was: after TB_RETRY__MAX_ATTEMPTS the change went to the DLT, showed as ``error`` and
    needed a replay. Transient failures are now retried until Everhour is back (issue 13)."""
    s = await setup(world)
    event = s.core_entry("te_1", 3600, "Everhour is down")
    envelope = Envelope.for_event(event, producer="mapping")
    key = f"{s.workspace}:core:te_1".encode()
    publisher = EventPublisher(
        world.resolver.runtime.broker, world.resolver.runtime.tracer, "mapping"
    )
    synced_from = await end_offsets(KAFKA, EntrySynced.topic())
    dlt_from = await end_offsets(KAFKA, dlt_topic(EntryMapped.topic()))
    # Several times what the client (3 tries) and the consumer (3 attempts) used to allow.
    world.faults.fail_next(40)
    await publisher.publish(event, envelope)
    # Generous timeouts: other runs' records on the shared topic may queue ahead of ours.
    records = await read_topic(
        KAFKA, synced_from, until=lambda rs: bool(outcomes_for(rs, key)), timeout_s=120
    )
    assert world.faults.server_errors == 0  # every injected 503 was answered: waited out
    later_change = s.core_entry("te_1", 4000, "Everhour is back")  # same key, same partition
    await publisher.publish(later_change, Envelope.for_event(later_change, producer="mapping"))
    records = await read_topic(
        KAFKA, synced_from, until=lambda rs: len(outcomes_for(rs, key)) >= 2, timeout_s=120
    )
    assert [(o.status, o.operation) for o in outcomes_for(records, key)] == [
        ("synced", "create"),
        ("synced", "update"),
    ]
    record = await s.record()
    assert (record.time, history(record)) == (4000, ["ADD", "EDIT"])
    dlt_end = await end_offsets(KAFKA, dlt_topic(EntryMapped.topic()))
    written = sum(dlt_end[tp] - dlt_from.get(tp, 0) for tp in dlt_end)
    letters = (
        await read_topic(KAFKA, dlt_from, until=lambda rs: len(rs) >= written) if written else []
    )
    assert not [r for r in letters if r.key == key and from_this_run(r)]


async def test_an_invalid_change_is_dead_lettered_and_shows_as_error(world: World) -> None:
    s = await setup(world)
    stranger = s.core_entry("te_9", 60).model_copy(update={"workspace_id": unique("ws")})
    key = f"{stranger.workspace_id}:core:te_9".encode()
    synced_from = await end_offsets(KAFKA, EntrySynced.topic())
    publisher = EventPublisher(
        world.resolver.runtime.broker, world.resolver.runtime.tracer, "mapping"
    )
    envelope = Envelope.for_event(stranger, producer="mapping")
    await publisher.publish(stranger, envelope)
    records = await read_topic(
        KAFKA, synced_from, until=lambda rs: bool(outcomes_for(rs, key)), timeout_s=60
    )
    [error] = outcomes_for(records, key)
    assert error.status == "error"
    assert error.reason is not None
    assert "dead-lettered, it cannot be synced" in error.reason
    assert f"is not in workspace {stranger.workspace_id}" in error.reason
    # It would fail the same way again: a replay holds it back unless told to include it.
    letters = await replay(
        KAFKA, dlt_topic(EntryMapped.topic()), event_ids=[str(envelope.event_id)], dry_run=True
    )
    assert letters == []
    letters = await replay(
        KAFKA,
        dlt_topic(EntryMapped.topic()),
        event_ids=[str(envelope.event_id)],
        include_invalid=True,
        dry_run=True,
    )
    assert {letter.error_class for letter in letters} == {"invalid"}
