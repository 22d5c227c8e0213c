"""Conflict-resolver settings: the only place this service reads its environment."""

from typing import Annotated

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from timebridge_providers.kit.clients import BudgetShares, limits
from timebridge_providers.kit.credentials import OwnerSettings

from timebridge_common.config import HttpConfig, ServiceSettings


class Settings(BaseSettings, ServiceSettings, OwnerSettings):
    model_config = SettingsConfigDict(env_prefix="TB_", env_nested_delimiter="__", frozen=True)

    http: HttpConfig = HttpConfig(port=8003)
    budget: BudgetShares = Field(
        default=BudgetShares.of("conflict-resolver"),
        description="This service's share of each provider's request limit per credential",
    )
    budget_borrow: bool = Field(
        default=True,
        description="Run at a credential's whole request limit while the other services leave"
        " their shares unused; back to this service's share for a minute after a 429",
    )
    write_lease_s: float = Field(
        default=60.0,
        gt=0,
        description="How long a write to one target record excludes other writers to it; an"
        " attempt that never came back is taken over after this",
    )
    sync_concurrency: int = Field(
        default=8,
        ge=1,
        description="Changes written at once (lanes of a batch, per process); keep it below"
        " the database pool size (TB_DATABASE__MAX_CONNECTIONS), which each change draws on",
    )
    sync_request_latency_s: float = Field(
        default=0.3,
        gt=0,
        description="A provider request's round trip: lanes of one credential at once are"
        " about its requests per second x this + 1 (more would only wait on its budget)",
    )
    sync_shared_writers: int = Field(
        default=32,
        ge=1,
        description="Lanes of one credential sharing their look-ups and read-backs where the"
        " provider lists its records (each holds its write lease until the shared read-back)",
    )
    sync_batch_max_records: int = Field(
        default=200, ge=1, description="EntryMapped records per batch at most"
    )
    raised_limits: dict[str, Annotated[int, Field(ge=2)]] = Field(
        default_factory=dict,
        description="Per provider, requests per the provider's window that replace this"
        " service's share (TB_BUDGET__<PROVIDER>), for an account with a raised limit or a"
        " sandbox (TB_RAISED_LIMITS__<PROVIDER>=100000); unset: the share",
    )

    def request_rate(self, provider: str) -> float:
        """Requests per second one credential of ``provider`` allows this service: a raised
        limit, the whole limit when it borrows, else its share."""
        requests, window = limits()[provider]
        if provider in self.raised_limits:
            requests = self.raised_limits[provider]
        elif not self.budget_borrow and provider in self.budget.root:
            requests = self.budget.limit(provider)[0]
        return requests / window
