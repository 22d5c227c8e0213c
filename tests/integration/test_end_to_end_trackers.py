"""The sync scenarios end to end, once per tracker: every service, real Kafka and Postgres.

Ingest, mapping, conflict-resolver and reporting run in this process on their own databases and
consumer groups, and open every provider through sessions routed to the in-process sandboxes
(Core, Everhour, Harvest); nothing in them names a tracker. Each tracker gets its own workspace,
set up through the HTTP APIs as an admin would (Test Connection and Connect with the tracker's
connection fields, Project Mapping); then Ann logs, edits and deletes time on both sides through
the systems' own APIs (:mod:`.trackers`). Everhour pushes webhooks; Harvest is polled.
Everhour-only behaviours (its per-task/user/day sum, billable per task) stay in
``test_end_to_end.py``.
"""

import datetime as dt
from typing import Any

import httpx
import pytest

from timebridge_common.testing import wait_for

from .trackers_world import (
    DAY,
    TIMEOUT_S,
    WRITABLE,
    Platform,
    Workspace,
    copies_of,
    core_entries,
    held_on,
    in_core,
    log_in_core,
    platform,
    sync_status,
    until,
    written,
    ws,
)

FIXTURES = (platform, ws)  # the module's fixtures, defined with the platform


@pytest.mark.parametrize("ws", WRITABLE, indirect=True)
async def test_core_to_tracker_create_edit_delete(platform: Platform, ws: Workspace) -> None:
    """Ann logs a date and a duration only (no start), on a trip (in a zone her tracker user is
    not in): a tracker keeping a start sets its own, and one that gives entries its user's or
    the account's zone keeps that; both still count as synced (issue 8)."""
    day = DAY
    elsewhere = "Asia/Tokyo" if ws.tracker.zone != "Asia/Tokyo" else "Atlantic/Reykjavik"
    entry = await log_in_core(
        platform,
        ws,
        ticket_id=ws.ticket,
        date=day.isoformat(),
        timezone=elsewhere,
        duration_seconds=5400,
        notes="Login bug",
        billable=True,
    )
    [held] = await written(ws, lambda: held_on(ws, day), platform, entry)
    assert (held.user, held.task, held.seconds) == (ws.tracker.ann, ws.tracker.task, 5400)
    assert "Login bug" in held.notes or not ws.tracker.keeps_notes
    await ws.tracker.observed()  # our own write comes back as an echo
    await platform.webhooks.drain()
    assert copies_of(platform, ws, held.id) == []  # not as someone's entry copied to Core

    await in_core(platform, "PATCH", entry, duration_seconds=7200)
    await written(ws, lambda: [h.seconds for h in held_on(ws, day)] == [7200], platform, entry)
    await ws.tracker.observed()

    await in_core(platform, "DELETE", entry)
    await written(ws, lambda: held_on(ws, day) == [])
    await ws.tracker.observed()
    # Our own writes came back as echoes and created nothing in Core.
    await platform.webhooks.drain()
    assert [e.id for e in core_entries(platform, ws, day)] == []


async def test_tracker_to_core_create_edit_delete(platform: Platform, ws: Workspace) -> None:
    day = DAY + dt.timedelta(days=1)
    record = await ws.tracker.log(day, 2700, "Review")
    [copy] = await until(ws, lambda: copies_of(platform, ws, record))
    assert (copy.user_id, copy.ticket_id, copy.duration_seconds) == (
        ws.ann_core,
        ws.ticket,
        2700,
    )

    await ws.tracker.settle(record)
    await ws.tracker.edit(record, 3600, "Review and fixes")
    await until(
        ws,
        lambda: (
            copy.duration_seconds == 3600
            and (copy.notes == "Review and fixes" or not ws.tracker.keeps_notes)
        ),
    )

    await ws.tracker.settle(record)
    await ws.tracker.delete(record)
    await until(ws, lambda: copy.deleted_at is not None)
    assert copies_of(platform, ws, record) == []
    assert held_on(ws, day) == []


@pytest.mark.parametrize("ws", WRITABLE, indirect=True)
async def test_edits_on_both_sides_converge_without_an_echo(
    platform: Platform,
    ws: Workspace,
) -> None:
    planned_day, retro_day = DAY + dt.timedelta(days=3), DAY + dt.timedelta(days=4)
    planned = await log_in_core(
        platform,
        ws,
        ticket_id=ws.ticket,
        date=planned_day.isoformat(),
        started_at=f"{planned_day.isoformat()}T08:00:00Z",
        duration_seconds=3600,
        notes="Sprint planning",
    )
    [copy_in_tracker] = await written(ws, lambda: held_on(ws, planned_day), platform, planned)
    retro = await ws.tracker.log(retro_day, 1800, "Retro")
    [copy_in_core] = await until(ws, lambda: copies_of(platform, ws, retro))

    # Ann edits each copy on its own side.
    await ws.tracker.settle(copy_in_tracker.id)
    await ws.tracker.settle(retro)
    await ws.tracker.edit(copy_in_tracker.id, 5400, "Sprint planning")
    await in_core(platform, "PATCH", copy_in_core.id, duration_seconds=2400, notes="Retro!")

    core_entry = platform.core.entries[planned]
    await until(ws, lambda: core_entry.duration_seconds == 5400)
    await until(ws, lambda: [h.seconds for h in held_on(ws, retro_day)] == [2400])
    # A few more rounds of observing: nothing moves any more (no echo loop).
    for _ in range(3):
        await ws.tracker.observed()
    await platform.webhooks.drain()
    assert (core_entry.duration_seconds, core_entry.version) == (5400, 2)
    assert (copy_in_core.duration_seconds, copy_in_core.notes, copy_in_core.version) == (
        2400,
        "Retro!",
        2,
    )
    assert [(h.seconds, h.notes) for h in held_on(ws, planned_day)] == [(5400, "Sprint planning")]
    assert [(h.seconds, h.notes) for h in held_on(ws, retro_day)] == [(2400, "Retro!")]
    assert len(core_entries(platform, ws, planned_day)) == 1
    assert len(core_entries(platform, ws, retro_day)) == 1


@pytest.mark.parametrize("ws", WRITABLE, indirect=True)
async def test_an_unmapped_user_is_queued_not_written(platform: Platform, ws: Workspace) -> None:
    """Bob is in Core only: with the "queue" policy his time waits for a mapping."""
    day = DAY + dt.timedelta(days=6)
    bob = platform.core.add_user(ws.id, "Bob", email="bob@acme.test", role="member")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=platform.core_app), base_url="http://sandbox"
    ) as core:
        created = await core.post(
            f"/_sandbox/workspaces/{ws.id}/time-entries",
            json={
                "user_id": bob,
                "project_id": ws.project,
                "ticket_id": ws.ticket,
                "date": day.isoformat(),
                "duration_seconds": 600,
            },
        )
        assert created.status_code == 201, created.text
    await platform.webhooks.drain()
    entry = created.json()["id"]

    async def queued() -> list[dict[str, Any]]:
        statuses = await sync_status(platform, ws, "core", entry)
        return [s for s in statuses if s["status"] != "synced"]

    [status] = await wait_for(queued, timeout_s=TIMEOUT_S)
    assert status["status"] == "queued"
    assert (
        f"user is mapped to Core user {bob} <bob@acme.test>; held until one is"
        in (status["reason"])
    )
    assert held_on(ws, day) == []


@pytest.mark.parametrize("ws", WRITABLE, indirect=True)
async def test_a_locked_tracker_record_is_a_conflict_left_for_review(
    platform: Platform,
    ws: Workspace,
) -> None:
    """Ann's record is locked in the tracker (approved, invoiced): her later Core edit is not
    forced over it; the entry's status says it waits for review."""
    day = DAY + dt.timedelta(days=7)
    entry = await log_in_core(
        platform,
        ws,
        ticket_id=ws.ticket,
        date=day.isoformat(),
        started_at=f"{day.isoformat()}T08:00:00Z",
        duration_seconds=3600,
    )
    [held] = await written(ws, lambda: held_on(ws, day), platform, entry)
    await ws.tracker.lock(held.id)

    await in_core(platform, "PATCH", entry, duration_seconds=600)

    async def in_conflict() -> list[dict[str, Any]]:
        statuses = await sync_status(platform, ws, "core", entry)
        return [s for s in statuses if s["status"] == "conflict"]

    [status] = await wait_for(in_conflict, timeout_s=TIMEOUT_S)
    assert f"{ws.tracker.name} refused the update: the record is locked" in status["reason"]
    assert [h.seconds for h in held_on(ws, day)] == [3600]
