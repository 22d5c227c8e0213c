"""Core entries as an EntryStore, against the Core sandbox: found by the external reference they
were created with, updated on the version they were read at, locks as the kit's typed refusal."""

import datetime as dt

import httpx
import pytest
from timebridge_providers.core.client import CoreClient
from timebridge_providers.core.entries import CoreEntries
from timebridge_providers.kit.ports.entries import (
    EntryLockedError,
    Slot,
    Write,
    entry_key,
)

from timebridge_common.errors import TransientError
from timebridge_common.events import TimeEntryFields, UserRef
from timebridge_common.outbound.http import RequestBudget
from timebridge_sandboxes.core import CoreState, create_core_sandbox

TOKEN = "core-entries-token"
DAY = dt.date(2026, 3, 29)  # Europe/Berlin changes to summer time that night


def _world() -> tuple[CoreState, CoreEntries, str]:
    state = CoreState()
    state.add_service_token("acme", TOKEN)
    ann = state.add_user("acme", "Ann", email="ann@acme.test")
    app = create_core_sandbox(state)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    client = CoreClient("http://core.sandbox", TOKEN, http=http, budget=RequestBudget(10**6, 1))
    return state, CoreEntries(client), ann


def _fields(user: str, seconds: int = 3600) -> TimeEntryFields:
    return TimeEntryFields(
        user=UserRef(external_id=user),
        date=DAY,
        started_at=dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC),
        timezone="Europe/Berlin",
        duration_seconds=seconds,
        notes="night shift",
        billable=False,
    )


async def test_a_created_entry_is_found_by_its_external_reference_and_read_back_whole() -> None:
    _, entries, ann = _world()
    slot = Slot("core", entry_key("everhour", "42"))

    made = await entries.write(slot, Write("create", _fields(ann), None, "idem-1"))
    by_ref = await entries.read(slot)
    by_id = await entries.read(Slot("core", slot.key, made))

    assert by_ref is not None
    assert by_ref == by_id
    assert by_ref.target_id == made
    fields = by_ref.fields
    assert (fields.duration_seconds, fields.billable, fields.timezone) == (
        3600,
        False,
        "Europe/Berlin",
    )
    assert fields.ended_at == dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC)


async def test_an_update_on_a_stale_version_is_decided_again() -> None:
    _, entries, ann = _world()
    slot = Slot("core", entry_key("everhour", "43"))
    made = await entries.write(slot, Write("create", _fields(ann), None, "idem-2"))
    read = await entries.read(Slot("core", slot.key, made))
    assert read is not None
    await entries.write(slot, Write("update", _fields(ann, 5400), read, "idem-3"))

    with pytest.raises(TransientError, match="changed meanwhile"):
        await entries.write(slot, Write("update", _fields(ann, 60), read, "idem-4"))
    after = await entries.read(Slot("core", slot.key, made))
    assert after is not None
    assert after.fields.duration_seconds == 5400


async def test_a_locked_entry_refuses_with_the_kits_typed_error_and_a_delete_removes() -> None:
    state, entries, ann = _world()
    slot = Slot("core", entry_key("everhour", "44"))
    made = await entries.write(slot, Write("create", _fields(ann), None, "idem-5"))
    assert made is not None
    read = await entries.read(Slot("core", slot.key, made))
    state.entries[made].locked = True

    with pytest.raises(EntryLockedError):
        await entries.write(slot, Write("update", _fields(ann, 60), read, "idem-6"))
    state.entries[made].locked = False
    await entries.write(slot, Write("delete", None, read, "idem-7"))
    assert await entries.read(Slot("core", slot.key, made)) is None
    assert await entries.read(slot) is None
