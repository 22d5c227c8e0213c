"""Which sync outcomes change the billable ledger."""

import datetime as dt

from timebridge_common.events import EntrySynced, TimeEntryFields, UserRef
from timebridge_invoice_export.domain.ledger import LedgerKey, ledger_change

T = dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC)
FIELDS = TimeEntryFields(
    user=UserRef(external_id="u1", email="ann@acme.test"),
    project_external_id="p1",
    date=dt.date(2026, 11, 21),
    duration_seconds=1800,
    notes="review",
    billable=True,
)


def synced(**overrides: object) -> EntrySynced:
    values: dict[str, object] = {
        "workspace_id": "acme",
        "integration_id": "int_1",
        "source": "core",
        "source_external_id": "te_1",
        "target": "everhour",
        "target_external_id": "eh_1",
        "status": "synced",
        "operation": "create",
        "entry": FIELDS,
        "source_updated_at": T,
        "synced_at": T,
    }
    return EntrySynced.model_validate(values | overrides)


def test_confirmed_billable_entry_is_added() -> None:
    change = ledger_change(synced())
    assert change is not None
    assert change.key == LedgerKey("acme", "core", "te_1")
    assert change.entry is not None
    assert (change.entry.duration_seconds, change.entry.user_email) == (1800, "ann@acme.test")


def test_unconfirmed_outcomes_change_nothing() -> None:
    for status in ("skipped", "queued", "conflict", "error"):
        assert ledger_change(synced(status=status, reason="x")) is None


def test_deleted_or_non_billable_entries_are_removed() -> None:
    deleted = ledger_change(synced(operation="delete", entry=None))
    unbillable = ledger_change(synced(entry=FIELDS.model_copy(update={"billable": False})))
    assert deleted is not None
    assert deleted.entry is None
    assert unbillable is not None
    assert unbillable.entry is None
