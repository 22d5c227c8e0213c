"""Ingest settings: the only place this service reads its environment."""

import datetime as dt

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from timebridge_providers.installed import registry
from timebridge_providers.kit.clients import BudgetShares
from timebridge_providers.kit.credentials import OwnerSettings

from timebridge_common.config import HttpConfig, ServiceSettings


class Settings(BaseSettings, ServiceSettings, OwnerSettings):
    model_config = SettingsConfigDict(env_prefix="TB_", env_nested_delimiter="__", frozen=True)

    http: HttpConfig = HttpConfig(port=8001)
    budget: BudgetShares = Field(
        default=BudgetShares.of("ingest"),
        description="This service's share of each provider's request limit per credential",
    )
    encryption_key: SecretStr = Field(
        description="base64url 32-byte key for credentials at rest (timebridge-common SecretBox)"
    )
    admin_token: SecretStr = Field(description="Bearer token of the admin API")
    webhook_tolerance_s: int = Field(
        default=300, ge=1, description="How old a signed webhook may be (replay protection)"
    )
    max_webhook_bytes: int = Field(default=1_048_576, ge=1024)
    publish_timeout_s: float = Field(
        default=10.0, gt=0, description="Answer 503 if Kafka has not acknowledged by then"
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8001",
        description="Where trackers reach this gateway (webhook URLs registered with them)",
    )
    console_url: str | None = Field(
        default=None,
        description="The console's base URL (TB_CONSOLE_URL): a browser coming back from an"
        " OAuth tracker's consent is sent to the integration's page (or, refused, a page saying"
        " why) instead of shown the callback's JSON",
    )
    everhour_api_url: str = "https://api.everhour.com"
    api_urls: dict[str, str] = Field(
        default_factory=dict,
        description="Base URL of a provider's API by name (TB_API_URLS); else its profile's",
    )
    default_tracker: str = Field(
        default="everhour", description="The tracker a connect request without a provider means"
    )
    connection_test_timeout_s: float = Field(
        default=10.0, gt=0, description="How long Test Connection waits for the tracker"
    )
    poll_tick_s: float = Field(default=15.0, gt=0, description="How often due polls are looked for")
    daily_sync_at: dt.time | None = Field(
        default=None,
        description="A fixed UTC time of the daily poll (frequency daily), e.g. 23:00;"
        " unset: the end of each workspace's day in its time zone",
    )
    poll_lookback_days: int = Field(
        default=31, ge=1, description="Days of tracker time each poll compares (no since-filter)"
    )

    def api_url(self, provider: str) -> str:
        """Where ``provider``'s API answers: configured, else the profile's documented URL."""
        configured = {"everhour": self.everhour_api_url, **self.api_urls}.get(provider)
        return configured or registry().get(provider).profile.default_base_url
