"""The conflict-resolver's Postgres store answers "is this record being written right now?".

The handler rule is unit-tested on the in-memory store (``test_write_race.py``); this checks
the SQL behind it on real PostgreSQL: a lease names its record once the id is known (an
update's from the start, a create's once answered), other owners see it until it is released
or older than ``lease_s``, and a re-taken lease keeps the id its owner noted.
"""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest

from timebridge_common.db.migrations import apply_migrations
from timebridge_common.db.pool import init_connection
from timebridge_common.events import TimeEntryFields
from timebridge_common.testing import sample_entry_mapped
from timebridge_conflict_resolver.adapters.postgres import PostgresSync
from timebridge_conflict_resolver.domain.records import Slot, Write

pytestmark = pytest.mark.integration

INTEGRATION = "int_tally"
FIELDS: TimeEntryFields = sample_entry_mapped().entry


@pytest.fixture
async def store(
    create_database: Callable[[str], Awaitable[str]],
) -> AsyncIterator[PostgresSync]:
    dsn = await create_database(f"resolver_in_flight_{uuid.uuid4().hex[:8]}")
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2, init=init_connection)
    await apply_migrations(pool, "timebridge_conflict_resolver.adapters.migrations")
    try:
        yield PostgresSync(pool)
    finally:
        await pool.close()


async def test_a_record_is_in_flight_from_its_create_until_the_lease_is_released(
    store: PostgresSync,
) -> None:
    writer, observer = uuid.uuid4(), uuid.uuid4()
    slot = Slot("tally", "core:te_1")
    await store.take_leases(writer, INTEGRATION, [slot], 60)
    assert await store.writing(INTEGRATION, "tally", "r1", observer, 60) == []  # only reading

    await store.plan_write(writer, INTEGRATION, slot, Write("create", FIELDS, None, "k"))
    [unanswered] = await store.writing(INTEGRATION, "tally", "r1", observer, 60)
    assert (unanswered.operation, unanswered.target_id) == ("create", None)
    assert unanswered.planned == FIELDS

    await store.created(writer, INTEGRATION, slot, "r1")
    [answered] = await store.writing(INTEGRATION, "tally", "r1", observer, 60)
    assert answered.target_id == "r1"
    assert await store.writing(INTEGRATION, "tally", "r2", observer, 60) == []  # another record
    assert await store.writing(INTEGRATION, "tally", "r1", writer, 60) == []  # its own
    assert await store.writing(INTEGRATION, "core", "r1", observer, 60) == []  # another system

    again = await store.take_leases(writer, INTEGRATION, [slot], 60)  # a redelivery re-takes it
    assert again[slot.key].target_id == "r1"
    assert [
        lease.target_id for lease in await store.writing(INTEGRATION, "tally", "r1", observer, 60)
    ] == ["r1"]

    await store.release(writer)
    assert await store.writing(INTEGRATION, "tally", "r1", observer, 60) == []


async def test_an_update_names_its_record_at_once_and_an_old_lease_no_longer_counts(
    store: PostgresSync,
) -> None:
    writer, observer = uuid.uuid4(), uuid.uuid4()
    await store.take_leases(writer, INTEGRATION, [Slot("tally", "core:te_2", "r7")], 60)

    [lease] = await store.writing(INTEGRATION, "tally", "r7", observer, 60)
    assert lease.target_id == "r7"
    assert await store.writing(INTEGRATION, "tally", "r7", observer, 0) == []  # expired
