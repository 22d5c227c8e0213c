"""Report definitions and their schedules: when a report fires, for which period.

Schedules are wall-clock times in the workspace's time zone: a weekly report at Monday 07:00
Europe/Berlin fires at 06:00 UTC in winter and 05:00 UTC in summer. Fire times are computed on
naive local times (croniter) and only then placed in the zone, so a DST change neither skips nor
doubles a fire: a local time that does not exist (spring) fires as late as the gap is long,
one that exists twice (autumn) fires once, at its first occurrence.
"""

import datetime as dt
import re
import zoneinfo
from typing import Annotated, Literal

from croniter import croniter  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from timebridge_common.events.base import IanaTimezone
from timebridge_reporting.domain.report_model import Period, ReportParams

Trigger = Literal[
    "invoice_exported",
    "invoice_sent",
    "invoice_paid",
    "milestone_reached",
    "budget_threshold_crossed",
    "contract_signed",
]
Coverage = Literal["previous_day", "previous_week", "previous_month", "month_to_date"]
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class Schedule(BaseModel):
    """End of day, weekly, monthly, or a cron expression, at a local time of the workspace."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["end_of_day", "weekly", "monthly", "cron"]
    at: dt.time = Field(default=dt.time(7, 0), description="Local time (not with cron)")
    weekday: Literal[WEEKDAYS] = "monday"  # type: ignore[valid-type]
    day_of_month: int = Field(default=1, ge=1, le=28)
    cron: str | None = Field(default=None, description="5-field cron, local time (kind=cron)")
    timezone: IanaTimezone = "UTC"
    covers: Coverage | None = Field(
        default=None, description="Default: the day, week or month that just ended"
    )

    @model_validator(mode="after")
    def _cron_when_needed(self) -> "Schedule":
        if self.kind == "cron":
            if not self.cron or not croniter.is_valid(self.cron) or len(self.cron.split()) != 5:
                raise ValueError("kind=cron needs a valid 5-field cron expression")
            try:  # valid but impossible (30 February) would never fire: refuse it now
                croniter(self.cron, dt.datetime(2026, 1, 1)).get_next(dt.datetime)  # noqa: DTZ001
            except Exception:  # croniter raises its own error types for these
                raise ValueError("the cron expression never fires") from None
        elif self.cron is not None:
            raise ValueError("cron is only for kind=cron")
        return self

    def expression(self) -> str:
        if self.kind == "cron":
            assert self.cron is not None
            return self.cron
        minute, hour = self.at.minute, self.at.hour
        if self.kind == "end_of_day":
            return f"{minute} {hour} * * *"
        if self.kind == "weekly":
            return f"{minute} {hour} * * {(WEEKDAYS.index(self.weekday) + 1) % 7}"
        return f"{minute} {hour} {self.day_of_month} * *"

    def coverage(self) -> Coverage:
        if self.covers is not None:
            return self.covers
        return {"end_of_day": "previous_day", "weekly": "previous_week"}.get(
            self.kind, "previous_month" if self.kind == "monthly" else "previous_day"
        )  # type: ignore[return-value]

    def next_fire(self, after: dt.datetime) -> dt.datetime:
        """The first fire strictly after ``after`` (aware), as an aware UTC datetime."""
        zone = zoneinfo.ZoneInfo(self.timezone)
        local = after.astimezone(zone).replace(tzinfo=None)
        candidates = croniter(self.expression(), local - dt.timedelta(hours=3))
        while True:
            naive: dt.datetime = candidates.get_next(dt.datetime)
            fire = _place(naive, zone)
            if fire > after:
                return fire

    def last_fire(self, at_or_before: dt.datetime) -> dt.datetime | None:
        """The latest fire at or before ``at_or_before`` (within a year), for catching up."""
        zone = zoneinfo.ZoneInfo(self.timezone)
        local = at_or_before.astimezone(zone).replace(tzinfo=None)
        candidates = croniter(self.expression(), local + dt.timedelta(hours=3))
        for _ in range(1000):
            naive: dt.datetime = candidates.get_prev(dt.datetime)
            fire = _place(naive, zone)
            if fire <= at_or_before:
                return fire
            if (at_or_before - fire).days > 366:
                break
        return None


def _place(naive: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """A local wall-clock time as UTC: twice-existing times take their first occurrence (fold 0),
    times in a spring gap the instant the old offset gives them (02:30 becomes 03:30)."""
    return naive.replace(tzinfo=zone, fold=0).astimezone(dt.UTC)


def covered_period(coverage: Coverage, local_day: dt.date, week_start: str = "monday") -> Period:
    """The period a fire on ``local_day`` reports on."""
    if coverage == "previous_day":
        day = local_day - dt.timedelta(1)
        return Period(start=day, end=day)
    if coverage == "previous_week":
        offset = local_day.weekday() if week_start == "monday" else (local_day.weekday() + 1) % 7
        this_week = local_day - dt.timedelta(offset)
        return Period(start=this_week - dt.timedelta(7), end=this_week - dt.timedelta(1))
    first = local_day.replace(day=1)
    if coverage == "month_to_date":
        return Period(start=first, end=local_day)
    last_month_end = first - dt.timedelta(1)
    return Period(start=last_month_end.replace(day=1), end=last_month_end)


def _printable(value: str) -> str:
    """Names go into mail headers and the database: no line breaks, no control characters."""
    if re.search(r"[\x00-\x1f\x7f]", value):
        raise ValueError("control characters (line breaks included) are not allowed")
    return value


Email = Annotated[
    str,
    Field(
        pattern=r"^[^@\s<>,;:\"\x00-\x1f\x7f]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$",
        max_length=320,
    ),
]


class DefinitionBody(BaseModel):
    """What an admin defines: the report, its formats, recipients, schedule and triggers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=120)
    params: ReportParams
    formats: tuple[Literal["json", "csv", "xlsx", "pdf"], ...] = Field(
        default=("pdf", "csv"), min_length=1
    )
    recipients: tuple[Email, ...] = Field(default=(), max_length=50)
    schedule: Schedule | None = None
    triggers: tuple[Trigger, ...] = ()
    timezone: IanaTimezone = Field(default="UTC", description="For periods of triggered runs")
    default_coverage: Coverage = Field(
        default="previous_week", description="The period of a run now or an emailed request"
    )

    _name = field_validator("name")(_printable)
