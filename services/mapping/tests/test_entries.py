"""The newest version of a source entry, and the events mapping makes of it."""

import datetime as dt
import uuid

from timebridge_common.events import UserRef
from timebridge_common.testing import sample_connection_changed, sample_time_entry_logged
from timebridge_mapping.domain.entries import StoredEntry, apply_change, apply_changes
from timebridge_mapping.domain.outcomes import NotMapped, Placement, entry_mapped, not_mapped

T0 = dt.datetime(2026, 11, 21, 10, 1, tzinfo=dt.UTC)
LATER = T0 + dt.timedelta(minutes=5)


def stored(at: dt.datetime = T0, *, deleted: bool = False) -> StoredEntry:
    entry = apply_change(
        None, sample_time_entry_logged(updated_at=at, deleted=deleted), uuid.uuid4()
    )
    assert entry is not None
    return entry


def test_only_a_newer_version_replaces_the_stored_one() -> None:
    current = stored(LATER)
    assert apply_change(current, sample_time_entry_logged(updated_at=T0), uuid.uuid4()) is None
    assert apply_change(current, sample_time_entry_logged(updated_at=LATER), uuid.uuid4()) is None
    again = sample_time_entry_logged(updated_at=LATER, observed_via="poll")
    assert apply_change(current, again, uuid.uuid4()) is None
    deletion = sample_time_entry_logged(updated_at=LATER + dt.timedelta(seconds=1), deleted=True)
    replaced = apply_change(current, deletion, uuid.uuid4())
    assert replaced is not None
    assert replaced.deleted


def test_a_second_edit_stamped_in_the_same_second_replaces_the_first() -> None:
    """Everhour and Harvest stamp to the second: other content at the held stamp is the later
    edit (the entry's order is Kafka's); the same content again, or older, is not."""
    current = stored(LATER)
    first = sample_time_entry_logged(updated_at=LATER)
    edited = first.model_copy(update={"entry": first.entry.model_copy(update={"notes": "More"})})
    replaced = apply_change(current, edited, uuid.uuid4())
    assert replaced is not None
    assert (replaced.fields.notes, replaced.updated_at) == ("More", LATER)
    assert apply_change(replaced, edited, uuid.uuid4()) is None
    same_instant_delete = sample_time_entry_logged(updated_at=LATER, deleted=True)
    gone = apply_change(replaced, same_instant_delete, uuid.uuid4())
    assert gone is not None
    assert gone.deleted
    assert apply_change(gone, same_instant_delete, uuid.uuid4()) is None


def test_a_mapped_entry_carries_the_targets_ids_and_the_source_as_it_is() -> None:
    entry = stored(deleted=True)
    user = UserRef(external_id="1001", email="ann@acme.test")
    event = entry_mapped(
        entry,
        sample_connection_changed(connection_id="int_a"),
        user=user,
        user_by="email",
        placement=Placement("ev:9", "ev:7", "created"),
    )
    assert (event.integration_id, event.source, event.target, event.operation) == (
        "int_a",
        "core",
        "everhour",
        "delete",
    )
    assert (event.entry.user, event.entry.project_external_id, event.entry.task_external_id) == (
        user,
        "ev:9",
        "ev:7",
    )
    assert event.entry.duration_seconds == entry.fields.duration_seconds
    assert event.source_entry == entry.fields
    assert (event.source_updated_at, event.user_mapped_by, event.task_mapped_by) == (
        T0,
        "email",
        "created",
    )


def test_an_entry_not_mapped_gets_its_status_with_the_reason() -> None:
    event = not_mapped(
        stored(),
        sample_connection_changed(connection_id="int_a"),
        NotMapped("queued", "no user"),
        now=LATER,
    )
    assert (event.status, event.operation, event.reason, event.target) == (
        "queued",
        "none",
        "no user",
        "everhour",
    )
    assert (event.source_external_id, event.source_updated_at, event.synced_at) == (
        "te_1",
        T0,
        LATER,
    )


def test_a_batch_applies_each_keys_versions_in_order_and_each_event_once() -> None:
    held = stored(T0)
    first, second = uuid.uuid4(), uuid.uuid4()
    newer = sample_time_entry_logged(updated_at=LATER)
    newest = sample_time_entry_logged(updated_at=LATER + dt.timedelta(seconds=1))
    other = sample_time_entry_logged(external_id="te_2", updated_at=T0)
    old, gone = uuid.uuid4(), uuid.uuid4()
    decided = apply_changes(
        {held.key: held},
        {first, second, old},
        [
            (gone, newer),  # processed before: not claimed by this batch
            (first, newer),
            (first, newer),  # the same event twice in one batch counts once
            (old, sample_time_entry_logged(updated_at=T0)),  # not newer than what is held
            (second, newest),  # builds on the version before it in the batch
        ],
    )
    assert [decided[0], decided[2], decided[3]] == ["duplicate", "duplicate", "stale"]
    assert [d.last_event_id for d in decided if isinstance(d, StoredEntry)] == [first, second]
    [new_key] = apply_changes({}, {first}, [(first, other)])
    assert isinstance(new_key, StoredEntry)
