"""Console settings: the only place the console reads its environment.

The console has no database and no Kafka: it is a client of the services' public HTTP APIs,
so its settings are where it listens, where each service answers, and the session key.
"""

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from timebridge_common.config import HttpConfig, TelemetryConfig


class ServiceUrls(BaseModel):
    """Base URLs of the services' public APIs (``TB_SERVICES__INGEST_URL``, ...).

    Other services' URLs (a launcher may set one for every service) are ignored.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    ingest_url: str = "http://127.0.0.1:8001"
    mapping_url: str = "http://127.0.0.1:8002"
    conflict_resolver_url: str = "http://127.0.0.1:8003"
    invoice_export_url: str = "http://127.0.0.1:8004"
    reporting_url: str = "http://127.0.0.1:8005"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TB_", env_nested_delimiter="__", frozen=True)

    http: HttpConfig = HttpConfig(port=8006)
    telemetry: TelemetryConfig = TelemetryConfig()
    services: ServiceUrls = ServiceUrls()
    session_key: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="A random secret of 32+ characters; its SHA-256 encrypts the session cookie"
        " (AES-256-GCM). Unset: a random key per process, so sessions end when the console"
        " restarts. Replicas of the console must share one.",
    )
    session_ttl_s: int = Field(default=8 * 3600, ge=60, description="Sign-in lifetime")
    secure_cookies: bool = Field(
        default=False, description="Mark the session cookie Secure (set it behind HTTPS)"
    )
    api_timeout_s: float = Field(default=15.0, gt=0, description="Per call to a service")
