"""The mapping service on real Kafka and PostgreSQL: the unmapped-user policies (skip, default
user, queue until mapped or found by a users refresh) and the sync frequency (hourly slots,
switching to realtime); see ``test_mapping``.
"""

import datetime as dt

from timebridge_common.events import (
    EntryMapped,
    EntrySynced,
)
from timebridge_common.testing import (
    wait_for,
)
from timebridge_mapping.domain.entries import EntryKey

from .conftest import unique
from .mapping_world import (
    T0,
    Workspace,
    World,
    by_entry,
    reconnect,
    workspace,
    world,
)

__all__ = ["world"]  # the module's fixture: one mapping service for both modules (leased)


async def test_skip_policy_skips_an_unmapped_user(world: World) -> None:
    ws = await workspace(world, unmapped_user_policy="skip")
    zed = ws.core_user("Zed", f"zed@{ws.id}.test")
    await world.publish(ws.entry("te_1", zed, ticket=ws.ticket("Anything")))
    [synced] = await ws.outputs(1)
    assert isinstance(synced, EntrySynced)
    assert (synced.status, synced.operation, synced.target) == ("skipped", "none", "everhour")
    assert synced.integration_id == ws.integration_id
    assert (synced.source, synced.source_external_id, synced.source_updated_at) == (
        "core",
        "te_1",
        T0,
    )
    assert f"no everhour user is mapped to Core user {zed.external_id}" in (synced.reason or "")


async def test_default_user_policy_maps_to_the_default_user(world: World) -> None:
    default = str(world.everhour.add_user("Team bucket", api_key=unique("ek")))
    ws = await workspace(
        world, unmapped_user_policy="default_user", default_tracker_user_id=default
    )
    zed = ws.core_user("Zed", f"zed@{ws.id}.test")
    rule_task = world.everhour.add_task(ws.everhour_project, "General")
    rule = await ws.call(
        "PUT", f"/project-rules/{ws.core_project}", json={"default_task_id": rule_task}
    )
    assert rule.status_code == 200, rule.text
    await world.publish(ws.entry("te_1", zed))
    [mapped] = await ws.outputs(1)
    assert isinstance(mapped, EntryMapped)
    assert (mapped.entry.user.external_id, mapped.user_mapped_by) == (default, "default_user")
    assert (mapped.entry.task_external_id, mapped.task_mapped_by) == (rule_task, "rule")
    rules = (await ws.call("GET", "/project-rules")).json()
    assert rules == [{"core_project_id": ws.core_project, "default_task_id": rule_task}]
    removed = [await ws.call("DELETE", f"/project-rules/{ws.core_project}") for _ in range(2)]
    assert [r.status_code for r in removed] == [204, 404]


async def test_queue_policy_holds_entries_until_the_user_is_mapped(world: World) -> None:
    ws = await workspace(world, unmapped_user_policy="queue")
    zed = ws.core_user("Zed", f"zed@{ws.id}.test")
    target = ws.everhour_user("Zed Everhour", f"z.everhour@{ws.id}.test")
    ticket = ws.ticket("Reports")
    task = world.everhour.add_task(ws.everhour_project, "Reports")
    await world.publish(ws.entry("te_1", zed, ticket=ticket))
    await world.publish(ws.entry("te_2", zed, ticket=ticket))
    await world.publish(ws.entry("te_2", zed, ticket=ticket, minute=1, deleted=True))
    queued = [o for o in by_entry(await ws.outputs(3)) if isinstance(o, EntrySynced)]
    assert [(o.source_external_id, o.status) for o in queued] == [
        ("te_1", "queued"),
        ("te_2", "queued"),
        ("te_2", "skipped"),
    ]
    assert "held until one is" in (queued[0].reason or "")
    assert "deleted" in (queued[2].reason or "")

    held = (await ws.call("GET", "/held-entries")).json()
    assert [(h["external_id"], h["entry"]["user"]["external_id"]) for h in held] == [
        ("te_1", zed.external_id)
    ]
    mapped_user = await ws.call(
        "PUT", f"/user-mappings/{zed.external_id}", json={"tracker_user_id": target}
    )
    assert mapped_user.status_code == 200, mapped_user.text
    [released] = [o for o in await ws.outputs(4) if isinstance(o, EntryMapped)]
    assert (released.source_external_id, released.entry.user.external_id) == ("te_1", target)
    assert (released.user_mapped_by, released.entry.task_external_id) == ("manual", task)
    assert (await ws.call("GET", "/held-entries")).json() == []


async def test_a_users_refresh_that_finds_the_email_releases_held_entries(world: World) -> None:
    ws = await workspace(world, unmapped_user_policy="queue")
    zed = ws.core_user("Zed", f"zed@{ws.id}.test")
    ticket = ws.ticket("Audit log")
    task = world.everhour.add_task(ws.everhour_project, "Audit log")
    await world.publish(ws.entry("te_1", zed, ticket=ticket))
    [queued] = await ws.outputs(1)
    assert isinstance(queued, EntrySynced)
    assert queued.status == "queued"

    # Zed joins Everhour with the same email; nobody maps him by hand.
    everhour_zed = ws.everhour_user("Zed Z.", f"ZED@{ws.id}.test")
    refreshed = await ws.call("POST", "/users/refresh")
    assert refreshed.status_code == 200, refreshed.text
    # The queued status and the release are on different topics: their order in the read is not
    # defined, so the release is picked by its type.
    [released] = [o for o in await ws.outputs(2) if isinstance(o, EntryMapped)]
    assert (released.source_external_id, released.source_updated_at) == ("te_1", T0)
    assert (released.entry.user.external_id, released.user_mapped_by) == (everhour_zed, "email")
    assert released.entry.task_external_id == task
    assert (await ws.call("GET", "/held-entries")).json() == []
    unmapped = (await ws.call("GET", "/user-mappings")).json()["unmapped_core_users"]
    assert zed.external_id not in [u["id"] for u in unmapped]


async def _due_at(world: World, ws: Workspace, entry_id: str) -> dt.datetime | None:
    """The sync slot an entry waits for in mapping's database (None: not waiting)."""
    due_at: dt.datetime | None = await world.pool.fetchval(
        "SELECT due_at FROM scheduled_entries WHERE integration_id = $1 AND workspace_id = $2"
        " AND source = 'core' AND external_id = $3",
        ws.integration_id,
        ws.id,
        entry_id,
    )
    return due_at


async def _scheduler_rounds(world: World, rounds: int) -> None:
    """Wait until the release loop has looked ``rounds`` more times."""
    scheduled = world.mapping.scheduled
    target = scheduled.rounds + rounds

    async def looked() -> bool:
        return scheduled.rounds >= target

    await wait_for(looked)


async def test_an_hourly_integration_syncs_the_latest_core_version_once_per_slot(
    world: World,
) -> None:
    ws = await workspace(world, frequency="hourly")
    ann, everhour_ann = ws.person("Ann")
    ticket = ws.ticket("Billing export")
    task = world.everhour.add_task(ws.everhour_project, "Billing export")
    arrived = world.clock()
    await world.publish(ws.entry("te_1", ann, ticket=ticket))
    edited = ws.entry("te_1", ann, ticket=ticket, minute=3)
    await world.publish(edited.model_copy(update={"entry": edited.entry.model_copy(
        update={"duration_seconds": 6300})}))  # fmt: skip
    key = EntryKey(ws.id, "core", "te_1")

    async def newest_stored() -> bool:
        stored = await world.mapping.store.get(key)
        return stored is not None and stored.updated_at == T0 + dt.timedelta(minutes=3)

    await wait_for(newest_stored)
    due_at = await _due_at(world, ws, "te_1")
    assert due_at is not None
    assert (due_at.minute, due_at.second, due_at.microsecond) == (0, 0, 0)
    assert arrived < due_at <= world.clock() + dt.timedelta(hours=1)
    await _scheduler_rounds(world, 2)
    assert await world.outbox_count(ws.id, "te_1") == 0  # nothing at once, nothing before

    world.clock.offset += due_at - world.clock() + dt.timedelta(seconds=1)
    [mapped] = await ws.outputs(1)
    assert isinstance(mapped, EntryMapped)
    assert mapped.source_updated_at == T0 + dt.timedelta(minutes=3)
    assert (mapped.entry.duration_seconds, mapped.operation) == (6300, "upsert")
    assert (mapped.entry.user.external_id, mapped.entry.task_external_id) == (everhour_ann, task)
    await wait_for(lambda: _released(world, ws, "te_1"))
    await _scheduler_rounds(world, 2)
    assert await world.outbox_count(ws.id, "te_1") == 1


async def _released(world: World, ws: Workspace, entry_id: str) -> bool:
    return await _due_at(world, ws, entry_id) is None


async def test_switching_to_realtime_releases_what_waits_for_a_slot(world: World) -> None:
    ws = await workspace(world, frequency="daily")
    ann, everhour_ann = ws.person("Ann")
    ticket = ws.ticket("Docs")
    world.everhour.add_task(ws.everhour_project, "Docs")
    await world.publish(ws.entry("te_1", ann, ticket=ticket))
    await wait_for(lambda: _due_at(world, ws, "te_1"))
    assert await world.outbox_count(ws.id, "te_1") == 0

    await reconnect(ws, frequency="realtime")
    [mapped] = await ws.outputs(1)
    assert isinstance(mapped, EntryMapped)
    assert (mapped.source_external_id, mapped.entry.user.external_id) == ("te_1", everhour_ann)
    assert await _due_at(world, ws, "te_1") is None
    # Real time from now on: the next change is mapped at once, and only once.
    await world.publish(ws.entry("te_1", ann, ticket=ticket, minute=1))
    _, again = await ws.outputs(2)
    assert isinstance(again, EntryMapped)
    assert again.source_updated_at == T0 + dt.timedelta(minutes=1)
    assert await _due_at(world, ws, "te_1") is None
