"""The billable ledger: Core's time entries, the hours of record that invoices bill.

Invoices bill the **home system's** entries (Core's: ``TimeEntryLogged`` whose ``source`` is the
registry's home provider). Core is the host work system: an entry logged in Core is billable
whether or not a tracker accepted its copy, and an entry logged in a tracker reaches Core through
the sync (as a Core entry that Timebridge
created), so every hour is in the ledger exactly once, in Core's ids (its projects, which are
assigned to clients, and its users, who have rates). Tracker-side copies and echoes never enter
it, so nothing is billed twice.

Each entry keeps its newest version (Core's ``updated_at`` orders them; a replayed or late older
version changes nothing). An entry on an exported invoice is locked: the invoice keeps the lines
it was exported with, and a later change of the entry is shown as a warning on that invoice,
since the invoice in the accounting tool no longer matches the hours (the article's "you won't be
able to edit it"). The ledger still records the entry's latest state, which is what it is billed
as if the invoice is deleted and the entry uninvoiced.
"""

import datetime as dt
from dataclasses import dataclass

from timebridge_providers.installed import registry

from timebridge_common.events import TimeEntryLogged


def home() -> str:
    """The home system's name (the source of the entries the ledger bills)."""
    return registry().home().name


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One Core time entry as the ledger holds it (its newest version)."""

    workspace_id: str
    entry_id: str
    user_id: str
    user_email: str | None
    user_name: str | None
    project_id: str | None
    ticket_id: str | None
    date: dt.date
    duration_seconds: int
    notes: str
    billable: bool
    deleted: bool
    source_updated_at: dt.datetime
    invoice_id: str | None = None
    """The invoice the entry is on (a draft reserves it; an exported one locks it)."""


def ledger_entry(event: TimeEntryLogged) -> LedgerEntry | None:
    """The ledger's view of an observation; None for anything not a Core entry."""
    if event.source != home():
        return None
    fields = event.entry
    return LedgerEntry(
        workspace_id=event.workspace_id,
        entry_id=event.external_id,
        user_id=fields.user.external_id,
        user_email=fields.user.email,
        user_name=fields.user.name,
        project_id=fields.project_external_id,
        ticket_id=fields.task_external_id,
        date=fields.date,
        duration_seconds=fields.duration_seconds,
        notes=fields.notes,
        billable=fields.billable,
        deleted=event.deleted,
        source_updated_at=event.updated_at,
    )


@dataclass(frozen=True, slots=True)
class Held:
    """What the ledger holds for an entry: its version, and the invoice it is on."""

    source_updated_at: dt.datetime
    invoice_id: str | None
    invoice_locked: bool
    """The invoice was exported (or is being exported): its entries are frozen."""


def decide(held: Held | None, new: LedgerEntry) -> str:
    """``apply``, ``stale`` (not newer than what is held) or ``locked`` (on an exported
    invoice: recorded, and shown as a warning on that invoice)."""
    if held is not None and held.source_updated_at >= new.source_updated_at:
        return "stale"
    if held is not None and held.invoice_id is not None and held.invoice_locked:
        return "locked"
    return "apply"
