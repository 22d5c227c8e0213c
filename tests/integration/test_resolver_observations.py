"""``TimeEntryLogged`` observations stored a batch at a time (``adapters/observations.py``,
issue 12), on Postgres: the same rows and answers as one at a time, newest version wins within
a batch too, a redelivered batch and a repeated event change nothing, and the batch consumer
reports the same matches as the single handler."""

import datetime as dt

import asyncpg
import pytest

from timebridge_common.events import Envelope, TimeEntryLogged
from timebridge_common.testing import sample_time_entry_logged
from timebridge_conflict_resolver.adapters.postgres import PostgresObservations
from timebridge_conflict_resolver.domain.matching import observe
from timebridge_conflict_resolver.handlers.observations import (
    CONSUMER,
    on_time_entries_logged,
    on_time_entry_logged,
)

pytestmark = pytest.mark.integration

AT = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)


def _logged(source: str, external_id: str, minutes: int, seconds: int) -> TimeEntryLogged:
    base = sample_time_entry_logged()
    return base.model_copy(
        update={
            "source": source,
            "external_id": external_id,
            "updated_at": AT + dt.timedelta(minutes=minutes),
            "entry": base.entry.model_copy(update={"duration_seconds": seconds}),
        }
    )


def _items(*events: TimeEntryLogged) -> list[tuple[Envelope, TimeEntryLogged]]:
    return [(Envelope.for_event(e, producer="t"), e) for e in events]


async def test_a_batch_stores_what_one_at_a_time_stores(resolver_pool: asyncpg.Pool) -> None:
    one, batch = PostgresObservations(resolver_pool), PostgresObservations(resolver_pool)
    newer, older = _logged("core", "te_1", 5, 3600), _logged("core", "te_1", 1, 1800)
    other = _logged("everhour", "rec_1", 2, 3600)
    events = [newer, other, older]  # te_1's older version arrives last: the newer stays

    singles = []
    for envelope, event in _items(*events):
        singles.append(await on_time_entry_logged(one, envelope, event))
    stored = await one.for_person_day("acme", "ann@acme.test", newer.entry.date)
    await resolver_pool.execute("TRUNCATE observations, inbox")

    items = _items(*events)
    answers = await on_time_entries_logged(batch, items)
    assert await batch.for_person_day("acme", "ann@acme.test", newer.entry.date) == stored
    assert [o.duration_seconds for o in stored] == [3600, 3600]  # te_1 at its newest
    # everhour's rec_1 is the same work as core's te_1, in both
    assert singles[1] is not None
    assert answers[1] is not None
    assert {(o.source, o.external_id) for o in answers[1]} == {("core", "te_1")}
    assert answers[1] == singles[1]

    again = await on_time_entries_logged(batch, items + items[:1])  # redelivered, and a repeat
    assert again == [None, None, None, None]
    assert await batch.for_person_day("acme", "ann@acme.test", newer.entry.date) == stored


async def test_one_event_twice_in_a_batch_is_stored_once(resolver_pool: asyncpg.Pool) -> None:
    store = PostgresObservations(resolver_pool)
    [(envelope, event)] = _items(_logged("core", "te_9", 0, 600))
    answers = await store.record_many(CONSUMER, [(envelope, observe(event))] * 2)
    assert answers[1] is None
    assert answers[0] is not None
    assert [o.external_id for o in answers[0]] == ["te_9"]
    claims = await resolver_pool.fetchval(
        "SELECT count(*) FROM inbox WHERE event_id = $1", envelope.event_id
    )
    assert claims == 1
