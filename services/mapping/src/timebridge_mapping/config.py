"""Mapping settings: the only place this service reads its environment."""

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from timebridge_common.config import HttpConfig, ServiceSettings


class Settings(BaseSettings, ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TB_", env_nested_delimiter="__", frozen=True)

    http: HttpConfig = HttpConfig(port=8002)
    encryption_key: SecretStr = Field(
        description="base64url 32-byte platform key: decrypts the connections' credentials"
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
