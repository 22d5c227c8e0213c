"""A sync slot holding thousands of Core entries, on the real Kafka broker and PostgreSQL.

The slot tests of ``test_mapping`` hold one entry each, which is how a release round that
ended after its first entry (structlog's ``event`` argument passed twice) went unnoticed: here a
5-minute integration collects 2,000 entries, mapping's clock is moved past the slot (never
waited for), and every one of them must be released at that slot, once.
"""

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from timebridge_common.events import EntryMapped, EntrySynced, Envelope
from timebridge_common.events.codec import encode
from timebridge_common.kafka.dlt import decode_headers
from timebridge_common.testing import read_topic, wait_for

from .conftest import KAFKA
from .mapping_world import Output, Workspace, World, running_world, workspace

ENTRIES = 2_000
MAPPING = "/timebridge/mapping"
"""``ce_source`` of what the mapping service publishes."""
RELEASE_BUDGET_S = 120.0
"""Far above the release time (~5 s on an idle 2-core machine, ~20 s with other suites running;
the test prints it); far below what the one-entry-per-round defect needed (2,000 rounds of
``schedule_tick_s``: ~7 minutes here, hours at the default tick)."""


@pytest.fixture(scope="module")
def create_database(
    create_database: Callable[[str], Awaitable[str]],
) -> Callable[[str], Awaitable[str]]:
    """``test_mapping``'s world under another database name (both modules run in one session)."""

    def create(name: str) -> Awaitable[str]:
        return create_database(f"{name}-slots")

    return create


@pytest.fixture(scope="module")
async def world(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> AsyncIterator[World]:
    """The module's own instance of ``test_mapping``'s mapping service."""
    async with running_world(topics, create_database, make_pool) as running:
        yield running


async def _mapping_outputs(ws: Workspace) -> list[Output]:
    """What mapping published for ``ws`` (``Workspace.outputs`` would also count an
    ``EntrySynced`` of a conflict-resolver another run on this broker may have).

    Each record is looked at once: re-decoding every record read so far at each poll took
    ~120 s of the budget on a broker busy with other runs' records."""
    found: list[Output] = []
    seen = 0

    def ours(records: list[Any]) -> list[Output]:
        nonlocal seen
        for r in records[seen:]:
            headers = decode_headers(r.headers)
            if (headers.get("ce_workspaceid"), headers.get("ce_source")) != (ws.id, MAPPING):
                continue
            model = EntryMapped if r.topic == EntryMapped.topic() else EntrySynced
            found.append(model.model_validate_json(r.value))
        seen = len(records)
        return found

    await read_topic(
        KAFKA, ws.start, until=lambda rs: len(ours(rs)) >= ENTRIES, timeout_s=RELEASE_BUDGET_S
    )
    return found


async def _count(world: World, query: str, *args: object) -> int:
    found: int = await world.pool.fetchval(query, *args)
    return found


async def test_a_5_minute_slot_releases_2000_entries_at_the_slot(world: World) -> None:
    # Mapping's clock just past a 5-minute boundary: the next slot is ~5 minutes away, so it
    # cannot pass on its own while the entries arrive (on the wall clock it did, when the test
    # started just before a boundary, and released them before they were all counted waiting).
    now = world.clock()
    boundary = now.replace(second=0, microsecond=0) - dt.timedelta(minutes=now.minute % 5)
    world.clock.offset += boundary + dt.timedelta(minutes=5, seconds=1) - now
    ws = await workspace(world, frequency="every_5_minutes")
    ann, everhour_ann = ws.person("Ann")
    ticket = ws.ticket("Quarterly report")
    task = world.everhour.add_task(ws.everhour_project, "Quarterly report")
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        sent = []
        for n in range(ENTRIES):
            event = ws.entry(f"te_{n}", ann, ticket=ticket)
            encoded = encode(event, Envelope.for_event(event, producer="test"))
            sent.append(
                await producer.send(
                    encoded.topic,
                    encoded.value,
                    key=encoded.key,
                    headers=[(k, v.encode()) for k, v in encoded.headers.items()],
                )
            )
        await asyncio.gather(*sent)
    finally:
        await producer.stop()

    waiting = "SELECT count(*) FROM scheduled_entries WHERE integration_id = $1"

    async def all_waiting() -> bool:
        return await _count(world, waiting, ws.integration_id) == ENTRIES

    await wait_for(all_waiting, timeout_s=120)
    due_at: dt.datetime = await world.pool.fetchval(
        "SELECT max(due_at) FROM scheduled_entries WHERE integration_id = $1", ws.integration_id
    )
    assert (due_at.minute % 5, due_at.second, due_at.microsecond) == (0, 0, 0)
    staged = "SELECT count(*) FROM outbox WHERE convert_from(key, 'UTF8') LIKE $1"
    assert await _count(world, staged, f"{ws.id}:core:%") == 0  # nothing before the slot

    started = time.monotonic()
    world.clock.offset += due_at - world.clock() + dt.timedelta(seconds=1)

    async def all_released() -> bool:
        return await _count(world, waiting, ws.integration_id) == 0

    await wait_for(all_released, timeout_s=RELEASE_BUDGET_S)
    released_s = time.monotonic() - started
    outputs = await _mapping_outputs(ws)
    published_s = time.monotonic() - started
    print(
        f"\n{ENTRIES} entries of one slot: all released (staged) in {released_s:.1f}s"
        f" ({ENTRIES / released_s:.0f}/s), all published as EntryMapped in {published_s:.1f}s"
    )
    mapped = [o for o in outputs if isinstance(o, EntryMapped)]
    assert len(mapped) == len(outputs)  # nothing skipped or queued
    assert sorted(o.source_external_id for o in mapped) == sorted(f"te_{n}" for n in range(ENTRIES))
    assert {(o.entry.user.external_id, o.entry.task_external_id) for o in mapped} == {
        (everhour_ann, task)
    }
    assert await _count(world, staged, f"{ws.id}:core:%") == ENTRIES  # each once
