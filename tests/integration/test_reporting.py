"""Reporting's read models on the real database: sync log filters, entry status, health."""

import datetime as dt
from collections.abc import Awaitable, Callable

import asyncpg

from timebridge_common.db.migrations import apply_migrations
from timebridge_common.events import Envelope
from timebridge_common.testing import sample_entry_synced
from timebridge_reporting.adapters.postgres import PostgresReadModels
from timebridge_reporting.domain.sync_log import SyncLogQuery
from timebridge_reporting.handlers.read_models import on_entry_synced

T0 = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC)


async def test_status_is_the_last_outcome_and_health_counts_the_backlog(
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> None:
    pool = await make_pool(await create_database("reporting"))
    await apply_migrations(pool, "timebridge_reporting.adapters.migrations")
    models = PostgresReadModels(pool)
    outcomes = [
        sample_entry_synced(status="error", reason="Everhour answered 503", synced_at=T0),
        sample_entry_synced(status="synced", synced_at=T0 + dt.timedelta(minutes=1)),
        sample_entry_synced(
            source_external_id="te_2", status="queued", reason="user not mapped", synced_at=T0
        ),
        sample_entry_synced(
            source_external_id="te_3",
            status="conflict",
            reason="edited on both sides",
            synced_at=T0 + dt.timedelta(minutes=2),
        ),
    ]
    envelopes = [Envelope.for_event(e, producer="test") for e in outcomes]
    for envelope, event in zip(envelopes, outcomes, strict=True):
        assert await on_entry_synced(models, envelope, event)
    assert not await on_entry_synced(models, envelopes[0], outcomes[0])  # redelivery
    late = sample_entry_synced(status="error", reason="late", synced_at=T0 - dt.timedelta(hours=1))
    await on_entry_synced(models, Envelope.for_event(late, producer="test"), late)

    [status] = await models.entry_status("acme", "core", "te_1")
    assert (status["status"], status["target_external_id"]) == ("synced", "eh_1")

    errors = await models.sync_log("acme", SyncLogQuery(status="error"))
    assert [e["reason"] for e in errors] == ["Everhour answered 503", "late"]
    assert len(await models.sync_log("acme", SyncLogQuery(entry="te_2"))) == 1
    assert len(await models.sync_log("acme", SyncLogQuery(user="ANN@acme.test"))) == 5
    window = SyncLogQuery(since=T0, until=T0 + dt.timedelta(minutes=1))
    assert len(await models.sync_log("acme", window)) == 2

    health = await models.health("acme", "int_everhour", T0 + dt.timedelta(hours=1))
    assert health.last_success_at == T0 + dt.timedelta(minutes=1)
    assert health.last_error_at == T0
    assert (health.errors_24h, health.backlog, health.open_conflicts) == (2, 2, 1)
