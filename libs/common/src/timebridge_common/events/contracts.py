"""Events of the contracts product that reports react to (version 1).

Budgets, milestones and contracts live in the contracts service (its own issue); reporting
consumes these facts to trigger reports. They are defined here first so both sides can be built
in either order against the same published JSON Schemas.
"""

import datetime as dt
from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from timebridge_common.events.base import Event, UtcDatetime

_Id = Annotated[str, Field(min_length=1, max_length=200)]
_System = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{1,39}$", description="A system id")]
_Text = Annotated[str, Field(min_length=1, max_length=300)]


class ContractSigned(Event):
    """A contract (and the projects and budget it covers) was signed."""

    name: ClassVar[str] = "ContractSigned"
    version: ClassVar[int] = 1

    contract_id: _Id
    client_id: _Id | None = None
    project_ids: tuple[_Id, ...] = ()
    signed_at: UtcDatetime

    def partition_key(self) -> str:
        return f"{self.workspace_id}:{self.contract_id}"


class MilestoneReached(Event):
    """A project milestone was reached or completed."""

    name: ClassVar[str] = "MilestoneReached"
    version: ClassVar[int] = 1

    contract_id: _Id | None = None
    project_id: _Id
    milestone_id: _Id
    title: str = Field(default="", max_length=300)
    reached_at: UtcDatetime

    def partition_key(self) -> str:
        return f"{self.workspace_id}:{self.project_id}"


class BudgetThresholdCrossed(Event):
    """A project's spending crossed a threshold of its budget (e.g. 50, 80, 100 %).

    Published once per crossing; ``budget_revision`` re-arms the thresholds when the budget
    changes, so the same percentage of a new budget is a new crossing.
    """

    name: ClassVar[str] = "BudgetThresholdCrossed"
    version: ClassVar[int] = 1

    contract_id: _Id | None = None
    project_id: _Id
    threshold_percent: int = Field(ge=1, le=1000)
    budget_revision: int = Field(ge=1)
    budget_hours: Decimal | None = Field(default=None, decimal_places=4)
    budget_amount: Decimal | None = Field(default=None, decimal_places=4)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    spent_hours: Decimal = Field(decimal_places=4)
    spent_amount: Decimal | None = Field(default=None, decimal_places=4)
    crossed_at: UtcDatetime
    budget_id: _Id | None = Field(default=None, description="The budget (contracts service)")
    period: str | None = Field(
        default=None,
        pattern=r"^(total|[0-9]{4}-[0-9]{2})$",
        description="The budget period crossed in: total, or the month (YYYY-MM) of a monthly one",
    )
    crossing: int = Field(
        default=1,
        ge=1,
        description="The n-th crossing of this threshold in this revision and period: a threshold"
        " re-armed (consumption fell below it) and reached again is a new crossing",
    )

    def partition_key(self) -> str:
        return f"{self.workspace_id}:{self.project_id}"


class ContractObserved(Event):
    """A contract as the home work system announced it (its signed webhook or its API).

    Published by ingest, applied by the contracts service as the same contract each time (by
    ``source`` and ``external_id``): a draft's terms follow it, a signed one publishes
    ``ContractSigned`` once. ``source_version`` grows with every change in the source.
    """

    name: ClassVar[str] = "ContractObserved"
    version: ClassVar[int] = 1

    source: _System
    external_id: _Id
    title: _Text
    client_external_id: _Id | None = None
    client_name: _Text
    status: Literal["draft", "signed", "active", "ended"]
    signed_at: UtcDatetime | None = None
    start_date: dt.date
    end_date: dt.date | None = None
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    project_ids: tuple[_Id, ...] = Field(default=(), description="The projects it covers")
    updated_at: UtcDatetime
    source_version: int = Field(ge=1)
    observed_via: Literal["webhook", "poll"]

    def partition_key(self) -> str:
        return f"{self.workspace_id}:{self.source}:contract:{self.external_id}"


class MilestoneObserved(Event):
    """A project milestone as the home work system announced it (published by ingest); the
    contracts service keeps it and, once it is reached, publishes ``MilestoneReached`` once."""

    name: ClassVar[str] = "MilestoneObserved"
    version: ClassVar[int] = 1

    source: _System
    external_id: _Id
    project_id: _Id
    title: _Text
    due_date: dt.date | None = None
    reached_at: UtcDatetime | None = None
    updated_at: UtcDatetime
    source_version: int = Field(ge=1)
    observed_via: Literal["webhook", "poll"]

    def partition_key(self) -> str:
        return f"{self.workspace_id}:{self.source}:milestone:{self.external_id}"
