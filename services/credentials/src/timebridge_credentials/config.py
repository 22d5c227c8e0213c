"""Credentials settings: the only place this service reads its environment."""

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from timebridge_common.config import HttpConfig, ServiceSettings


class OAuthAppConfig(BaseModel):
    """Timebridge's registered app at one OAuth provider (``TB_OAUTH_APPS__<NAME>__CLIENT_ID``).

    ``token_url`` and ``authorize_url`` override the provider package's token endpoint and
    consent page (``make dev``: a sandbox); ``redirect_uri`` is the callback registered with the
    provider (ingest's ``/v1/oauth/<provider>/callback`` for a tracker).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    client_id: str
    client_secret: SecretStr
    token_url: str | None = None
    redirect_uri: str | None = None
    authorize_url: str | None = None


class Settings(BaseSettings, ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TB_", env_nested_delimiter="__", frozen=True)

    http: HttpConfig = HttpConfig(port=8008)
    encryption_key: SecretStr = Field(
        description="base64url 32-byte key sealing every stored credential (AES-256-GCM)"
    )
    service_token: SecretStr = Field(
        description="Bearer token of the services that register connections and ask for access"
    )
    oauth_apps: dict[str, OAuthAppConfig] = Field(
        default_factory=dict, description="Timebridge's OAuth app per provider name"
    )
    refresh_margin_s: float = Field(
        default=300, gt=0, description="Refresh an access token this long before it expires"
    )
