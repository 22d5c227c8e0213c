"""The conflict-resolver's Postgres store in fewer round trips (issue 12): a decision commits
in one statement plus the outbox (``sync_sql.COMMIT_DECISION``) and leases are taken in one
(``sync_sql.TAKE_LEASES``). What each did as separate statements must hold: the claim commits
with the work or not at all, a redelivery changes nothing, a lease taken over meanwhile rolls
everything back, a superseded conflict is closed, and leases are taken all or none.
"""

import datetime as dt
import uuid

import asyncpg
import pytest

from timebridge_common.errors import TransientError
from timebridge_common.events import EntryMapped, Envelope
from timebridge_common.testing import sample_entry_mapped, sample_entry_synced
from timebridge_conflict_resolver.adapters.postgres import PostgresSync
from timebridge_conflict_resolver.domain.records import Slot, Write
from timebridge_conflict_resolver.domain.state import Completion, ConflictItem, Link, TargetRecord

pytestmark = pytest.mark.integration

INTEGRATION = "int_everhour"
CONSUMER = "conflict-resolver.entry-mapped"
EVENT: EntryMapped = sample_entry_mapped()
FIELDS = EVENT.entry


@pytest.fixture
def pool(resolver_pool: asyncpg.Pool) -> asyncpg.Pool:
    return resolver_pool


def completion(owner: uuid.UUID, envelope: Envelope, *, leases: int, seconds: int) -> Completion:
    fields = FIELDS.model_copy(update={"duration_seconds": seconds})
    target = TargetRecord("everhour", "task|1|day", "r1", fields, None, "written")
    stale = TargetRecord("everhour", "task|1|day", "r0", None, None, "written")
    outcome = sample_entry_synced(status="synced")
    return Completion(
        owner=owner,
        event=EVENT,
        claim=(CONSUMER, envelope),
        leases=leases,
        link=Link("core", "te_1", "everhour", "task|1|day", fields, dt.datetime.now(dt.UTC), True),
        targets=(stale, target),  # two of one key: the last one counts, as one after the other
        outcome=(outcome, Envelope.for_event(outcome, producer="conflict-resolver")),
    )


async def state(pool: asyncpg.Pool) -> tuple[int, int, list[str], list[int], int]:
    return (
        await pool.fetchval("SELECT count(*) FROM inbox"),
        await pool.fetchval("SELECT count(*) FROM outbox"),
        [r["target_id"] for r in await pool.fetch("SELECT target_id FROM sync_targets")],
        [
            r["s"]
            for r in await pool.fetch(
                "SELECT (written->>'duration_seconds')::int s FROM sync_links"
            )
        ],
        await pool.fetchval("SELECT count(*) FROM sync_intents"),
    )


async def test_a_decision_commits_once_and_a_taken_over_lease_commits_nothing(
    pool: asyncpg.Pool,
) -> None:
    store, slot = PostgresSync(pool), Slot("everhour", "task|1|day")
    envelope = Envelope.for_event(EVENT, producer="mapping")
    first, late = uuid.uuid4(), uuid.uuid4()
    await store.take_leases(late, INTEGRATION, [slot], 60)
    await pool.execute("UPDATE sync_intents SET taken_at = now() - interval '2 minutes'")
    await store.take_leases(first, INTEGRATION, [slot], 60)  # the expired one taken over
    with pytest.raises(TransientError, match="taken over"):
        await store.complete(completion(late, envelope, leases=1, seconds=60))
    assert await state(pool) == (0, 0, [], [], 1)  # nothing of it, not even the claim

    conflict = ConflictItem(
        uuid.uuid4(),
        EVENT.workspace_id,
        INTEGRATION,
        "changed",
        "both",
        EVENT,
        envelope,
        FIELDS,
        FIELDS,
        "r1",
    )
    opened = Completion(owner=uuid.uuid4(), event=EVENT, conflict=conflict)
    assert await store.complete(opened)
    assert await store.conflicts(EVENT.workspace_id, INTEGRATION, "open") != []

    assert await store.complete(completion(first, envelope, leases=1, seconds=60))
    assert await state(pool) == (1, 1, ["r1"], [60], 0)
    assert await store.conflicts(EVENT.workspace_id, INTEGRATION, "open") == []  # superseded
    again = completion(uuid.uuid4(), envelope, leases=0, seconds=90)  # a redelivery
    assert not await store.complete(again)
    assert await state(pool) == (1, 1, ["r1"], [60], 0)


async def test_leases_are_taken_all_or_none(pool: asyncpg.Pool) -> None:
    store = PostgresSync(pool)
    a, b = Slot("everhour", "a"), Slot("everhour", "b", target_id="rb")
    holder, other = uuid.uuid4(), uuid.uuid4()
    await store.take_leases(holder, INTEGRATION, [b], 60)
    await store.plan_write(holder, INTEGRATION, b, Write("update", FIELDS, None, "k"))
    with pytest.raises(TransientError, match="another attempt"):
        await store.take_leases(other, INTEGRATION, [a, b], 60)
    owners = {r["key"]: r["owner"] for r in await pool.fetch("SELECT key, owner FROM sync_intents")}
    assert owners == {"b": holder}  # a was not taken either

    await pool.execute("UPDATE sync_intents SET taken_at = now() - interval '2 minutes'")
    before = await store.take_leases(other, INTEGRATION, [a, b], 60)
    assert before["b"].owner == holder
    assert before["b"].planned == FIELDS
    assert "a" not in before
    again = await store.take_leases(other, INTEGRATION, [a, b], 60)  # its own: taken again
    assert again["b"].owner == other
    assert again["b"].target_id == "rb"


async def test_a_batch_asks_the_inbox_once_and_each_change_is_answered_once(
    pool: asyncpg.Pool,
) -> None:
    store = PostgresSync(pool)
    done, fresh = Envelope.for_event(EVENT, producer="mapping"), uuid.uuid4()
    assert await store.complete(completion(uuid.uuid4(), done, leases=0, seconds=60))
    await store.prefetch_processed(CONSUMER, [done.event_id, fresh])
    await pool.execute(
        "INSERT INTO inbox (consumer, event_id, event_type) VALUES ($1, $2, 'x')", CONSUMER, fresh
    )  # processed meanwhile (another replica): the batch's answer stands, the next is asked
    assert await store.processed(CONSUMER, done.event_id)
    assert not await store.processed(CONSUMER, fresh)
    assert await store.processed(CONSUMER, fresh)
    assert not await store.processed("another consumer", done.event_id)
