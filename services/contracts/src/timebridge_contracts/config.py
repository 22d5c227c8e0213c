"""Contracts settings: the only place this service reads its environment."""

from pydantic_settings import BaseSettings, SettingsConfigDict

from timebridge_common.config import HttpConfig, ServiceSettings


class Settings(BaseSettings, ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TB_", env_nested_delimiter="__", frozen=True)

    http: HttpConfig = HttpConfig(port=8007)
