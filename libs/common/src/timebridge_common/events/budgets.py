"""A budget's definition as the contracts service holds it (version 1).

Published by contracts through its outbox whenever a budget is created or revised, and again
when what it covers grows (a scope added to a contract with a contract-wide budget). Reporting
keeps the latest per budget to show projects against their budgets; consumers order by
``(revision, changed_at)``, so a redelivered or older announcement changes nothing.
"""

from decimal import Decimal
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from timebridge_common.events.base import Event, UtcDatetime

_Id = Annotated[str, Field(min_length=1, max_length=200)]


class BudgetItem(BaseModel):
    """A project, or one ticket (task) of it, whose time counts against the budget."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    project_id: _Id
    ticket_id: _Id | None = None


class BudgetChanged(Event):
    """A budget was defined or changed: its terms and what it covers now."""

    name: ClassVar[str] = "BudgetChanged"
    version: ClassVar[int] = 1

    budget_id: _Id
    revision: int = Field(ge=1, description="Increases with every change of the terms")
    target_kind: Literal["contract", "scope", "project"]
    target_id: _Id
    contract_id: _Id | None = None
    items: tuple[BudgetItem, ...] = Field(
        default=(), max_length=5000, description="What counts against it (resolved from target)"
    )
    unit: Literal["hours", "money"]
    amount: Decimal = Field(decimal_places=4, description="Hours, or money in ``currency``")
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    period: Literal["total", "monthly"] = Field(
        description="total: once over the work; monthly: again every calendar month"
    )
    thresholds: tuple[int, ...] = Field(default=(), max_length=20)
    changed_at: UtcDatetime

    def partition_key(self) -> str:
        return f"{self.workspace_id}:budget:{self.budget_id}"
