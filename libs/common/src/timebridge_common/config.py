"""Configuration groups shared by the services.

These are plain frozen models: each service nests them in its own pydantic-settings class (the
only place environment variables are read), e.g. ``TB_KAFKA__BOOTSTRAP_SERVERS``.
"""

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaConfig(_Frozen):
    bootstrap_servers: str = "127.0.0.1:19092"
    partitions: int = Field(default=3, ge=1, description="Partitions of topics we create")
    replication_factor: int = Field(default=1, ge=1)
    request_timeout_ms: int = 30_000
    group_prefix: str = Field(
        default="timebridge", description="Consumer groups are named <prefix>-<service>"
    )


class DatabaseConfig(_Frozen):
    url: SecretStr = SecretStr("postgresql://timebridge:timebridge@127.0.0.1:15432/timebridge")
    min_connections: int = 1
    max_connections: int = 10


class HttpConfig(_Frozen):
    host: str = "127.0.0.1"
    port: int = 8000


class TelemetryConfig(_Frozen):
    otlp_endpoint: str | None = Field(
        default=None, description="OTLP/HTTP traces endpoint; unset keeps spans in-process only"
    )
    log_level: str = "INFO"
    log_json: bool = True


class RetryConfig(_Frozen):
    """How a consumer retries a record that failed without being invalid.

    Such a record is retried until it succeeds, never dead-lettered (only invalid input is).
    ``max_attempts`` only decides when that counts as a stall: an error log line and the
    consumer shown in ``/readyz``.
    """

    max_attempts: int = Field(
        default=5,
        ge=1,
        description="Failed attempts of one record after which its consumer reports a stall",
    )
    initial_backoff_s: float = Field(default=0.5, gt=0)
    max_backoff_s: float = Field(default=30.0, gt=0)


class DlqLimitConfig(_Frozen):
    """The cut-off: stop consuming instead of dead-lettering everything (cf. arroyo's DlqLimit)."""

    max_invalid_ratio: float = Field(default=0.5, gt=0, le=1)
    window: int = Field(default=100, ge=1, description="Recent messages the ratio looks at")
    min_samples: int = Field(default=20, ge=1, description="Messages before the ratio applies")
    max_consecutive: int = Field(default=50, ge=1)


class ServiceSettings(BaseModel):
    """Fields every service has; each service's settings class inherits them.

    Services declare ``class Settings(BaseSettings, ServiceSettings)`` with the ``TB_`` prefix and
    ``__`` as the nesting delimiter, so the names are the same for every service and in every
    deployment (``make dev``, docker-compose, Helm): ``TB_KAFKA__BOOTSTRAP_SERVERS``,
    ``TB_DATABASE__URL``, ``TB_HTTP__PORT``, ``TB_TELEMETRY__OTLP_ENDPOINT``, ...
    """

    kafka: KafkaConfig = KafkaConfig()
    database: DatabaseConfig = DatabaseConfig()
    http: HttpConfig = HttpConfig()
    telemetry: TelemetryConfig = TelemetryConfig()
    retry: RetryConfig = RetryConfig()
    dlq_limit: DlqLimitConfig = DlqLimitConfig()
