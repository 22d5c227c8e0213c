"""Mapping settings: the only place this service reads its environment."""

import datetime as dt

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from timebridge_providers.kit.clients import BudgetShares
from timebridge_providers.kit.credentials import OwnerSettings

from timebridge_common.config import HttpConfig, ServiceSettings


class Settings(BaseSettings, ServiceSettings, OwnerSettings):
    model_config = SettingsConfigDict(env_prefix="TB_", env_nested_delimiter="__", frozen=True)

    http: HttpConfig = HttpConfig(port=8002)
    budget: BudgetShares = Field(
        default=BudgetShares.of("mapping"),
        description="This service's share of each provider's request limit per credential",
    )
    users_refresh_s: float = Field(
        default=900.0, gt=0, description="How often both sides' users are read again"
    )
    users_refresh_on_miss_s: float = Field(
        default=60.0,
        ge=0,
        description="An entry whose user matches nobody re-reads users older than this",
    )
    ticket_cache_s: float = Field(
        default=600.0, ge=0, description="How long a Core ticket read for its title is reused"
    )
    release_interval_s: float = Field(
        default=60.0, gt=0, description="How often held entries are retried unprompted"
    )
    daily_sync_at: dt.time | None = Field(
        default=None,
        description="A fixed UTC time of the daily sync slot (frequency daily), e.g. 23:00;"
        " unset: the end of each workspace's day in its time zone",
    )
    schedule_tick_s: float = Field(
        default=15.0, gt=0, description="How often entries waiting for a sync slot are looked at"
    )
    batch_max_records: int = Field(
        default=500,
        ge=1,
        le=5000,
        description="Time entry events handled in one transaction (one poll's records) at most",
    )
