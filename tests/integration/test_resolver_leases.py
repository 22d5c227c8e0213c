"""Write leases and a decision's commit, each in one statement without a transaction around it
(issue 12). When another replica inserts one of the leases after the statement's snapshot, the
statement takes it only in part, raises and rolls itself back whole, so no lease is left taken
and the change is retried. A decision commits its outcome's outbox row, as ``enqueue`` stages
it, and wakes the relay in the same statement (a taken-over lease, a redelivery and a
superseded conflict: ``test_resolver_store_commit``)."""

import asyncio
import uuid

import asyncpg
import pytest

from timebridge_common.errors import TransientError
from timebridge_common.events import Envelope
from timebridge_common.events.codec import encode
from timebridge_common.testing import sample_entry_mapped, sample_entry_synced, wait_for
from timebridge_conflict_resolver.adapters.postgres import PostgresSync
from timebridge_conflict_resolver.domain.records import Slot
from timebridge_conflict_resolver.domain.state import Completion

pytestmark = pytest.mark.integration

INTEGRATION = "int_everhour"


@pytest.fixture
def pool(resolver_pool: asyncpg.Pool) -> asyncpg.Pool:
    return resolver_pool


async def test_a_lease_inserted_meanwhile_rolls_the_whole_take_back(pool: asyncpg.Pool) -> None:
    store = PostgresSync(pool)
    a, b = Slot("everhour", "a"), Slot("everhour", "b")
    replica, mine = uuid.uuid4(), uuid.uuid4()

    async def waiting() -> bool | None:
        blocked: int = await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return blocked > 0 or None

    async with pool.acquire() as other, asyncio.timeout(30):
        insert = other.transaction()
        await insert.start()  # another replica's lease on b, not committed yet
        await other.execute(
            "INSERT INTO sync_intents (integration_id, system, key, owner)"
            " VALUES ($1, 'everhour', 'b', $2)",
            INTEGRATION,
            replica,
        )
        taking = asyncio.create_task(store.take_leases(mine, INTEGRATION, [a, b], 60))
        await wait_for(waiting)  # our statement saw no lease on b and now waits on its insert
        await insert.commit()
        with pytest.raises(TransientError, match="another attempt"):
            await taking

    owners = {r["key"]: r["owner"] for r in await pool.fetch("SELECT key, owner FROM sync_intents")}
    assert owners == {"b": replica}  # a was not left taken
    assert await store.take_leases(mine, INTEGRATION, [a], 60) == {}  # a is free


async def test_a_decision_commits_its_outbox_row_and_wakes_the_relay(pool: asyncpg.Pool) -> None:
    store = PostgresSync(pool)
    event = sample_entry_mapped(integration_id=INTEGRATION)
    outcome = sample_entry_synced(status="synced")
    staged = Envelope.for_event(outcome, producer="conflict-resolver")
    claim = ("conflict-resolver.entry-mapped", Envelope.for_event(event, producer="mapping"))
    owner = uuid.uuid4()
    await store.take_leases(owner, INTEGRATION, [Slot("everhour", "a")], 60)
    woken = asyncio.Event()
    async with pool.acquire() as relay:

        def wake(*_: object) -> None:
            woken.set()

        await relay.add_listener("timebridge_outbox", wake)
        done = Completion(owner, event, claim=claim, leases=1, outcome=(outcome, staged))
        assert await store.complete(done)
        async with asyncio.timeout(10):
            await woken.wait()
        await relay.remove_listener("timebridge_outbox", wake)

    row = await pool.fetchrow("SELECT event_id, topic, key, value, headers FROM outbox")
    encoded = encode(outcome, staged)
    assert row is not None
    assert (row["event_id"], row["topic"], row["key"], row["value"]) == (
        staged.event_id,
        encoded.topic,
        encoded.key,
        encoded.value,
    )
    assert row["headers"] == encoded.headers  # no trace running here: nothing injected
    assert await pool.fetchval("SELECT count(*) FROM sync_intents") == 0
