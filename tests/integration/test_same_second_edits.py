"""Two edits Everhour stamps in the same second are two versions, end to end.

Everhour stamps a record's history to the second, and that stamp is the record's version. The
event id of an observation used to be the stamp alone, so a second edit within that second had
the first one's id and every inbox dropped it as a duplicate: Core kept the first edit. The
Everhour sandbox's clock is frozen here, so every change of the test lands in one second
without waiting for it. Real Kafka and Postgres, every service in this process (the Everhour
guide's platform, ``everhour_guide``).
"""

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import asyncpg
import pytest

from timebridge_common.testing import wait_for

from .everhour_guide import (
    DAY,
    Platform,
    connect,
    copies_of,
    guide_platform,
    holds,
    in_everhour,
)


@pytest.fixture(scope="module")
async def platform(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> AsyncIterator[Platform]:
    async with guide_platform(topics, create_database, make_pool, "e2e-same-second") as running:
        yield running


@pytest.fixture
def frozen_everhour(platform: Platform) -> Iterator[dt.datetime]:
    """Everhour's clock stopped at the current second for the test."""
    state = platform.everhour
    running = state.now
    second = dt.datetime.now(dt.UTC).replace(microsecond=0)
    state.now = lambda: second
    yield second
    state.now = running


async def test_edits_in_one_everhour_second_all_reach_core(
    platform: Platform, frozen_everhour: dt.datetime
) -> None:
    await connect(platform)
    day, task = DAY + dt.timedelta(days=9), platform.task_titled
    added = await in_everhour(
        platform, "POST", task, time=1800, date=day.isoformat(), comment="Design"
    )
    record_id = str(added["id"])
    [copy] = await wait_for(holds(lambda: copies_of(platform, record_id)), timeout_s=60)
    assert (copy.duration_seconds, copy.notes) == (1800, "Design")

    # Ann corrects her record in the same second: a second version with the same stamp.
    await in_everhour(
        platform, "PUT", task, time=2700, date=day.isoformat(), comment="Design and review"
    )
    await wait_for(
        holds(lambda: (copy.duration_seconds, copy.notes) == (2700, "Design and review")),
        timeout_s=60,
    )
    assert copies_of(platform, record_id) == [copy]
    record = platform.everhour.records[int(record_id)]
    assert {h["createdAt"] for h in record.history} == {
        frozen_everhour.strftime("%Y-%m-%d %H:%M:%S")
    }
