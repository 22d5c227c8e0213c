"""Shared look-ups and read-backs by users' days (issue 12), for Toggl, Clockify, Harvest,
Wrike, ClickUp, Tempo, QuickBooks Time, Zoho Projects and Xero Projects against their sandboxes: a
batch's N writes cost one listing to look up and one to read back, not N reads each; every page of
a listing is read; a record the listing does not show (moved to another date since it was
written) is read by id, not taken as gone; a create whose answer was lost is found by the shared
look-up and not sent again."""

import asyncio
import datetime as dt

import pytest
from timebridge_providers.kit.ports.entries import Observed, Slot, Write
from timebridge_providers.kit.writes import ReadGroup

from libs.providers.tests.shared_days_worlds import DAY, WORLDS, WRITERS, World
from timebridge_common.errors import TransientError
from timebridge_common.outbound.http import OutcomeUnknownError


async def _write_one(
    group: ReadGroup, world: World, n: int, *, never_written: bool = False
) -> tuple[Observed | None, str | None, Observed | None]:
    async with group.member():
        store = world.store()
        slot = Slot(world.name, f"core:te_{n}", never_written=never_written)
        before = await store.read(slot)
        made = await store.write(slot, Write("create", world.fields(n), None, f"k{n}"))
        back = await store.read(Slot(world.name, slot.key, made))
        return before, made, back


async def _batch(world: World, group: ReadGroup) -> list[str]:
    results = await asyncio.gather(*(_write_one(group, world, n) for n in range(WRITERS)))
    made = []
    for n, (before, target, back) in enumerate(results):
        assert before is None
        assert target is not None
        assert back is not None  # each write confirmed by a listing sent after it
        assert back.target_id == target
        assert back.fields.duration_seconds == world.fields(n).duration_seconds
        made.append(target)
    return made


@pytest.mark.parametrize("name", sorted(WORLDS))
async def test_a_batchs_writes_cost_one_look_up_listing_and_one_read_back_listing(
    name: str,
) -> None:
    world = WORLDS[name](200)
    group = ReadGroup()

    await _batch(world, group)

    assert world.requests["write"] == WRITERS
    assert world.requests["by id"] == 0  # no read of its own: every read-back was listed
    if name == "harvest":  # one filter per reference (no date to list by), one read-back list
        assert (group.listings, world.requests["list"]) == (1, 1)
        assert world.requests["lookup"] == WRITERS
    else:  # the look-ups of lost creates and the read-backs: one listing each
        assert (group.listings, world.requests["list"]) == (2, 2)
    assert world.requests["other"] <= 2  # the token's user, the account: once per credential


@pytest.mark.parametrize(
    "name", ["clockify", "harvest", "tempo", "quickbooks_time", "xero_projects"]
)
async def test_a_listing_reads_every_page(name: str) -> None:
    world = WORLDS[name](3)  # 10 entries: 4 pages of 3
    group = ReadGroup()

    await _batch(world, group)

    assert world.requests["by id"] == 0  # the entries on later pages were found there
    read_back_pages = 4
    look_up_pages = 0 if name == "harvest" else 1  # nothing there yet: one empty page
    assert world.requests["list"] == look_up_pages + read_back_pages


@pytest.mark.parametrize("name", sorted(WORLDS))
async def test_a_record_missing_from_its_days_listing_is_read_by_id_not_taken_as_gone(
    name: str,
) -> None:
    world = WORLDS[name](200)
    made = await _batch(world, ReadGroup())
    world.move(made[0], 40)  # edited in the tracker: another date (and month) than written on
    world.requests.clear()

    group = ReadGroup()
    async with group.member():
        found = await world.store().read(Slot(world.name, "core:te_0", made[0]))

    assert found is not None
    assert found.fields.date == DAY + dt.timedelta(days=40)
    assert (world.requests["list"], world.requests["by id"]) == (1, 1)


@pytest.mark.parametrize(
    "name",
    ["clockify", "toggl", "wrike", "clickup", "tempo", "quickbooks_time", "zoho", "xero_projects"],
)
async def test_a_lost_create_is_found_by_the_shared_look_up_and_not_sent_again(name: str) -> None:
    world = WORLDS[name](200)
    world.transport.lose = 1
    slot = Slot(world.name, "core:te_0")
    write = Write("create", world.fields(0), None, "k0")

    async with ReadGroup().member():
        with pytest.raises(TransientError):  # applied, its answer lost (Xero's keyed: transient)
            await world.store().write(slot, write)
    group = ReadGroup()
    async with group.member():  # the retry: another change's store, reads shared
        made = await world.store().write(slot, write)

    assert made is not None
    assert world.requests["write"] == 1  # found by the look-up, not sent again
    assert group.listings == 1


async def test_harvest_looks_nothing_up_by_reference_for_a_slot_never_written() -> None:
    """Issue 12: the look-up by reference (a request per new entry) is only for a create whose
    answer may have been lost; a slot the resolver never planned a write to cannot have one."""
    world = WORLDS["harvest"](200)
    group = ReadGroup()

    results = await asyncio.gather(
        *(_write_one(group, world, n, never_written=True) for n in range(WRITERS))
    )

    assert all(back is not None and back.target_id == made for _, made, back in results)
    assert world.requests["lookup"] == 0
    assert world.requests["write"] == WRITERS
    assert (group.listings, world.requests["list"]) == (1, 1)  # the read-backs


async def test_harvest_still_finds_a_lost_create_by_reference_before_sending_it_again() -> None:
    world = WORLDS["harvest"](200)
    world.transport.lose = 1
    slot = Slot(world.name, "core:te_0")  # written before: a create of it may be lost
    write = Write("create", world.fields(0), None, "k0")
    with pytest.raises(OutcomeUnknownError):
        await world.store().write(slot, write)

    store = world.store()
    found = await store.read(slot)
    made = await store.write(slot, write)

    assert found is not None
    assert made == found.target_id
    assert world.requests["write"] == 1  # found by its reference, not sent again


async def test_quickbooks_time_knows_a_jobcode_billable_from_another_clients_listing() -> None:
    """A timesheet has no billable flag: its jobcode's is in an answer's supplemental data. A
    read picked from a listing another reader's client sent still knows it (per credential)."""
    world = WORLDS["quickbooks_time"](200)
    made = await _batch(world, ReadGroup())
    group = ReadGroup()

    async def read(target: str) -> Observed | None:
        async with group.member():  # each its own store and client, as each change has
            return await world.store().read(Slot(world.name, "core:any", target))

    backs = await asyncio.gather(*(read(target) for target in made[:3]))

    assert group.listings == 1
    assert all(back is not None and back.fields.billable for back in backs)
