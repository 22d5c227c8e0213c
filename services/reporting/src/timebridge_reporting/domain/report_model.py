"""What a report is: tables of exact values, with its period, freshness and what it left out.

Every format (JSON, CSV, XLSX, PDF) renders the same ``Report``, so their totals cannot differ.
Seconds and money are exact (``int``, ``Decimal``); hours are a display column rounded to the
workspace's precision, never summed.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Id = Annotated[str, Field(pattern=r"^[^\x00-\x1f\x7f]{1,200}$")]
"""A client, project or user id as the sources give them: printable, bounded."""
ReportKind = Literal["time", "utilization", "billing", "performance", "reconciliation"]
Value = str | int | Decimal | dt.date | None


class Period(BaseModel):
    """Days ``start`` to ``end``, both included, in the workspace's calendar."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> "Period":
        if self.end < self.start:
            raise ValueError("the period ends before it starts")
        if (self.end - self.start).days > 366:
            raise ValueError("a report covers at most one year")
        return self

    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(n) for n in range((self.end - self.start).days + 1)]

    def label(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


class ReportParams(BaseModel):
    """What a definition asks for (also the body of an ad-hoc run)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ReportKind
    group_by: Literal["client", "project", "task", "user"] = "project"
    interval: Literal["day", "week", "month", "total"] = "total"
    source: str = Field(
        default="core", pattern=r"^[a-z][a-z0-9_-]{1,39}$", description="Whose entries to count"
    )
    clients: tuple[Id, ...] = Field(
        default=(), max_length=100, description="Only these client ids (empty: all)"
    )
    projects: tuple[Id, ...] = Field(
        default=(), max_length=100, description="Only these project ids"
    )
    capacity_hours_per_day: Decimal = Field(default=Decimal(8), ge=0, le=24)
    capacity_hours: dict[Id, Annotated[Decimal, Field(ge=0, le=24)]] = Field(
        default_factory=dict, max_length=1000, description="Per user id: hours per working day"
    )
    week_start: Literal["monday", "sunday"] = "monday"
    hours_precision: int = Field(default=2, ge=0, le=4, description="Displayed hours' decimals")


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]
    rows: list[tuple[Value, ...]]
    totals: tuple[Value, ...] | None = None

    def as_dicts(self) -> list[dict[str, Value]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


@dataclass(frozen=True)
class Chart:
    """One bar chart: a label per bar and one or more stacked series (seconds)."""

    title: str
    labels: list[str]
    series: dict[str, list[int]]


@dataclass(frozen=True)
class Report:
    kind: ReportKind
    title: str
    workspace_id: str
    period: Period
    fresh_up_to: dt.datetime | None
    """The time up to which the reporting service has seen this workspace's events."""
    excluded: dict[str, int]
    """What was left out and why (unmapped, queued, in conflict, running timers, ...)."""
    tables: list[Table]
    notes: list[str] = field(default_factory=list)
    chart: Chart | None = None

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)


def hours(seconds: int, precision: int = 2) -> Decimal:
    """Display hours, rounded half up to ``precision`` decimals."""
    return (Decimal(seconds) / 3600).quantize(Decimal(1).scaleb(-precision), ROUND_HALF_UP)


def bucket(day: dt.date, interval: str, week_start: str = "monday") -> dt.date | None:
    """The first day of the day/week/month ``day`` falls in; ``None`` for the whole period."""
    if interval == "day":
        return day
    if interval == "week":
        offset = day.weekday() if week_start == "monday" else (day.weekday() + 1) % 7
        return day - dt.timedelta(offset)
    if interval == "month":
        return day.replace(day=1)
    return None


def working_days(period: Period) -> int:
    """Monday to Friday in the period (time off subtracted once an HR source provides it)."""
    return sum(1 for d in period.days() if d.weekday() < 5)
