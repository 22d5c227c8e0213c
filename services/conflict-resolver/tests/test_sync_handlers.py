"""The sync handlers on in-memory fakes of every port: the whole write path in milliseconds.

The day-record tracker is the installed Everhour profile; a made-up tracker keeping one record
per entry ("tally") shows that the rules come from the profile, not from a provider's name.
"""

import dataclasses
import datetime as dt
from typing import Any

import pytest
from timebridge_providers.installed import registry
from timebridge_providers.kit.credentials import CredentialSource
from timebridge_providers.kit.fakes.credentials import FakeCredentialSource
from timebridge_providers.kit.fakes.entries import FakeEntryStore
from timebridge_providers.kit.ports.entries import day_key, entry_key
from timebridge_providers.kit.profile import Profile, RateLimit
from timebridge_providers.kit.registry import Account, Provider, Registry
from timebridge_providers.kit.session import Access, Session

from timebridge_common.errors import TransientError
from timebridge_common.events import EntryMapped, Envelope, IntegrationSettings
from timebridge_common.kafka.consumer import DeadLettered
from timebridge_common.kafka.dlt import SourceRecord
from timebridge_common.outbound.http import AuthenticationError, ProviderError
from timebridge_common.testing import sample_connection_changed, sample_entry_mapped
from timebridge_conflict_resolver.adapters.memory import (
    MemoryConnections,
    MemoryEntryStores,
    MemoryObservations,
    MemorySync,
)
from timebridge_conflict_resolver.handlers.sync import ReviewRefusedError, Syncer

HOME = registry().home().profile
DAY_RECORDS = registry().get("everhour").profile
INTEGRATION = "int_everhour"
NOW = dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC)
MAPPED = sample_entry_mapped(integration_id=INTEGRATION)
KEY = day_key("ev:7000000001", "1001", MAPPED.entry.date)


async def _check(session: Session) -> Account:
    return Account("1")


def _tally_registry() -> Registry:
    """Core plus a tracker that keeps one record per entry (billable per entry)."""
    tally = Profile(name="tally", title="Tally", kind="tracker", rate_limit=RateLimit(10, 1))
    home = registry().home()
    return Registry([home, Provider(tally, check=_check, entries=lambda s: FakeEntryStore())])


@dataclasses.dataclass
class World:
    syncer: Syncer
    store: MemorySync
    records: FakeEntryStore
    home: FakeEntryStore
    connections: MemoryConnections
    opened: list[tuple[str, Access]]

    async def sync(self, event: EntryMapped) -> Any:
        return await self.syncer.on_entry_mapped(Envelope.for_event(event, producer="t"), event)


def world(
    *,
    tracker: str = "everhour",
    policy: str = "manual_review",
    providers: Registry | None = None,
    owner: CredentialSource | None = None,
    records: FakeEntryStore | None = None,
) -> World:
    store = MemorySync(clock=lambda: NOW)
    records, home = records or FakeEntryStore(tracker), FakeEntryStore("core")
    connections = MemoryConnections()
    settings = IntegrationSettings(conflict_policy=policy)
    tracked = sample_connection_changed(
        connection_id=INTEGRATION, provider=tracker, workspace_id="acme", settings=settings
    )
    core = sample_connection_changed(
        connection_id="core_acme", provider="core", base_url="https://core", settings=None
    )
    connections.add(tracked)
    connections.add(core)
    entries = MemoryEntryStores({tracker: records, "core": home})
    if owner is None:  # the credential owner holds what ingest handed it for each connection
        held = FakeCredentialSource()
        for copy, secret in ((tracked, "tracker-key"), (core, "core-token")):
            held.put(
                copy.workspace_id,
                copy.connection_id,
                secret,
                base_url=copy.base_url,
                extra=copy.extra,
            )
        owner = held
    syncer = Syncer(
        store=store,
        observations=MemoryObservations(),
        connections=connections,
        entries=entries,
        clock=lambda: NOW,
        providers=providers or registry(),
        owner=owner,
    )
    return World(syncer, store, records, home, connections, entries.opened)


def later(event: EntryMapped, minutes: int, **entry: Any) -> EntryMapped:
    return event.model_copy(
        update={
            "entry": event.entry.model_copy(update=entry),
            "source_updated_at": event.source_updated_at + dt.timedelta(minutes=minutes),
        }
    )


async def test_a_core_entry_lands_in_its_day_record_and_a_redelivery_changes_nothing() -> None:
    w = world()
    envelope = Envelope.for_event(MAPPED, producer="t")

    synced = await w.syncer.on_entry_mapped(envelope, MAPPED)
    again = await w.syncer.on_entry_mapped(envelope, MAPPED)

    assert synced is not None
    assert (synced.status, synced.operation) == ("synced", "create")
    assert w.records.records[KEY].fields.duration_seconds == 3600
    assert again is None
    assert len(w.records.writes) == 1
    assert [o.status for o, _ in w.store.published] == ["synced"]
    assert w.store.intents == {}  # every lease released


async def test_entries_of_one_task_user_and_day_are_summed_into_one_record() -> None:
    w = world()
    second = sample_entry_mapped(
        integration_id=INTEGRATION, source_external_id="te_2", entry=MAPPED.entry
    )
    await w.sync(MAPPED)

    synced = await w.sync(
        second.model_copy(
            update={
                "entry": MAPPED.entry.model_copy(
                    update={"duration_seconds": 1800, "notes": "Review"}
                )
            }
        )
    )

    assert (synced.status, synced.operation) == ("synced", "update")
    record = w.records.records[KEY].fields
    assert (record.duration_seconds, record.notes) == (5400, "Fixing the login page; Review")


async def test_the_echo_of_timebridge_s_own_write_is_skipped_without_a_write() -> None:
    w = world()
    await w.sync(MAPPED)
    written = w.records.records[KEY]
    echo = sample_entry_mapped(
        integration_id=INTEGRATION,
        source="everhour",
        source_external_id=written.target_id,
        target="core",
        source_entry=written.fields,
        source_updated_at=MAPPED.source_updated_at + dt.timedelta(minutes=1),
    )

    skipped = await w.sync(echo)

    assert skipped.status == "skipped"
    assert "echo of Timebridge's own write" in skipped.reason
    assert skipped.entry is None  # its hours are carried once, by the Core entry
    assert w.home.writes == []


async def test_a_record_changed_on_both_sides_waits_for_review_then_a_person_decides() -> None:
    w = world()
    await w.sync(MAPPED)
    w.records.put(KEY, w.records.records[KEY].fields.model_copy(update={"duration_seconds": 60}))

    conflict = await w.sync(later(MAPPED, 5, duration_seconds=7200))
    [item] = await w.store.conflicts("acme", INTEGRATION, "open")
    resolved = await w.syncer.resolve("acme", item.conflict_id, "core")

    assert conflict.status == "conflict"
    assert "choose which version to keep" in conflict.reason
    assert (resolved.status, resolved.operation) == ("synced", "update")
    assert w.records.records[KEY].fields.duration_seconds == 7200
    assert (await w.store.conflict(item.conflict_id)).status == "resolved"  # type: ignore[union-attr]
    with pytest.raises(ReviewRefusedError) as closed:
        await w.syncer.resolve("acme", item.conflict_id, "core")
    assert closed.value.status == 409


async def test_the_policy_settles_a_conflict_without_review() -> None:
    w = world(policy="prefer_tracker")
    await w.sync(MAPPED)
    w.records.put(KEY, w.records.records[KEY].fields.model_copy(update={"duration_seconds": 60}))

    kept = await w.sync(later(MAPPED, 5, duration_seconds=7200))

    assert kept.status == "skipped"
    assert "everhour's version kept (conflict policy prefer_tracker)" in kept.reason
    assert w.records.records[KEY].fields.duration_seconds == 60
    assert await w.store.conflicts("acme", INTEGRATION, "open") == []


async def test_a_locked_record_is_a_conflict_with_the_provider_s_answer() -> None:
    w = world()
    await w.sync(MAPPED)
    w.records.locked.add(KEY)

    locked = await w.sync(later(MAPPED, 5, duration_seconds=7200))

    assert locked.status == "conflict"
    assert "the record is locked or invoiced" in locked.reason
    assert locked.provider_response == '{"error": "locked"}'
    [item] = await w.store.conflicts("acme", INTEGRATION, "open")
    assert item.kind == "locked"


async def test_a_refusal_is_an_error_with_the_provider_s_answer_and_no_lease_left() -> None:
    w = world()
    w.records.refusals.append(ProviderError("everhour", "POST", "/tasks/x/time", 422, "bad"))

    refused = await w.sync(MAPPED)

    assert refused.status == "error"
    assert refused.reason == "everhour refused POST /tasks/x/time (422)"
    assert refused.provider_response == "bad"
    assert w.store.intents == {}


async def test_a_401_is_reported_to_the_credential_owner_as_well_as_in_the_outcome() -> None:
    """So health says "needs re-authorisation" and the next change is not tried with the same
    dead key as if it were new (the owner answers 409 from then on)."""
    owner = FakeCredentialSource()
    owner.put("acme", INTEGRATION, "revoked-key")
    owner.put("acme", "core_acme", "core-token")
    w = world(owner=owner)
    w.records.refusals.append(AuthenticationError("everhour", "POST", "/tasks/x/time", 401, "no"))

    refused = await w.sync(MAPPED)

    assert refused.status == "error"
    assert owner.refusals == [
        ("acme", INTEGRATION, "everhour answered 401 to POST /tasks/x/time"),
    ]


async def test_a_read_back_that_differs_is_not_counted_as_synced() -> None:
    w = world()

    def someone_else_writes() -> None:
        w.records.put(KEY, MAPPED.entry.model_copy(update={"duration_seconds": 1}))

    w.records.after_write = someone_else_writes
    result = await w.sync(MAPPED)

    assert result.status == "error"
    assert "reading the record back shows something else" in result.reason
    assert '"duration_seconds": 1' in result.provider_response


async def test_billable_decided_by_the_tracker_s_project_is_reported_not_written() -> None:
    w = world()

    def project_is_not_billable() -> None:
        record = w.records.records[KEY]
        w.records.records[KEY] = dataclasses.replace(
            record,
            fields=record.fields.model_copy(update={"billable": False}),
            billable_by="project",
        )

    w.records.after_write = project_is_not_billable
    synced = await w.sync(MAPPED)

    assert synced.status == "synced"  # what the tracker keeps was written and read back
    assert "billable differs: core says billable, the Everhour project is not billable" in (
        synced.reason
    )


async def test_a_tracker_keeping_one_record_per_entry_gets_one_per_core_entry() -> None:
    w = world(tracker="tally", providers=_tally_registry())
    mapped = MAPPED.model_copy(update={"integration_id": INTEGRATION, "target": "tally"})
    second = mapped.model_copy(update={"source_external_id": "te_2"})

    await w.sync(mapped)
    await w.sync(second)

    assert sorted(w.records.records) == [entry_key("core", "te_1"), entry_key("core", "te_2")]
    record = w.records.records[entry_key("core", "te_1")].fields
    assert (record.started_at, record.billable) == (MAPPED.entry.started_at, True)


async def test_an_entry_without_a_task_cannot_land_in_a_day_record() -> None:
    w = world()
    untasked = MAPPED.model_copy(
        update={"entry": MAPPED.entry.model_copy(update={"task_external_id": None})}
    )

    result = await w.sync(untasked)

    assert result.status == "error"
    assert result.reason == ("no Everhour task for this entry: Everhour records time on tasks only")
    assert w.records.writes == []


async def test_only_the_integration_s_two_systems_are_synced() -> None:
    w = world()
    elsewhere = MAPPED.model_copy(update={"target": "tally"})
    w.connections.add(sample_connection_changed(connection_id="int_other", provider="unknown"))
    unknown = MAPPED.model_copy(update={"integration_id": "int_other"})

    assert (await w.sync(elsewhere)).reason == "Timebridge does not sync core to tally"
    assert (await w.sync(unknown)).reason == "Timebridge does not sync core to everhour"
    assert w.records.writes == []


async def test_a_disconnected_integration_skips_the_change() -> None:
    w = world()
    connection = w.connections.known[INTEGRATION]
    w.connections.add(connection.model_copy(update={"status": "disconnected"}))

    assert (await w.sync(MAPPED)).reason == "the integration is disconnected"


async def test_a_dead_lettered_change_reports_error_once_with_how_to_replay() -> None:
    w = world()
    envelope = Envelope.for_event(MAPPED, producer="t")
    record = SourceRecord("t", 0, 7, 0, 0, None, None, {})
    letter = DeadLettered(
        record=record,
        envelope=envelope,
        event=MAPPED,
        reason="everhour kept answering 503",
        error_class="transient",
        attempts=5,
    )

    first = await w.syncer.on_dead_letter(letter)
    second = await w.syncer.on_dead_letter(letter)

    assert first is not None
    assert first.status == "error"
    assert first.reason is not None
    assert "it kept failing (5 attempts): everhour kept answering 503" in first.reason
    assert f"--event-id {envelope.event_id}" in first.reason
    assert second is None


async def test_each_system_is_opened_with_the_connection_that_reaches_it() -> None:
    w = world()
    await w.sync(MAPPED)
    from_tracker = sample_entry_mapped(
        integration_id=INTEGRATION,
        source="everhour",
        source_external_id="77",
        target="core",
        source_updated_at=MAPPED.source_updated_at + dt.timedelta(minutes=1),
    )
    await w.sync(from_tracker)

    # One way for every reader: the connection's fields are the access's extras (not its account).
    fields = dict(w.connections.known[INTEGRATION].extra)
    assert w.opened == [
        ("everhour", Access("https://api.everhour.com", "tracker-key", fields)),
        ("core", Access("https://core", "core-token", {})),
    ]


async def test_with_a_credential_owner_each_system_is_opened_with_the_owners_access() -> None:
    """The owner's key or current OAuth token (rotated there), never the copy's sealed one."""
    owner = FakeCredentialSource()
    owner.put("acme", INTEGRATION, "owners-key", base_url="https://t", extra={"account_id": "7"})
    owner.put("acme", "core_acme", "owners-core-token", base_url="https://core")
    w = world(owner=owner)
    await w.sync(MAPPED)
    await w.sync(
        sample_entry_mapped(
            integration_id=INTEGRATION, source="everhour", source_external_id="77",
            target="core", source_updated_at=MAPPED.source_updated_at + dt.timedelta(minutes=1),
        )
    )  # fmt: skip
    assert w.opened == [
        ("everhour", Access("https://t", "owners-key", {"account_id": "7"})),
        ("core", Access("https://core", "owners-core-token", {})),
    ]
    assert owner.calls == [("acme", INTEGRATION), ("acme", "core_acme")]


async def test_the_owner_unavailable_is_transient_and_nothing_is_written() -> None:
    owner = FakeCredentialSource()
    owner.fail("acme", INTEGRATION, TransientError("owner restarting"))
    w = world(owner=owner)
    with pytest.raises(TransientError):
        await w.sync(MAPPED)
    assert w.opened == []
