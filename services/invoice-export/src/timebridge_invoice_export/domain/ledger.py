"""The billable ledger: which synced hours can be invoiced.

Only confirmed outcomes count (``status == "synced"``): an entry whose write the target never
confirmed must not end up on an invoice. An entry already on an exported invoice is locked; a
later change to it is not applied but reported, since the invoice in the accounting tool no longer
matches the hours (the accounting article's "you won't be able to edit it").
"""

import datetime as dt
from dataclasses import dataclass

from timebridge_common.events import EntrySynced


@dataclass(frozen=True, slots=True)
class LedgerKey:
    workspace_id: str
    source: str
    source_external_id: str


@dataclass(frozen=True, slots=True)
class BillableEntry:
    user_email: str | None
    project_external_id: str | None
    task_external_id: str | None
    date: dt.date
    duration_seconds: int
    notes: str


@dataclass(frozen=True, slots=True)
class LedgerChange:
    """Upsert ``entry`` (or remove the key when ``entry`` is None), if newer than what is held."""

    key: LedgerKey
    entry: BillableEntry | None
    source_updated_at: dt.datetime


def ledger_change(event: EntrySynced) -> LedgerChange | None:
    if event.status != "synced":
        return None
    key = LedgerKey(event.workspace_id, event.source, event.source_external_id)
    fields = event.entry
    if event.operation == "delete" or fields is None or not fields.billable:
        return LedgerChange(key, None, event.source_updated_at)
    entry = BillableEntry(
        user_email=fields.user.email,
        project_external_id=fields.project_external_id,
        task_external_id=fields.task_external_id,
        date=fields.date,
        duration_seconds=fields.duration_seconds,
        notes=fields.notes,
    )
    return LedgerChange(key, entry, event.source_updated_at)
