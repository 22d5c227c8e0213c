"""The API's commands: what a Core admin asks the contracts service to do (validated input)."""

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

Id = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")]
Text = Annotated[str, Field(min_length=1, max_length=300)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Amount = Annotated[Decimal, Field(ge=0, le=Decimal("99999999999999"), decimal_places=4)]


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RateRuleIn(_Command):
    hourly_rate: Amount
    project_id: Id | None = None
    user_id: Id | None = Field(default=None, description="A user on the project (needs project_id)")
    task_type: Id | None = None

    @model_validator(mode="after")
    def _user_on_project(self) -> Self:
        if self.user_id is not None and self.project_id is None:
            raise ValueError("a user's rate is set on a project: give project_id too")
        return self


class ContractIn(_Command):
    title: Text
    client_id: Id | None = Field(
        default=None, description="A client mirrored from the accounting tool (ClientChanged)"
    )
    client_name: Text | None = Field(default=None, description="Free text, when not mirrored")
    currency: Currency
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    rate_card: list[RateRuleIn] = Field(default_factory=list, max_length=500)
    rounding_policy: Id | None = Field(
        default=None, description="Reference of the rounding policy invoicing applies"
    )

    @model_validator(mode="after")
    def _check(self) -> Self:
        if (self.client_id is None) == (self.client_name is None):
            raise ValueError("give exactly one of client_id (mirrored) and client_name")
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self


class ScopeItemIn(_Command):
    project_id: Id
    ticket_id: Id | None = Field(default=None, description="One ticket; none = the whole project")


class ScopeIn(_Command):
    name: Text
    items: list[ScopeItemIn] = Field(min_length=1, max_length=500)


class StatusIn(_Command):
    status: Literal["signed", "active", "ended"]
    at: dt.datetime | None = Field(default=None, description="When (signing: signed_at)")


class BudgetIn(_Command):
    target_kind: Literal["contract", "scope", "project"]
    target_id: Id
    unit: Literal["hours", "money"]
    amount: Amount
    period: Literal["total", "monthly"] = "total"
    thresholds: list[Annotated[int, Field(ge=1, le=1000)]] | None = Field(
        default=None, max_length=20, description="Percentages; default 50, 80, 100"
    )
    currency: Currency | None = None
    contract_id: Id | None = Field(
        default=None, description="For a project budget: the contract it belongs to"
    )

    @model_validator(mode="after")
    def _money_has_currency(self) -> Self:
        if self.unit == "hours" and self.currency is not None:
            raise ValueError("an hours budget has no currency")
        return self


class MilestoneIn(_Command):
    title: Text
    contract_id: Id | None = None
    due_date: dt.date | None = None


class ReachedIn(_Command):
    reached_at: dt.datetime | None = None
