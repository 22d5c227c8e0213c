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
