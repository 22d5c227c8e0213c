"""Conflict-resolver settings: the only place this service reads its environment."""

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from timebridge_providers.everhour.client import RATE_LIMIT as EVERHOUR_LIMIT
from timebridge_providers.kit.clients import BudgetShares

from timebridge_common.config import HttpConfig, ServiceSettings


class Settings(BaseSettings, ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TB_", env_nested_delimiter="__", frozen=True)

    http: HttpConfig = HttpConfig(port=8003)
    budget: BudgetShares = Field(
        default=BudgetShares.of("conflict-resolver"),
        description="This service's share of each provider's request limit per credential",
    )
    encryption_key: SecretStr = Field(
        description="base64url 32-byte platform key: decrypts the connections' credentials"
    )
    write_lease_s: float = Field(
        default=60.0,
        gt=0,
        description="How long a write to one target record excludes other writers to it; an"
        " attempt that never came back is taken over after this",
    )
    everhour_requests_per_10s: int | None = Field(
        default=None,
        ge=2,
        description="Replaces this service's share of the Everhour budget (TB_BUDGET__EVERHOUR,"
        f" at most Everhour's documented {EVERHOUR_LIMIT[0]} per 10 s per API key) for an account"
        " with a raised limit or a sandbox; unset: the share",
    )
