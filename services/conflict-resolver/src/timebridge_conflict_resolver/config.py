"""Conflict-resolver settings: the only place this service reads its environment."""

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from timebridge_common.config import HttpConfig, ServiceSettings


class Settings(BaseSettings, ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TB_", env_nested_delimiter="__", frozen=True)

    http: HttpConfig = HttpConfig(port=8003)
    encryption_key: SecretStr = Field(
        description="base64url 32-byte platform key: decrypts the connections' credentials"
    )
    write_lease_s: float = Field(
        default=60.0,
        gt=0,
        description="How long a write to one target record excludes other writers to it; an"
        " attempt that never came back is taken over after this",
    )
