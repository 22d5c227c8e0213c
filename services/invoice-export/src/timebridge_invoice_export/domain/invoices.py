"""Invoices: their lines and totals, their life in Timebridge, and what the tool says of them.

Life of an invoice (``status``):

- ``draft``: made for a client and a period from its billable entries that are on no other
  invoice (they are reserved for it); its lines follow the entries' current values, it can be
  refreshed (entries logged since are added) and deleted (entries released);
- ``exporting``: an admin pressed Export. From here the invoice cannot be edited: lines and total
  are frozen, the entries locked, and the copy to the tool runs (and is retried) until the tool
  holds it;
- ``exported``: the tool holds it as a draft; ``tool_status`` and the number, date and amount the
  tool shows are kept in sync (webhooks, polling);
- ``export_failed``: the tool refused the copy (the reason is kept); it can be exported again
  once the cause is fixed, or deleted;
- ``deleted``: deleted in Timebridge; its entries are uninvoiced. An exported invoice can be
  deleted only once the tool no longer has it as a live invoice (deleted or voided there): the
  accounting article's "if you delete an invoice in your accounting tool, the status changes to
  Deleted ... delete it on the Invoice preview page to mark its entries as uninvoiced".
"""

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from timebridge_invoice_export.domain.accounting import ToolInvoice, ToolInvoiceStatus
from timebridge_invoice_export.domain.ledger import LedgerEntry
from timebridge_invoice_export.domain.money import hours, line_amount, round_money
from timebridge_invoice_export.domain.rates import Rate, applicable_rate
from timebridge_invoice_export.domain.rounding import RoundingUsed, billed_seconds

InvoiceStatus = Literal["draft", "exporting", "exported", "export_failed", "deleted"]
EDITABLE: frozenset[str] = frozenset({"draft", "export_failed"})
FROZEN: frozenset[str] = frozenset({"exporting", "exported"})
RELEASABLE_TOOL_STATUSES: frozenset[str] = frozenset({"deleted", "voided"})


@dataclass(frozen=True, slots=True)
class Expense:
    expense_id: str
    workspace_id: str
    project_id: str
    date: dt.date
    description: str
    amount: Decimal
    currency: str
    billable: bool
    invoice_id: str | None = None


@dataclass(frozen=True, slots=True)
class Line:
    kind: Literal["time", "expense"]
    description: str
    project_id: str | None
    user_id: str | None
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    entry_ids: tuple[str, ...] = ()
    expense_id: str | None = None
    first_date: dt.date | None = None
    rate_source: str | None = None
    """Where a time line's rate came from (``timebridge`` or ``tracker:<integration>``)."""
    rounding: RoundingUsed | None = None
    """The rounding policy version that made a time line's quantity (None: none applied)."""


@dataclass(frozen=True, slots=True)
class Problem:
    """Why the invoice cannot be exported as it is (shown on the preview)."""

    code: Literal["no_rate", "currency_mismatch", "no_currency", "empty"]
    message: str
    entry_ids: tuple[str, ...] = ()
    expense_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Computed:
    currency: str | None
    lines: tuple[Line, ...]
    total: Decimal
    problems: tuple[Problem, ...] = field(default=())

    @property
    def entry_ids(self) -> tuple[str, ...]:
        return tuple(e for line in self.lines for e in line.entry_ids)

    @property
    def expense_ids(self) -> tuple[str, ...]:
        return tuple(line.expense_id for line in self.lines if line.expense_id)


def billable_in_period(entry: LedgerEntry, start: dt.date, end: dt.date) -> bool:
    return entry.billable and not entry.deleted and start <= entry.date <= end


def compute(
    entries: Sequence[LedgerEntry],
    expenses: Sequence[Expense],
    rates: Sequence[Rate],
    *,
    client_currency: str | None,
    project_names: Mapping[str, str],
    rounding: RoundingUsed | None = None,
) -> Computed:
    """The invoice's lines: one per project, person and rate (hours), one per expense.

    The currency is the client's; a client without one (Xero leaves it to the organisation)
    takes the one currency its rates and expenses share. Entries without a rate, and rates or
    expenses in another currency, are problems: the line is left out and export refused.
    ``rounding`` (the client's policy version) rounds each time line's seconds before they
    become hours; the entries themselves keep their exact durations.
    """
    problems: list[Problem] = []
    priced: dict[tuple[str | None, str, str], list[LedgerEntry]] = {}
    rate_of: dict[str, Rate] = {}
    unpriced: list[str] = []
    for entry in entries:
        rate = applicable_rate(rates, entry.project_id, entry.user_id)
        if rate is None:
            unpriced.append(entry.entry_id)
            continue
        rate_of[rate.rate_id] = rate
        priced.setdefault((entry.project_id, entry.user_id, rate.rate_id), []).append(entry)
    if unpriced:
        problems.append(
            Problem(
                "no_rate",
                f"{len(unpriced)} entries have no hourly rate (set one for their project or user)",
                entry_ids=tuple(unpriced),
            )
        )
    currencies = {r.currency for r in rate_of.values()} | {e.currency for e in expenses}
    currency = client_currency or (next(iter(currencies)) if len(currencies) == 1 else None)
    if currency is None:
        code: Literal["currency_mismatch", "no_currency"] = (
            "currency_mismatch" if currencies else "no_currency"
        )
        message = (
            f"rates and expenses are in several currencies ({', '.join(sorted(currencies))})"
            if currencies
            else "the client has no currency and nothing is priced yet"
        )
        problems.append(Problem(code, message))
        return Computed(None, (), Decimal(0), tuple(problems))

    lines: list[Line] = []
    foreign_entries: list[str] = []
    for (project_id, user_id, rate_id), group in priced.items():
        rate = rate_of[rate_id]
        ids = tuple(sorted(e.entry_id for e in group))
        if rate.currency != currency:
            foreign_entries.extend(ids)
            continue
        quantity = hours(billed_seconds([e.duration_seconds for e in group], rounding))
        person = next((e.user_name or e.user_email for e in group if e.user_name), None)
        project = project_names.get(project_id or "", project_id or "No project")
        lines.append(
            Line(
                kind="time",
                description=f"{project} - {person or group[0].user_email or user_id}",
                project_id=project_id,
                user_id=user_id,
                quantity=quantity,
                unit_price=rate.hourly_rate,
                amount=line_amount(quantity, rate.hourly_rate, currency),
                entry_ids=ids,
                first_date=min(e.date for e in group),
                rate_source=rate.source,
                rounding=rounding,
            )
        )
    foreign_expenses: list[str] = []
    for expense in sorted(expenses, key=lambda e: (e.date, e.expense_id)):
        if expense.currency != currency:
            foreign_expenses.append(expense.expense_id)
            continue
        amount = round_money(expense.amount, currency)
        lines.append(
            Line(
                kind="expense",
                description=expense.description,
                project_id=expense.project_id,
                user_id=None,
                quantity=Decimal(1),
                unit_price=amount,
                amount=amount,
                expense_id=expense.expense_id,
                first_date=expense.date,
            )
        )
    if foreign_entries or foreign_expenses:
        problems.append(
            Problem(
                "currency_mismatch",
                f"some rates or expenses are not in the invoice's currency {currency}",
                entry_ids=tuple(foreign_entries),
                expense_ids=tuple(foreign_expenses),
            )
        )
    lines.sort(
        key=lambda line: (line.kind != "time", line.description, line.first_date or dt.date.min)
    )
    if not lines and not problems:
        problems.append(Problem("empty", "no billable hours or expenses in the period"))
    total = sum((line.amount for line in lines), Decimal(0))
    return Computed(currency, tuple(lines), total, tuple(problems))


def deletion_refusal(status: str, tool_status: str | None, tool_name: str) -> str | None:
    """Why the invoice cannot be deleted now (None: it can)."""
    if status == "deleted":
        return None
    if status == "exporting":
        return f"the invoice is being copied to {tool_name}; delete it there once it arrives"
    if status == "exported" and tool_status not in RELEASABLE_TOOL_STATUSES:
        return (
            f"the invoice is in {tool_name} ({tool_status}); delete or void it in {tool_name}"
            " first, then delete it here to mark its entries as uninvoiced"
        )
    return None


@dataclass(frozen=True, slots=True)
class ToolView:
    """What Timebridge last saw of the exported invoice in the tool."""

    tool_status: str | None
    number: str | None
    issue_date: dt.date | None
    tool_total: Decimal | None
    exported_total: Decimal
    tool_updated_at: dt.datetime | None
    gross_total: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ToolUpdate:
    tool_status: ToolInvoiceStatus
    number: str | None
    issue_date: dt.date | None
    tool_total: Decimal
    tool_updated_at: dt.datetime | None
    amount_changed: bool
    gross_total: Decimal | None = None
    """The total with tax the tool reports (kept as last seen while voided or deleted)."""


def tool_update(view: ToolView, seen: ToolInvoice) -> ToolUpdate | None:
    """What to record of ``seen`` (None: nothing new, or older than what is held).

    ``amount_changed`` is the article's warning: the tool's total differs from what was
    exported. Voiding and deleting change the status, not the amount: the last live total is
    kept, and no warning is raised for them.
    """
    if (
        seen.updated_at is not None
        and view.tool_updated_at is not None
        and seen.updated_at < view.tool_updated_at
    ):
        return None
    gone = seen.status in RELEASABLE_TOOL_STATUSES
    total = (
        (view.tool_total if view.tool_total is not None else view.exported_total)
        if gone
        else (seen.total)
    )
    update = ToolUpdate(
        tool_status=seen.status,
        number=seen.number or view.number,
        issue_date=seen.issue_date or view.issue_date,
        tool_total=total,
        tool_updated_at=seen.updated_at or view.tool_updated_at,
        amount_changed=total != view.exported_total,
        gross_total=view.gross_total if gone or seen.gross_total is None else seen.gross_total,
    )
    unchanged = (
        update.tool_status == view.tool_status
        and update.number == view.number
        and update.issue_date == view.issue_date
        and update.tool_total == view.tool_total
        and update.gross_total == view.gross_total
    )
    return None if unchanged else update


@dataclass(frozen=True, slots=True)
class Invoice:
    invoice_id: str
    workspace_id: str
    client_id: str
    connection_id: str
    provider: str
    period_start: dt.date
    period_end: dt.date
    issue_date: dt.date
    due_date: dt.date | None
    status: InvoiceStatus
    currency: str | None
    lines: tuple[Line, ...]
    """Frozen when the export was requested; empty while a draft (computed on read)."""
    total: Decimal | None
    export_requested_at: dt.datetime | None
    export_attempt: int
    export_error: str | None
    exported_at: dt.datetime | None
    provider_invoice_id: str | None
    tool_status: str | None
    number: str | None
    tool_issue_date: dt.date | None
    tool_total: Decimal | None
    tool_updated_at: dt.datetime | None
    amount_changed: bool
    tool_checked_at: dt.datetime | None
    deleted_at: dt.datetime | None
    created_by: str
    created_at: dt.datetime
    tool_gross_total: Decimal | None = None
    """What the customer owes in all, tax included, as the tool reports it."""
    overpaid: Decimal = Decimal(0)
    """What its payments settled beyond ``tool_gross_total`` (a credit), from the payments."""

    def due_total(self) -> Decimal:
        """What payments settle: the tool's total with tax, else without, else as exported."""
        for amount in (self.tool_gross_total, self.tool_total, self.total):
            if amount is not None:
                return amount
        return Decimal(0)

    def tool_view(self) -> ToolView:
        return ToolView(
            tool_status=self.tool_status,
            number=self.number,
            issue_date=self.tool_issue_date,
            tool_total=self.tool_total,
            exported_total=self.total or Decimal(0),
            tool_updated_at=self.tool_updated_at,
            gross_total=self.tool_gross_total,
        )
