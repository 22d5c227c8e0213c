"""The scenarios every provider runs against its sandbox (see the package docstring).

Each is ``async def scenario(rig) -> None``: it passes, fails with ``AssertionError``, or raises
:class:`~.rig.NotOffered` when the provider lacks what it checks. They use only the kit's ports
and the sandbox's controls, so a provider passes them by behaving like its real API, not like a
particular test.
"""

import datetime as dt
import zoneinfo
from collections.abc import Awaitable, Callable

from timebridge_common.errors import TransientError
from timebridge_common.events import TimeEntryFields
from timebridge_providers.kit.conformance.rig import NotOffered, Rig
from timebridge_providers.kit.conformance.webhooks import webhook_signatures
from timebridge_providers.kit.ports.entries import (
    EntryLockedError,
    EntryStore,
    Observed,
    Slot,
    Write,
)

Scenario = Callable[[Rig], Awaitable[None]]


def _entries(rig: Rig) -> EntryStore:
    if rig.provider.entries is None or not rig.provider.profile.writable:
        raise NotOffered(f"{rig.provider.name} entries are not writable")
    return rig.provider.entries(rig.session())


def _compared(rig: Rig) -> frozenset[str]:
    profile = rig.provider.profile
    return profile.kept_fields & profile.writable_fields


def assert_same(rig: Rig, desired: TimeEntryFields, read: Observed | None) -> None:
    """The record read back holds what was written, in every field the provider keeps and
    writes; a start it reports must be the one written (to the minute)."""
    assert read is not None, "the record written is not found"
    for name in sorted(_compared(rig)):
        want, got = getattr(desired, name), getattr(read.fields, name)
        if name == "user":
            want, got = want.external_id, got.external_id
        if name == "started_at" and want is None:
            continue  # an entry without a start: a provider keeping one sets its own
        assert want == got, f"{name}: wrote {want!r}, read back {got!r}"
    if desired.started_at is not None and read.fields.started_at is not None:
        assert read.fields.started_at == desired.started_at, "the start read back differs"


async def _create(rig: Rig, store: EntryStore, fields: TimeEntryFields) -> Slot:
    slot = rig.slot(fields)
    target = await store.write(slot, Write("create", fields, None, f"{slot.key}:create"))
    assert target, "a create answers the new record's id"
    return Slot(slot.system, slot.key, target)


async def check_identifies_the_credential(rig: Rig) -> None:
    account = await rig.provider.check(rig.session())
    assert account.external_id == rig.work.user_id


async def rate_limited_answer_waits_for_retry_after(rig: Rig) -> None:
    await rig.faults(rate_limited_requests=2, retry_after_s=7)
    before = len(rig.answers)
    account = await rig.provider.check(rig.session())
    assert account.external_id == rig.work.user_id
    # The check may ask more after its first answer (Tempo's asks Jira who the token is too).
    assert rig.answers[before:][:3] == [429, 429, 200], rig.answers[before:]
    assert sum(rig.clock.sleeps) >= 14, f"waited {rig.clock.sleeps}, Retry-After said 7 s twice"


async def server_errors_are_retried_and_a_write_is_not_repeated(rig: Rig) -> None:
    await rig.faults(server_errors=2, server_error_status=502)
    before = len(rig.answers)
    await rig.provider.check(rig.session())
    assert rig.answers[before:][:3] == [502, 502, 200], rig.answers[before:]  # then maybe more
    store = _entries(rig)
    fields = rig.fields(dt.date(2026, 11, 2), dt.time(9), 1800, "five hundred")
    slot = rig.slot(fields)
    held = rig.control.count()
    await rig.faults(server_errors=1, server_error_status=503)
    before = len(rig.answers)
    write = Write("create", fields, None, f"{slot.key}:create")
    try:
        target = await store.write(slot, write)
    except TransientError:  # the 503 answered the create itself: its outcome is unknown
        target = await store.write(slot, write)
    assert 503 in rig.answers[before:], "the sandbox answered 503 once"
    assert target, "the create, decided again, goes through"
    assert rig.control.count() == held + 1, "exactly one record after the 5xx"


async def entries_round_trip(rig: Rig) -> None:
    store = _entries(rig)
    fields = rig.fields(dt.date(2026, 11, 3), dt.time(9, 15), 5400, "conformance: create")
    slot = await _create(rig, store, fields)
    read = await store.read(slot)
    assert_same(rig, fields, read)
    assert read is not None
    changed = fields.model_copy(update={"notes": "conformance: update", "duration_seconds": 3600})
    changed = changed.model_copy(
        update={"ended_at": changed.started_at and changed.started_at + dt.timedelta(hours=1)}
    )
    assert await store.write(slot, Write("update", changed, read, f"{slot.key}:update")) is None
    again = await store.read(slot)
    assert_same(rig, changed, again)
    await store.write(slot, Write("delete", None, again, f"{slot.key}:delete"))
    assert await store.read(slot) is None, "a deleted record is gone"


async def a_locked_record_is_refused_with_the_typed_error(rig: Rig) -> None:
    store = _entries(rig)
    fields = rig.fields(dt.date(2026, 11, 6), dt.time(10), 3600, "conformance: locked")
    slot = await _create(rig, store, fields)
    read = await store.read(slot)
    assert read is not None
    await rig.control.lock(read.target_id)
    changed = fields.model_copy(update={"notes": "after the lock", "duration_seconds": 1800})
    try:
        await store.write(slot, Write("update", changed, read, f"{slot.key}:update"))
    except EntryLockedError:
        pass
    else:
        raise AssertionError("a locked record was changed, or refused without EntryLockedError")
    assert_same(rig, fields, await store.read(slot))


async def lost_answer_is_looked_up_never_created_twice(rig: Rig) -> None:
    """The sandbox applies a create and loses its answer. A provider with idempotent creates
    (an ``Idempotency-Key``) may repeat it at once; any other raises ``TransientError`` and, when
    the write is decided again, finds the record instead of creating a second."""
    store = _entries(rig)
    fields = rig.fields(dt.date(2026, 11, 4), dt.time(14), 2700, "conformance: lost answer")
    slot = rig.slot(fields)
    held = rig.control.count()
    await rig.faults(lost_responses=1, lost_response_delay_s=5)
    write = Write("create", fields, None, f"{slot.key}:create")
    try:
        target = await store.write(slot, write)
    except TransientError:
        assert rig.control.count() == held + 1, "the sandbox applied the write"
        target = await store.write(slot, write)
    assert (await rig.fault_switches())["lost_responses"] == 0, "an answer was lost"
    if rig.provider.profile.granularity == "entry":
        assert target, "the create names the record"
    assert rig.control.count() == held + 1, "the create was applied once, never twice"
    assert_same(rig, fields, await store.read(Slot(slot.system, slot.key, target)))


async def entry_crossing_midnight(rig: Rig) -> None:
    store = _entries(rig)
    fields = rig.fields(dt.date(2026, 11, 5), dt.time(23, 30), 2 * 3600, "conformance: midnight")
    slot = await _create(rig, store, fields)
    read = await store.read(slot)
    assert_same(rig, fields, read)
    assert read is not None
    assert read.fields.date == dt.date(2026, 11, 5), "the entry stays on the day it started"


async def entry_across_a_dst_change(rig: Rig) -> None:
    store = _entries(rig)
    # 01:30 local on the night the zone's clocks change (Europe: last Sunday of March; the
    # US: second Sunday of March): two real hours later the wall clock shows 04:30.
    day = dt.date(2026, 3, 29) if rig.work.zone.startswith("Europe/") else dt.date(2026, 3, 8)
    fields = rig.fields(day, dt.time(1, 30), 2 * 3600, "conformance: DST")
    slot = await _create(rig, store, fields)
    read = await store.read(slot)
    assert_same(rig, fields, read)
    assert read is not None
    assert read.fields.duration_seconds == 7200, "elapsed hours, not wall-clock hours"


async def an_entry_logged_in_another_zone_round_trips(rig: Rig) -> None:
    """An entry logged in a zone other than its user's (a Core entry on a trip, say) reads
    back as written in every field the provider keeps and writes: a provider whose records
    carry only their user's (or the account's) zone must not claim to keep the entry's."""
    store = _entries(rig)
    fields = rig.fields(dt.date(2026, 11, 9), dt.time(12), 1800, "conformance: elsewhere")
    assert fields.started_at is not None
    elsewhere = next(
        zone
        for zone in ("Atlantic/Reykjavik", "Asia/Tokyo", "America/New_York")
        if zone != rig.work.zone
        and fields.started_at.astimezone(zoneinfo.ZoneInfo(zone)).date() == fields.date
    )
    fields = fields.model_copy(update={"timezone": elsewhere})
    slot = await _create(rig, store, fields)
    assert_same(rig, fields, await store.read(slot))


async def an_entry_without_a_start_round_trips(rig: Rig) -> None:
    """An entry with only a date and a duration lands on its date with its duration; a
    provider keeping a start sets its own, on that date."""
    store = _entries(rig)
    fields = rig.fields(dt.date(2026, 11, 10), dt.time(9), 2700, "conformance: no start")
    fields = fields.model_copy(update={"started_at": None, "ended_at": None})
    slot = await _create(rig, store, fields)
    read = await store.read(slot)
    assert_same(rig, fields, read)
    assert read is not None
    assert read.fields.date == fields.date, "the entry stays on its date"


async def incremental_listing_with_pages_and_deletions(rig: Rig) -> None:
    if rig.provider.observe is None:
        raise NotOffered(f"{rig.provider.name} is not observed")
    observer = rig.provider.observe(rig.session())
    lookback = dt.timedelta(days=14)
    now = dt.datetime.now(dt.UTC)
    first = await observer.changes(None, now=now, lookback=lookback)
    ids = [
        await rig.control.add(
            rig.fields(now.date() - dt.timedelta(days=1 + n), dt.time(9), 600 * (n + 1), f"n{n}")
        )
        for n in range(3)
    ]
    rig.control.limit_pages(2)
    second = await observer.changes(
        first.cursor, now=now + dt.timedelta(minutes=5), lookback=lookback
    )
    seen = {c.external_id: c for c in second.changes}
    for n, external_id in enumerate(ids):
        assert external_id in seen, f"{external_id} added but not listed (pages followed?)"
        change = seen[external_id]
        assert not change.deleted
        assert change.fields.duration_seconds == 600 * (n + 1), "units: seconds as logged"
        if "timezone" in rig.provider.profile.observed_fields:
            assert change.fields.timezone == rig.work.zone, "read in the user's zone"
    await rig.control.edit(ids[0], "edited in the provider")
    await rig.control.remove(ids[1])
    third = await observer.changes(
        second.cursor, now=now + dt.timedelta(minutes=10), lookback=lookback
    )
    latest = {c.external_id: c for c in third.changes}
    assert ids[0] in latest, "an edit is listed"
    assert not latest[ids[0]].deleted
    assert latest[ids[0]].fields.notes == "edited in the provider"
    assert ids[1] in latest, "a deletion is listed"
    assert latest[ids[1]].deleted, "a deleted record is reported deleted"
    assert ids[2] not in latest or not latest[ids[2]].deleted, "an untouched record is not deleted"


async def directory_users_projects_tasks(rig: Rig) -> None:
    if rig.provider.directory is None:
        raise NotOffered(f"{rig.provider.name} offers no directory")
    directory = rig.provider.directory(rig.session())
    users = {u.external_id: u for u in await directory.users()}
    assert rig.work.user_id in users
    assert users[rig.work.user_id].email == rig.work.email
    projects = [p.external_id async for p in directory.projects()]
    assert rig.work.project_id in projects
    assert (await directory.project(rig.work.project_id)).external_id == rig.work.project_id
    tasks = [t.external_id async for t in directory.tasks(rig.work.project_id)]
    assert rig.work.task_id in tasks
    assert (await directory.task(rig.work.task_id)).external_id == rig.work.task_id


async def provider_report_sums_the_time_logged(rig: Rig) -> None:
    if rig.provider.report is None:
        raise NotOffered(f"{rig.provider.name} offers no summary report")
    report = rig.provider.report(rig.session())
    week = dt.date(2026, 10, 12), dt.date(2026, 10, 18)
    before = {r.user_external_id: r.seconds for r in await report.summary(*week)}
    for n, seconds in enumerate((1800, 5400)):
        day = week[0] + dt.timedelta(days=n)
        await rig.control.add(rig.fields(day, dt.time(10), seconds, "report"))
    await rig.control.add(rig.fields(week[1] + dt.timedelta(days=1), dt.time(10), 600, "later"))
    after = {r.user_external_id: r.seconds for r in await report.summary(*week)}
    user = rig.work.user_id
    assert after[user] - before.get(user, 0) == 7200, "the week's time, and only the week's"


SCENARIOS: tuple[Scenario, ...] = (
    check_identifies_the_credential,
    rate_limited_answer_waits_for_retry_after,
    server_errors_are_retried_and_a_write_is_not_repeated,
    entries_round_trip,
    a_locked_record_is_refused_with_the_typed_error,
    lost_answer_is_looked_up_never_created_twice,
    entry_crossing_midnight,
    entry_across_a_dst_change,
    an_entry_logged_in_another_zone_round_trips,
    an_entry_without_a_start_round_trips,
    incremental_listing_with_pages_and_deletions,
    directory_users_projects_tasks,
    provider_report_sums_the_time_logged,
    webhook_signatures,
)
