"""The slots ever leased (``sync_attempts``, migration 0007), recorded by the statement taking
write leases (issue 12): a key is answered as first only by the take that recorded it, never
again (after a release, an expiry, another owner), and never when a record, lease or link of it
was there before the table existed (the migration's backfill) or was left by a replica that did
not record attempts. Only then may a store skip its look-up before a create
(``Slot.never_written``)."""

import uuid

import asyncpg
import pytest

from timebridge_common.db.migrations import apply_migrations
from timebridge_common.errors import TransientError
from timebridge_conflict_resolver.adapters.postgres import PostgresSync
from timebridge_conflict_resolver.domain.records import Slot

pytestmark = pytest.mark.integration

INTEGRATION = "int_harvest"
MIGRATIONS = "timebridge_conflict_resolver.adapters.migrations"


async def test_a_key_is_first_only_for_the_take_that_recorded_it(
    resolver_pool: asyncpg.Pool,
) -> None:
    store = PostgresSync(resolver_pool)
    a, b = Slot("harvest", "core:te_a"), Slot("harvest", "core:te_b")
    first, retry, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    taken = await store.take_leases(first, INTEGRATION, [a], 60)
    assert taken.first == frozenset({"core:te_a"})
    again = await store.take_leases(first, INTEGRATION, [a], 60)  # a redelivery: its own lease
    assert again.first == frozenset()
    await store.release(first)  # a failure before the commit

    after_release = await store.take_leases(retry, INTEGRATION, [a, b], 60)
    assert after_release.first == frozenset({"core:te_b"})
    await resolver_pool.execute(
        "UPDATE sync_intents SET taken_at = now() - interval '2 minutes' WHERE owner = $1", retry
    )  # abandoned
    expired = await store.take_leases(other, INTEGRATION, [a, b], 60)
    assert expired.first == frozenset()
    assert await resolver_pool.fetchval("SELECT count(*) FROM sync_attempts") == 2


async def test_a_take_that_takes_nothing_records_no_attempt(resolver_pool: asyncpg.Pool) -> None:
    """Busy (another owner's live lease on one key): nothing taken, nothing recorded, so the
    key is still first for whoever takes it."""
    store = PostgresSync(resolver_pool)
    held, free = Slot("harvest", "held"), Slot("harvest", "free")
    await store.take_leases(uuid.uuid4(), INTEGRATION, [held], 60)

    with pytest.raises(TransientError, match="another attempt is writing"):
        await store.take_leases(uuid.uuid4(), INTEGRATION, [held, free], 60)

    assert (await store.take_leases(uuid.uuid4(), INTEGRATION, [free], 60)).first == {"free"}


async def test_slots_kept_before_the_table_are_never_first(resolver_pool: asyncpg.Pool) -> None:
    """The migration's backfill: every slot with a target record, a lease or a link (active
    or not) is an attempt already; and rows left without an attempt (a replica from before the
    upgrade, still running) are seen by the statement itself."""
    await resolver_pool.execute(
        "DROP TABLE sync_attempts;"
        " DELETE FROM schema_migrations WHERE version LIKE '%0007_sync_attempts.sql'"
    )  # the database as it was before migration 0007
    await resolver_pool.execute(
        "INSERT INTO sync_targets (integration_id, system, key, workspace_id, target_id,"
        " origin) VALUES ($1, 'harvest', 'kept', 'ws', '7', 'written')",
        INTEGRATION,
    )
    await resolver_pool.execute(
        "INSERT INTO sync_intents (integration_id, system, key, owner)"
        " VALUES ($1, 'harvest', 'leased', $2)",
        INTEGRATION,
        uuid.uuid4(),
    )
    await resolver_pool.execute(
        "INSERT INTO sync_links (integration_id, source, source_id, workspace_id, target,"
        " target_key, written, source_updated_at, active)"
        " VALUES ($1, 'core', 'te_1', 'ws', 'harvest', 'linked', '{}', now(), false)",
        INTEGRATION,
    )
    assert await apply_migrations(resolver_pool, MIGRATIONS) == [
        f"{MIGRATIONS}:0007_sync_attempts.sql"
    ]
    backfilled = await resolver_pool.fetch("SELECT system, key FROM sync_attempts ORDER BY key")
    assert [tuple(r) for r in backfilled] == [
        ("harvest", "kept"),
        ("harvest", "leased"),
        ("harvest", "linked"),
    ]

    await resolver_pool.execute("TRUNCATE sync_attempts")  # left by a replica not recording
    store = PostgresSync(resolver_pool)
    keys = ["kept", "leased", "linked", "new"]
    await resolver_pool.execute(
        "UPDATE sync_intents SET taken_at = now() - interval '2 minutes'"
    )  # the old replica's lease expired
    await resolver_pool.execute("UPDATE sync_links SET active = true")
    taken = await store.take_leases(
        uuid.uuid4(), INTEGRATION, [Slot("harvest", k) for k in keys], 60
    )
    assert taken.first == frozenset({"new"})
