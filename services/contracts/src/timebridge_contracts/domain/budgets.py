"""Budgets and their thresholds: what an entry contributes, and when a threshold is crossed.

Pure functions. A budget counts hours (all time logged against its target) or money (billable
time x the contract's rate card), in total or per calendar month. Each threshold (a percentage
of the budget) is *armed* until consumption reaches it; then it fires once and stays fired
until consumption drops below it again (an entry edited down or deleted re-arms it) or the
budget gets a new revision (a revision starts with every threshold armed). A monthly budget's
thresholds are kept per month, so a new month starts armed.
"""

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

Unit = Literal["hours", "money"]
Period = Literal["total", "monthly"]
TargetKind = Literal["contract", "scope", "project"]

DEFAULT_THRESHOLDS = (50, 80, 100)
TOTAL = "total"
_HOUR = Decimal(3600)
_CENT = Decimal("0.0001")


@dataclass(frozen=True, slots=True)
class ScopeItem:
    """A project, or one ticket (task) of it, that counts against a scope."""

    project_id: str
    ticket_id: str | None = None

    def covers(self, project_id: str | None, ticket_id: str | None) -> bool:
        if project_id != self.project_id:
            return False
        return self.ticket_id is None or self.ticket_id == ticket_id


@dataclass(frozen=True, slots=True)
class RateRule:
    """An hourly rate of a contract's rate card: the most specific matching rule wins
    (user on a project > project > task type > default)."""

    hourly_rate: Decimal
    project_id: str | None = None
    user_id: str | None = None
    task_type: str | None = None

    def specificity(self) -> int:
        return (
            (4 if self.user_id and self.project_id else 0)
            + (2 if self.project_id else 0)
            + (1 if self.task_type else 0)
        )

    def matches(self, project_id: str | None, user_id: str | None) -> bool:
        if self.task_type is not None:  # Core entries carry no task type yet
            return False
        if self.project_id is not None and self.project_id != project_id:
            return False
        return self.user_id is None or self.user_id == user_id


def rate_for(card: Sequence[RateRule], project_id: str | None, user_id: str | None) -> Decimal:
    """The hourly rate of the most specific matching rule; 0 when none matches."""
    matching = [r for r in card if r.matches(project_id, user_id)]
    if not matching:
        return Decimal(0)
    return max(matching, key=RateRule.specificity).hourly_rate


@dataclass(frozen=True, slots=True)
class Contribution:
    """One time entry's current version as a budget sees it (zero seconds once deleted)."""

    entry_id: str
    project_id: str | None
    ticket_id: str | None
    user_id: str | None
    day: dt.date
    seconds: int
    billable: bool


@dataclass(frozen=True, slots=True)
class Budget:
    workspace_id: str
    budget_id: str
    target_kind: TargetKind
    target_id: str
    unit: Unit
    amount: Decimal
    period: Period
    thresholds: tuple[int, ...]
    revision: int
    currency: str | None = None
    contract_id: str | None = None


def period_key(budget: Budget, day: dt.date) -> str:
    """The period a day's time counts in: ``total`` or the month (``2026-11``)."""
    return TOTAL if budget.period == "total" else f"{day.year:04d}-{day.month:02d}"


def in_period(key: str, day: dt.date) -> bool:
    return key in {TOTAL, f"{day.year:04d}-{day.month:02d}"}


@dataclass(frozen=True, slots=True)
class Consumption:
    hours: Decimal
    amount: Decimal

    def of(self, unit: Unit) -> Decimal:
        return self.hours if unit == "hours" else self.amount


def consumption(
    key: str,
    entries: Iterable[Contribution],
    card: Sequence[RateRule] = (),
) -> Consumption:
    """Hours of every entry, and the money of billable ones, in the period ``key``."""
    seconds = 0
    amount = Decimal(0)
    for entry in entries:
        if not in_period(key, entry.day) or entry.seconds <= 0:
            continue
        seconds += entry.seconds
        if entry.billable:
            rate = rate_for(card, entry.project_id, entry.user_id)
            amount += Decimal(entry.seconds) / _HOUR * rate
    hours = (Decimal(seconds) / _HOUR).quantize(_CENT)
    return Consumption(hours=hours, amount=amount.quantize(_CENT))


@dataclass(frozen=True, slots=True)
class Decision:
    """What changes: thresholds that fire now, and fired ones re-armed (consumption fell)."""

    crossed: tuple[int, ...]
    rearmed: tuple[int, ...]
    fired: frozenset[int]


def decide(
    thresholds: Iterable[int], budget_amount: Decimal, consumed: Decimal, fired: Iterable[int]
) -> Decision:
    """The crossing decision for one budget revision and period.

    A threshold ``t`` is reached when ``consumed >= amount x t / 100``. A reached threshold not
    yet fired crosses now (once); a fired threshold no longer reached is re-armed. A budget of 0
    is reached by any consumption above 0 (nothing can be spent "within" it).
    """
    before = frozenset(fired)
    reached = frozenset(t for t in thresholds if _reached(t, budget_amount, consumed))
    crossed = tuple(sorted(reached - before))
    rearmed = tuple(sorted(before - reached))
    return Decision(crossed=crossed, rearmed=rearmed, fired=reached)


def _reached(threshold: int, budget_amount: Decimal, consumed: Decimal) -> bool:
    if budget_amount <= 0:
        return consumed > 0
    return consumed * 100 >= budget_amount * threshold


def normalise_thresholds(values: Iterable[int] | None) -> tuple[int, ...]:
    return tuple(sorted(set(values))) if values else DEFAULT_THRESHOLDS
