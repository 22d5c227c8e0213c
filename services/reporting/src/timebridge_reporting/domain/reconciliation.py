"""Reconciliation: Core vs each tracker vs invoices for a period, per entry where they differ, why.

Everything is derived from what the services published: entry versions (``TimeEntryLogged``),
sync outcomes with their reasons (``EntrySynced``), integrations' directions
(``ConnectionChanged``) and invoices (``InvoiceExported``/``StatusChanged``/``Deleted``).
"""

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal

from timebridge_providers.installed import registry

from timebridge_reporting.domain.report_model import Report, Table, Value
from timebridge_reporting.domain.reports import Context

CORE = registry().home().name
"""The home system (Core): the side every tracker is reconciled with."""

UNMAPPED_USER = "unmapped_user"
SKIPPED_BY_DIRECTION = "skipped_by_direction"
CONFLICT_OPEN = "conflict_open"
ERROR = "error"
NOT_YET_SYNCED = "not_yet_synced"
DELETED_ON_ONE_SIDE = "deleted_on_one_side"
DURATION_DIFFERS = "duration_differs"
AMOUNT_CHANGED_IN_TOOL = "invoiced_amount_changed_in_tool"
SKIPPED = "skipped"
QUEUED = "queued"


@dataclass(frozen=True, slots=True)
class Entry:
    source: str
    external_id: str
    user_id: str
    work_date: dt.date
    seconds: int
    deleted: bool
    integration_id: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """The last ``EntrySynced`` of one entry towards one target."""

    integration_id: str
    source: str
    source_external_id: str
    target: str
    target_external_id: str | None
    status: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class Integration:
    integration_id: str
    provider: str
    direction: str


@dataclass(frozen=True, slots=True)
class Invoice:
    invoice_id: str
    number: str | None
    provider: str
    total: Decimal
    tool_total: Decimal | None
    tool_status: str | None
    amount_changed: bool
    deleted: bool


def _kind(outcome: Outcome) -> str | None:
    """The discrepancy an outcome stands for (``None``: in sync, or nothing to do)."""
    reason = (outcome.reason or "").lower()
    if outcome.status == "synced":
        return None
    if outcome.status in {"queued", "skipped"} and "user is mapped" in reason:
        return UNMAPPED_USER
    if outcome.status == "skipped" and ("echo" in reason or "linked to existing" in reason):
        return None
    if outcome.status == "skipped" and ("does not sync" in reason or "direction" in reason):
        return SKIPPED_BY_DIRECTION
    return {"conflict": CONFLICT_OPEN, "error": ERROR, "queued": QUEUED}.get(
        outcome.status, SKIPPED
    )


def _takes(direction: str, source: str) -> bool:
    if direction == "two_way":
        return True
    return direction == ("core_to_tracker" if source == CORE else "tracker_to_core")


def _entry_differences(
    period_entries: list[Entry],
    by_id: dict[tuple[str, str], Entry],
    last: dict[tuple[str, str, str], Outcome],
    copies: set[tuple[str, str | None]],
    integrations: list[Integration],
) -> list[tuple[Value, ...]]:
    rows: list[tuple[Value, ...]] = []

    def add(entry: Entry, target: str, kind: str, why: str | None, other: int | None) -> None:
        rows.append(
            (kind, entry.source, entry.external_id, target, entry.work_date, entry.user_id,
             0 if entry.deleted else entry.seconds, other, why)
        )  # fmt: skip

    for entry in sorted(period_entries, key=lambda e: (e.source, e.external_id)):
        if entry.source != CORE and (entry.source, entry.external_id) in copies:
            continue  # Timebridge's own copy of an entry: judged from its origin
        for integration in _integrations_of(entry, integrations):
            target = integration.provider if entry.source == CORE else CORE
            outcome = last.get((integration.integration_id, entry.source, entry.external_id))
            if outcome is None:
                if entry.deleted:
                    continue
                if not _takes(integration.direction, entry.source):
                    why = f"the integration's direction is {integration.direction}"
                    add(entry, target, SKIPPED_BY_DIRECTION, why, None)
                else:
                    add(entry, target, NOT_YET_SYNCED, "no sync outcome yet", None)
                continue
            kind = _kind(outcome)
            if kind is not None:
                add(entry, target, kind, outcome.reason, None)
                continue
            copy = by_id.get((target, outcome.target_external_id or ""))
            if outcome.status != "synced" or copy is None:
                continue
            if entry.deleted != copy.deleted:
                side = entry.source if entry.deleted else target
                why = f"deleted in {side} only ({target} {copy.external_id})"
                add(entry, target, DELETED_ON_ONE_SIDE, why, 0 if copy.deleted else copy.seconds)
            elif not entry.deleted and entry.seconds != copy.seconds:
                why = f"{target} {copy.external_id} has {copy.seconds} s"
                add(entry, target, DURATION_DIFFERS, why, copy.seconds)
    return rows


def _integrations_of(entry: Entry, integrations: list[Integration]) -> list[Integration]:
    """Core entries go to every tracker integration; a tracker's entry only to its own."""
    if entry.source == CORE:
        return integrations
    return [
        i
        for i in integrations
        if i.provider == entry.source and entry.integration_id in {None, i.integration_id}
    ]


def _invoice_differences(invoices: list[Invoice]) -> list[tuple[Value, ...]]:
    rows: list[tuple[Value, ...]] = []
    for invoice in invoices:
        if invoice.amount_changed and not invoice.deleted:
            why = f"{invoice.tool_total} in {invoice.provider}, {invoice.total} exported"
            rows.append(
                (AMOUNT_CHANGED_IN_TOOL, invoice.invoice_id, invoice.number, invoice.total,
                 invoice.tool_total, why)
            )  # fmt: skip
        if invoice.tool_status == "deleted" and not invoice.deleted:
            why = f"deleted in {invoice.provider}, still here: delete it to uninvoice its entries"
            rows.append(
                (DELETED_ON_ONE_SIDE, invoice.invoice_id, invoice.number, invoice.total, None, why)
            )
    return rows


def reconcile(
    ctx: Context,
    entries: list[Entry],
    outcomes: list[Outcome],
    integrations: list[Integration],
    invoices: list[Invoice],
) -> Report:
    """One row per difference; ``summary`` compares the totals of Core, each tracker, invoices."""
    by_id = {(e.source, e.external_id): e for e in entries}
    last = {(o.integration_id, o.source, o.source_external_id): o for o in outcomes}
    copies = {(o.target, o.target_external_id) for o in outcomes if o.status == "synced"}
    in_period = [e for e in entries if ctx.period.start <= e.work_date <= ctx.period.end]
    rows = _entry_differences(in_period, by_id, last, copies, integrations)
    invoice_rows = _invoice_differences(invoices)
    summary: Counter[str] = Counter()
    seconds: Counter[str] = Counter()
    for entry in in_period:
        if not entry.deleted and (entry.source, entry.external_id) not in copies:
            summary[entry.source] += 1
            seconds[entry.source] += entry.seconds
    columns = (
        "kind",
        "source",
        "entry",
        "target",
        "date",
        "user",
        "seconds",
        "target_seconds",
        "why",
    )
    invoice_columns = ("kind", "invoice", "number", "exported_total", "tool_total", "why")
    summary_rows: list[tuple[Value, ...]] = [
        (source, summary[source], seconds[source]) for source in sorted(summary)
    ]
    kinds = Counter(str(r[0]) for r in rows + invoice_rows)
    return Report(
        "reconciliation",
        "Reconciliation",
        ctx.workspace_id,
        ctx.period,
        ctx.fresh_up_to,
        ctx.excluded,
        [
            Table("differences", columns, rows),
            Table("invoice_differences", invoice_columns, invoice_rows),
            Table("summary", ("source", "own_entries", "seconds"), summary_rows),
            Table("by_kind", ("kind", "count"), sorted(kinds.items())),
        ],
        notes=["own entries: entries that originated in that system (copies are matched to them)"],
    )
