"""The Everhour guide end to end: every service, real Kafka and Postgres, both sandboxes.

Ingest, mapping, conflict-resolver and reporting run in this process on their own databases and
consumer groups; Core and Everhour are the sandboxes, reached (and posting their webhooks to
ingest) over httpx's ASGI transport. The admin sets everything up through the HTTP APIs, as the
guide's screens would: register the workspace, test and connect Everhour, map the project; then
people log, edit and delete time on both sides.

Everhour stamps a record's history to the second, so a person editing a record in the very
second Timebridge wrote it cannot be told from an echo of that write: before such an edit the
tests wait until the clock is past that second (:func:`after_last_change`), as a person would be.
"""

import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from timebridge_common.testing import wait_for

from .everhour_guide import (
    ANN_KEY,
    DAY,
    Platform,
    after_last_change,
    connect,
    copies_of,
    guide_platform,
    holds,
    in_core,
    in_everhour,
    log_in_core,
    records_of,
    status_says,
    sync_status,
    synced_core,
    synced_everhour,
)


@pytest.fixture(scope="module")
async def platform(
    topics: list[str],
    create_database: Callable[[str], Awaitable[str]],
    make_pool: Callable[[str], Awaitable[asyncpg.Pool]],
) -> AsyncIterator[Platform]:
    async with guide_platform(topics, create_database, make_pool) as running:
        yield running


@pytest.fixture(scope="module")
async def integration(platform: Platform) -> str:
    """The Everhour integration, connected once for the module's scenarios."""
    return await connect(platform)


async def test_the_guide_end_to_end(platform: Platform, integration: str) -> None:
    # Time logged in Core on a ticket whose task exists in Everhour (matched by title).
    first = await log_in_core(
        platform,
        ticket_id=platform.ticket_titled,
        date=DAY.isoformat(),
        started_at="2026-11-20T08:00:00Z",
        duration_seconds=5400,
        notes="Login bug",
        billable=True,
    )

    async def synced(entry: str) -> list[dict[str, Any]]:
        statuses = await sync_status(platform, "core", entry)
        return [s for s in statuses if s["status"] == "synced"]

    [status] = await wait_for(lambda: synced(first), timeout_s=30)
    records = [r for r in platform.everhour.records.values() if r.task == platform.task_titled]
    assert len(records) == 1
    record = records[0]
    assert (record.user, record.date, record.time) == (platform.ann_everhour, DAY, 5400)
    assert "Login bug" in (record.comment or "")
    assert status["target_external_id"]

    # A ticket without a task: the task is created, titled after the ticket, and linked.
    second = await log_in_core(
        platform,
        ticket_id=platform.ticket_new,
        date=DAY.isoformat(),
        duration_seconds=1800,
        notes="CSV export",
    )
    await wait_for(lambda: synced(second), timeout_s=30)
    created = [t for t in platform.everhour.tasks.values() if t.name == "Export invoices"]
    assert len(created) == 1

    # Echoes of our own Everhour writes came back through Everhour's webhook and created nothing.
    assert (
        len([e for e in platform.core.entries.values() if e.workspace_id == platform.workspace])
        == 2
    )

    # Time logged in Everhour appears once in Core, on the linked ticket.
    async with platform.sandbox(platform.everhour_app) as everhour:
        added = await everhour.post(
            f"/tasks/{platform.task_titled}/time",
            json={
                "time": 2700,
                "date": (DAY + dt.timedelta(days=1)).isoformat(),
                "comment": "Review",
            },
            headers={"X-Api-Key": ANN_KEY},
        )
        assert added.status_code in (200, 201), added.text
    record_id = str(added.json()["id"])

    async def in_core() -> list[Any]:
        return [
            e
            for e in platform.core.entries.values()
            if e.external_ref is not None and e.external_ref.get("id") == record_id
        ]

    [entry] = await wait_for(in_core, timeout_s=30)
    assert (entry.user_id, entry.ticket_id, entry.duration_seconds) == (
        platform.ann_core,
        platform.ticket_titled,
        2700,
    )
    await wait_for(lambda: synced_everhour(platform, record_id), timeout_s=30)

    # Edits on both sides converge.
    async with platform.sandbox(platform.core_app) as core:
        edit = await core.patch(f"/_sandbox/time-entries/{first}", json={"duration_seconds": 6000})
        assert edit.status_code == 200, edit.text
    await platform.webhooks.drain()

    async def everhour_has(seconds: int) -> bool:
        return record.time == seconds

    await wait_for(lambda: everhour_has(6000), timeout_s=30)
    assert (
        len([e for e in platform.core.entries.values() if e.workspace_id == platform.workspace])
        == 3
    )
    assert len(platform.everhour.records) == 3


async def test_edits_on_both_sides_converge_without_an_echo_loop(
    platform: Platform, integration: str
) -> None:
    day = DAY + dt.timedelta(days=5)
    task = platform.task_titled
    # One entry that starts in Core, one record that starts in Everhour.
    planned = await log_in_core(
        platform,
        ticket_id=platform.ticket_titled,
        date=day.isoformat(),
        started_at=f"{day.isoformat()}T09:00:00Z",
        duration_seconds=3600,
        notes="Sprint planning",
    )
    await wait_for(lambda: synced_core(platform, planned), timeout_s=60)
    [copy_in_everhour] = records_of(platform, task, day)
    retro_day = day + dt.timedelta(days=1)
    added = await in_everhour(platform, "POST", task, time=1800, date=retro_day.isoformat())
    retro = str(added["id"])
    [copy_in_core] = await wait_for(holds(lambda: copies_of(platform, retro)), timeout_s=60)
    await wait_for(lambda: synced_everhour(platform, retro), timeout_s=60)

    # Ann edits each copy on its own side: the Everhour copy of her Core entry, and the Core
    # copy of her Everhour record (later than Timebridge wrote them). Everhour stamps changes to
    # the second, and a record's version is its newest stamp: the edit carried back to her
    # record must land in a later second than her own creation of it, or its sighting is the
    # same version (the same event id) and is rightly dropped as a duplicate.
    await after_last_change(copy_in_everhour)
    await after_last_change(platform.everhour.records[int(retro)])
    await in_everhour(
        platform, "PUT", task, time=5400, date=day.isoformat(), comment="Sprint planning"
    )
    await in_core(platform, "PATCH", copy_in_core.id, duration_seconds=2400, notes="Retro")

    core_entry = platform.core.entries[planned]
    retro_record = platform.everhour.records[int(retro)]
    await wait_for(holds(lambda: core_entry.duration_seconds == 5400), timeout_s=60)
    await wait_for(holds(lambda: retro_record.time == 2400), timeout_s=60)
    # Each origin's own sighting of the carried write comes back and finds both sides equal.
    await wait_for(
        lambda: status_says(platform, "core", planned, "already holds this version"),
        timeout_s=60,
    )
    await wait_for(
        lambda: status_says(platform, "everhour", retro, "already holds this version"),
        timeout_s=60,
    )
    assert await status_says(
        platform, "everhour", str(copy_in_everhour.id), f"applied (duration) to core {planned}"
    )
    assert await status_says(
        platform, "core", copy_in_core.id, f"applied (duration, notes) to everhour {retro}"
    )

    # Both systems equal, one record on each side, and each written by Timebridge only once.
    assert (core_entry.duration_seconds, copy_in_everhour.time) == (5400, 5400)
    assert (core_entry.started_at, core_entry.notes) == (
        dt.datetime.combine(day, dt.time(9), dt.UTC),
        "Sprint planning",
    )
    assert (copy_in_core.duration_seconds, copy_in_core.notes) == (2400, "Retro")
    assert (retro_record.time, retro_record.comment) == (2400, "Retro")
    assert [h["action"] for h in copy_in_everhour.history] == ["ADD", "EDIT"]  # ours, Ann's
    assert [h["action"] for h in retro_record.history] == ["ADD", "EDIT"]  # Ann's, ours
    assert (core_entry.version, copy_in_core.version) == (2, 2)
    assert records_of(platform, task, day) == [copy_in_everhour]
    assert records_of(platform, task, retro_day) == [retro_record]
    assert copies_of(platform, retro) == [copy_in_core]


async def test_deletes_on_both_sides_propagate(platform: Platform, integration: str) -> None:
    day = DAY + dt.timedelta(days=10)
    task = platform.task_titled
    entries = [
        await log_in_core(
            platform,
            ticket_id=platform.ticket_titled,
            date=day.isoformat(),
            duration_seconds=seconds,
            notes=notes,
        )
        for seconds, notes in ((3600, "Design"), (1800, "Review"))
    ]
    for entry in entries:

        async def synced(entry: str = entry) -> bool:
            return await synced_core(platform, entry)

        await wait_for(synced, timeout_s=60)
    [record] = records_of(platform, task, day)
    await wait_for(holds(lambda: record.time == 5400), timeout_s=60)

    # A Core delete lowers the Everhour sum; deleting the last entry removes the record.
    await in_core(platform, "DELETE", entries[1])
    await wait_for(holds(lambda: record.time == 3600), timeout_s=60)
    assert record.comment == "Design"
    await in_core(platform, "DELETE", entries[0])
    await wait_for(holds(lambda: not records_of(platform, task, day)), timeout_s=60)

    # An Everhour delete removes the Core entry it became.
    other_day = day + dt.timedelta(days=1)
    added = await in_everhour(
        platform, "POST", task, time=2700, date=other_day.isoformat(), comment="Sync"
    )
    record_id = str(added["id"])
    [copy] = await wait_for(holds(lambda: copies_of(platform, record_id)), timeout_s=60)
    await wait_for(lambda: synced_everhour(platform, record_id), timeout_s=60)
    await in_everhour(platform, "DELETE", task, date=other_day.isoformat())
    await wait_for(holds(lambda: copy.deleted_at is not None), timeout_s=60)
    assert copies_of(platform, record_id) == []
    assert not records_of(platform, task, other_day)


async def test_billable_follows_the_everhour_task_and_is_reported_towards_it(
    platform: Platform, integration: str
) -> None:
    day = DAY + dt.timedelta(days=15)
    # Everhour -> Core: the task is unbillable, so the Core entry is not billable.
    added = await in_everhour(
        platform, "POST", platform.task_unbillable, time=900, date=day.isoformat()
    )
    [entry] = await wait_for(holds(lambda: copies_of(platform, str(added["id"]))), timeout_s=60)
    assert (entry.billable, entry.project_id, entry.ticket_id) == (False, platform.project, None)

    # Core -> Everhour: a non-billable entry on a billable task is written, and the difference
    # is in its status (Everhour cannot mark one record unbillable).
    unbilled = await log_in_core(
        platform,
        ticket_id=platform.ticket_titled,
        date=day.isoformat(),
        duration_seconds=600,
        billable=False,
    )
    await wait_for(
        lambda: status_says(
            platform,
            "core",
            unbilled,
            "billable differs: core says not billable, the Everhour task is billable",
        ),
        timeout_s=60,
    )
    [record] = records_of(platform, platform.task_titled, day)
    assert record.time == 600
